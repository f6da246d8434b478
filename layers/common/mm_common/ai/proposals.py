"""Proposals: an assistant answer's file changes, applied atomically when approved.

Applying re-reads the answer's actions, applies them to the current working copy in memory,
then writes every change and records a version, all in one transaction. If a file the answer
touched has changed since the answer was made, the proposal is stale: 409, unless none of the
touched files changed (then it re-applies cleanly). The decision itself is recorded on the
message through :mod:`mm_common.messages`; files change through :mod:`mm_common.working_copy`.
"""

from __future__ import annotations

import json
from typing import Any

from mm_common import messages, versions, working_copy
from mm_common.db import Connection
from mm_common.errors import Conflict
from mm_common.snapshots import sha256_hex


def _package_json(text: str | None, added: dict[str, str]) -> str | None:
    """package.json with the dependencies the answer added (versions resolved when it was made).
    409 when the project's package.json is not a JSON object with a "dependencies" object (the
    user fixes it, then approves again)."""
    if not added:
        return None
    try:
        manifest: Any = json.loads(text) if text else {"name": "app", "private": True}
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        manifest = None
    dependencies = manifest.setdefault("dependencies", {}) if isinstance(manifest, dict) else None
    if not isinstance(dependencies, dict):
        raise Conflict(
            'The project\'s package.json is not a JSON object with a "dependencies" object, so the '
            "dependencies this answer adds cannot go in it. Fix package.json, then approve again.",
            code="invalid_package_json",
        )
    dependencies.update(added)
    manifest["dependencies"] = dict(sorted(dependencies.items()))
    return json.dumps(manifest, indent=2) + "\n"


def approve(conn: Connection, message_id: Any, user_id: Any) -> dict[str, Any]:
    """Apply the proposal; return the new version's row."""
    message = messages.pending_proposal(conn, message_id)
    project_id, organization_id = message["project_id"], message["organization_id"]
    project = versions.lock_project(conn, project_id)
    current = {
        r["path"]: r["content"]
        for r in conn.execute(
            "SELECT path, content FROM project_files WHERE project_id = %s AND content IS NOT NULL", (project_id,)
        ).fetchall()
    }
    baseline: dict[str, str | None] = message["proposal"].get("baseline", {})
    moved = [p for p, sha in baseline.items() if (sha256_hex(current[p].encode()) if p in current else None) != sha]
    if moved:
        raise Conflict(
            "The project changed since this answer was made: " + ", ".join(sorted(moved)) + " changed. "
            "Ask again so the AI sees the current files.",
            code="stale_proposal",
            details={"changedFiles": sorted(moved)},
        )
    # The edit protocol's parser when an approval needs it, not at every cold start of the chats function.
    from mm_common.ai.edit_protocol import apply_actions as apply_in_memory
    from mm_common.ai.edit_protocol import parse_answer

    parsed = parse_answer(message["content"])
    result = apply_in_memory(current, list(parsed.actions))
    resolved = message["proposal"].get("dependencies") or {}
    package_json = _package_json(result.files.get("package.json"), resolved if isinstance(resolved, dict) else {})
    if package_json is not None:
        result.files["package.json"] = package_json
    working_copy.delete_paths(conn, project_id, set(current) - set(result.files))  # deleted, or renamed away
    for path, text in sorted(result.files.items()):
        if current.get(path) != text:
            data = text.encode("utf-8")
            working_copy.write(
                conn,
                organization_id=organization_id,
                project_id=project_id,
                path=path,
                body=working_copy.FileBytes(data, is_text=True),
            )
    version = versions.create_version(
        conn,
        project_id,
        source="ai",
        message=parsed.summary or "AI changes",
        created_by=user_id,
        message_id=message_id,
    )
    messages.record_approval(
        conn,
        message_id,
        source_version_id=project["current_version_id"],
        result_version_id=version["id"],
        outcomes=[{"ok": o.ok, "error": o.error} for o in result.outcomes],
    )
    return version


def reject(conn: Connection, message_id: Any) -> None:
    messages.pending_proposal(conn, message_id)
    messages.record_rejection(conn, message_id)
