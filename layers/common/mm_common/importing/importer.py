"""Importing one desktop app into a project: its git history as versions, its chats and messages, and the
user's prompt library.

Each commit on ``main`` (first-parent, oldest first) becomes a version with the commit's message and time and
exactly the files of its tree (dependencies, build output and oversized files left out and reported). Blobs
are content-addressed, so a history of many commits stores each distinct content once. The last commit
becomes the working copy. Chats and messages follow in the desktop app's order; each message's commit hashes
are resolved to our versions through the commit map, so undo, restore and "what did this turn change" work
on an imported chat as on a native one.

Work is committed in steps (a batch of commits, one chat, one prompt), each with its ``import_items`` rows:
a job delivered again, or resumed after a crash, skips what is done and never duplicates it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mm_common import (
    crypto,
    db,
    design_systems,
    imports,
    messages,
    preview_builds,
    projects,
    prompts,
    snapshots,
    versions,
    working_copy,
)
from mm_common.importing.desktop_db import DesktopDatabase, DesktopMessage
from mm_common.importing.git_history import HistoryCommit, ImportRepository

# Commits recorded per transaction: large enough to be fast, small enough that a redelivery redoes little.
COMMIT_BATCH = 50
# How many skipped paths a warning names (the count says the rest).
NAMED_PATHS = 5
IMPORTED_TEMPLATE = "imported"
APPROVAL_STATES = {"approved", "rejected"}
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class ImportOptions:
    """The spec's dialog: what to bring over (custom models are only listed, never added to the catalog)."""

    chats: bool = True
    files: bool = True
    prompts: bool = True
    # The .env files of the last commit as sealed project variables (never as files).
    env_vars: bool = False


def commit_source_id(app_id: int, sha: str) -> str:
    return f"{app_id}:{sha}"


def import_app(
    import_app_id: Any,
    *,
    database: DesktopDatabase,
    repository: ImportRepository | None,
    options: ImportOptions,
    user_id: Any,
) -> dict[str, Any]:
    """Import one chosen app (the ``import_apps`` row); return its counts. Safe to run again."""
    with db.transaction() as conn:
        app = imports.get_app(conn, import_app_id, lock=True)
        assert app is not None
        if app["status"] == "completed":
            return dict(app["counts"])
        the_import = imports.get_import(conn, app["import_id"])
        assert the_import is not None
        imports.app_progress(conn, import_app_id, status="importing", stage="project")
        project_id = app["project_id"]
        if project_id is None:
            project = projects.insert_project(
                conn,
                organization_id=the_import["organization_id"],
                name=app["project_name"],
                description="Imported from the desktop app.",
                template=IMPORTED_TEMPLATE,
                install_command="npm install",
                build_command="npm run build",
                start_command=None,
                created_by=user_id,
            )
            project_id = project["id"]
            imports.set_app_project(conn, import_app_id, project_id)
    organization_id = the_import["organization_id"]
    import_id = app["import_id"]
    source_app_id = int(app["source_app_id"])
    counts: dict[str, int] = {}
    warnings: list[str] = []

    if options.files and repository is not None:
        history = repository.history()
        counts.update(
            _import_history(
                import_app_id, import_id, source_app_id, organization_id, project_id, history, repository, user_id
            )
        )
        warnings += _skipped_warnings(history)
        if options.env_vars and history:
            counts["variables"] = _import_variables(project_id, history[-1], repository)
        if history and _import_theme(import_id, source_app_id, project_id, organization_id, database, user_id):
            counts["designSystems"] = 1
    else:
        _ensure_first_version(project_id, user_id)
    if options.chats:
        chat_counts, chat_warnings = _import_chats(
            import_app_id, import_id, source_app_id, project_id, database, user_id
        )
        counts.update(chat_counts)
        warnings += chat_warnings
    with db.transaction() as conn:
        imports.app_progress(conn, import_app_id, status="completed", stage="done", counts=counts, warnings=warnings)
    return counts


def import_prompts(import_id: Any, *, database: DesktopDatabase, user_id: Any) -> int:
    """The desktop app's prompt library into the user's; how many prompts were added by this call."""
    added = 0
    with db.transaction() as conn:
        done = imports.items(conn, import_id, "prompt")
    for prompt in database.prompts():
        if str(prompt.id) in done:
            continue
        with db.transaction() as conn:
            row = prompts.insert_prompt(
                conn,
                {
                    "title": prompt.title[:255] or "Imported prompt",
                    "description": prompt.description,
                    "content": prompt.content,
                    "category": "Imported",
                    "is_public": False,
                },
                user_id,
                created_at=prompt.created_at,
            )
            imports.record_item(conn, import_id, "prompt", str(prompt.id), row["id"])
        added += 1
    return added


# ------------------------------------------------------------------------------------------------- history


def _import_history(
    import_app_id: Any,
    import_id: Any,
    source_app_id: int,
    organization_id: Any,
    project_id: Any,
    history: list[HistoryCommit],
    repository: ImportRepository,
    user_id: Any,
) -> dict[str, int]:
    with db.transaction() as conn:
        done = imports.items(conn, import_id, "commit", [commit_source_id(source_app_id, c.sha) for c in history])
    # Git blob id → (sha256, size): each distinct content is read and hashed once.
    hashed: dict[str, tuple[str, int]] = {}
    last_manifest: snapshots.Manifest = {}
    last_version_id = None
    remaining = [commit for commit in history if commit_source_id(source_app_id, commit.sha) not in done]
    recorded = len(history) - len(remaining)
    for batch in _chunks(remaining, COMMIT_BATCH):
        blobs: dict[str, bytes] = {}
        for commit in batch:
            for entry in commit.files.values():
                if entry.blob_id not in hashed:
                    data = repository.read_blob(entry.blob_id)
                    sha = snapshots.sha256_hex(data)
                    hashed[entry.blob_id] = (sha, len(data))
                    blobs[sha] = data
        with db.transaction() as conn:
            snapshots.upload_blobs(conn, organization_id, blobs)
            for commit in batch:
                manifest = _manifest(commit, hashed)
                version = versions.create_version_from_manifest(
                    conn,
                    project_id,
                    manifest,
                    source="import",
                    message=commit.message.strip() or None,
                    created_by=user_id,
                    created_at=commit.authored_at,
                    announce=False,
                )
                imports.record_item(
                    conn, import_id, "commit", commit_source_id(source_app_id, commit.sha), version["id"]
                )
                last_manifest, last_version_id = manifest, version["id"]
            recorded += len(batch)
            imports.app_progress(conn, import_app_id, stage="versions", counts={"versions": recorded})
    if history:
        with db.transaction() as conn:
            if last_version_id is None:  # every commit was recorded by an earlier delivery
                last_version_id = done[commit_source_id(source_app_id, history[-1].sha)]
            # Once a later version exists (the theme's design system), the working copy is past the history.
            if versions.lock_project(conn, project_id)["current_version_id"] == last_version_id:
                if not last_manifest:
                    last_manifest = snapshots.get_manifest(
                        versions.get_version(conn, project_id, last_version_id)["manifest_key"]
                    )
                # The last commit's contents are at hand in the repository: no need to read them back from S3.
                contents = {
                    hashed[e.blob_id][0]: repository.read_blob(e.blob_id)
                    for e in history[-1].files.values()
                    if e.blob_id in hashed
                }
                working_copy.match_manifest(conn, organization_id, project_id, last_manifest, contents)
                # The earlier versions were recorded quietly: the mirror catches up on all of them from this one.
                versions.enqueue_mirror(project_id, last_version_id)
                preview_builds.queue_build(conn, project_id, last_version_id)
    skipped = {item.path for commit in history for item in commit.skipped}
    return {"versions": len(history), "files": len(history[-1].files) if history else 0, "skippedFiles": len(skipped)}


def _import_theme(
    import_id: Any, source_app_id: int, project_id: Any, organization_id: Any, database: DesktopDatabase, user_id: Any
) -> bool:
    """The app's custom theme (a style prompt in the desktop app) as the project's design system, generated
    from that prompt and recorded as a version after the history; whether the project has it."""
    app = next((a for a in database.apps() if a.id == source_app_id), None)
    theme = next((t for t in database.themes() if app is not None and str(t.id) == app.theme_id), None)
    if theme is None:
        return False
    key = f"{source_app_id}:{theme.id}"
    with db.transaction() as conn:
        if imports.items(conn, import_id, "theme", [key]):
            return True
        project_name = conn.execute("SELECT name FROM projects WHERE id = %s", (project_id,)).fetchone()
    assert project_name is not None
    # Generated outside the transaction: the engine takes a moment, and a failure leaves the project as it is.
    document = design_systems.try_generate(theme.prompt, project_name["name"])
    if document is None:
        return False
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM design_systems WHERE project_id = %s", (project_id,)).fetchone():
            return False  # the history brought none, but a design system exists: leave it
        revision = design_systems.adopt_for_new_project(
            conn, organization_id=organization_id, project_id=project_id, document=document, user_id=user_id
        )
        version = versions.create_version(
            conn,
            project_id,
            source="import",
            message=f"Design system from the desktop app's theme \u201c{theme.name}\u201d",
            created_by=user_id,
        )
        design_systems.record_version(conn, revision["id"], version["id"])
        imports.record_item(conn, import_id, "theme", key, revision["id"])
    return True


def _ensure_first_version(project_id: Any, user_id: Any) -> None:
    """A project imported without its files still starts with a version (an empty one), as every project does."""
    with db.transaction() as conn:
        project = versions.lock_project(conn, project_id)
        if project["current_version_id"] is None:
            versions.create_version_from_manifest(
                conn, project_id, {}, source="import", message="Imported without its files", created_by=user_id
            )


def _import_variables(project_id: Any, tip: HistoryCommit, repository: ImportRepository) -> int:
    """``KEY=value`` lines of the last commit's .env files, sealed as the project's variables (a name set by an
    earlier file, or already on the project, keeps its value; .env before .env.local and so on, by path)."""
    found: dict[str, str] = {}
    for path in sorted(tip.env_files, key=lambda p: (p.count("/"), p)):
        text = repository.read_blob(tip.env_files[path].blob_id).decode("utf-8", errors="replace")
        for name, value in parse_env(text).items():
            found.setdefault(name, value)
    sealed = {name: crypto.seal(value, crypto.variable_context(project_id, name)) for name, value in found.items()}
    with db.transaction() as conn:
        return projects.add_sealed_variables(conn, project_id, sealed)


_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]{0,127})\s*=\s*(.*?)\s*$")


def parse_env(text: str) -> dict[str, str]:
    """The variables of a dotenv file: ``NAME=value`` lines (``export`` allowed), quotes around a value removed,
    comments and anything else skipped."""
    variables: dict[str, str] = {}
    for line in text.splitlines():
        match = _ENV_LINE.match(line)
        if match is None or line.lstrip().startswith("#"):
            continue
        name, value = match[1], match[2]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        variables[name] = value
    return variables


def _manifest(commit: HistoryCommit, hashed: dict[str, tuple[str, int]]) -> snapshots.Manifest:
    manifest: snapshots.Manifest = {}
    for path, entry in commit.files.items():
        sha, size = hashed[entry.blob_id]
        manifest[path] = {
            "sha256": sha,
            "size": size,
            "mode": 0o755 if entry.mode & 0o111 else working_copy.DEFAULT_MODE,
        }
    return manifest


def _skipped_warnings(history: list[HistoryCommit]) -> list[str]:
    """One warning per reason files were left out (over the whole history), naming a few of them."""
    paths: dict[str, set[str]] = {}
    for commit in history:
        for item in commit.skipped:
            paths.setdefault(item.reason, set()).add(item.path)
    env = {path for commit in history for path in commit.env_files}
    warnings = []
    for reason, found in sorted(paths.items()):
        named = ", ".join(sorted(found)[:NAMED_PATHS]) + (", …" if len(found) > NAMED_PATHS else "")
        warnings.append(f"{len(found)} file(s) left out ({reason}): {named}")
    if env:
        named = ", ".join(sorted(env)[:NAMED_PATHS])
        warnings.append(f"Environment files are never imported as files: {named}")
    return warnings


def _chunks(items: list[HistoryCommit], size: int) -> Iterator[list[HistoryCommit]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------------------------------- chats


def _import_chats(
    import_app_id: Any, import_id: Any, source_app_id: int, project_id: Any, database: DesktopDatabase, user_id: Any
) -> tuple[dict[str, int], list[str]]:
    with db.transaction() as conn:
        prefix = f"{source_app_id}:"
        commit_map = {
            source.removeprefix(prefix): target
            for source, target in imports.items(conn, import_id, "commit").items()
            if source.startswith(prefix)
        }
        done = imports.items(conn, import_id, "chat")
    chats = database.chats(source_app_id)
    imported_messages = 0
    unresolved = Counter[str]()
    for chat in chats:
        if str(chat.id) in done:
            continue
        with db.transaction() as conn:
            row = messages.import_chat(
                conn,
                project_id=project_id,
                title=(chat.title or "")[:255] or None,
                created_by=user_id,
                created_at=chat.created_at,
                initial_version_id=commit_map.get(chat.initial_commit_hash or ""),
            )
            previous: datetime | None = None
            for message in database.messages(chat.id):
                # Unix seconds tie often; a microsecond apart keeps the desktop app's order.
                at = message.created_at or previous
                if at is not None and previous is not None and at <= previous:
                    at = previous + _TICK
                previous = at
                source_version, result_version = _versions_of(message, commit_map, unresolved)
                messages.import_message(
                    conn,
                    chat_id=row["id"],
                    role=message.role,
                    content=message.content,
                    created_at=at,
                    created_by=user_id if message.role == "user" else None,
                    metadata=_metadata(message),
                    approval_state=message.approval_state if message.approval_state in APPROVAL_STATES else None,
                    proposal=None,
                    source_version_id=source_version,
                    result_version_id=result_version,
                )
                imported_messages += 1
            imports.record_item(conn, import_id, "chat", str(chat.id), row["id"])
            imports.app_progress(conn, import_app_id, stage="chats")
    with db.transaction() as conn:
        total = conn.execute(
            "SELECT count(DISTINCT c.id) AS chats, count(m.id) AS messages FROM chats c"
            " LEFT JOIN messages m ON m.chat_id = c.id WHERE c.project_id = %s",
            (project_id,),
        ).fetchone()
        assert total is not None
    # Recorded with the app's completion (not here), so a job delivered again does not say it twice.
    warnings = (
        [
            f"{sum(unresolved.values())} message(s) name a commit that is not on the app's main branch;"
            " they are imported without their version links."
        ]
        if unresolved
        else []
    )
    return {"chats": int(total["chats"]), "messages": int(total["messages"])}, warnings


def _versions_of(message: DesktopMessage, commit_map: dict[str, Any], unresolved: Counter[str]) -> tuple[Any, Any]:
    """The versions an approved turn was applied on and made (None where the desktop app recorded none)."""
    if message.role != "assistant" or message.approval_state != "approved":
        return None, None
    found = []
    for sha in (message.source_commit_hash, message.commit_hash):
        version = commit_map.get(sha) if sha else None
        if sha and version is None:
            unresolved[sha] += 1
        found.append(version)
    return found[0], found[1]


def _metadata(message: DesktopMessage) -> dict[str, Any]:
    imported: dict[str, Any] = {
        "source": "desktop",
        "messageId": message.id,
        "model": message.model,
        "requestId": message.request_id,
        "commitHash": message.commit_hash,
        "sourceCommitHash": message.source_commit_hash,
        "approvalState": message.approval_state,
        # The desktop app's largest context of the turn: a figure to show, never metered or billed.
        "peakContextTokens": message.max_tokens_used,
        "billable": False,
    }
    metadata: dict[str, Any] = {"imported": imported}
    if message.model:
        metadata["model"] = message.model
    return metadata
