"""Versions: immutable snapshots of the working copy in S3; restore, diff and archives.

History only moves forward: restoring an old version makes the working copy equal to it and
records that as a new version, so no version is ever rewritten or lost. This module is the only
writer of ``project_versions``; the working copy's files change through ``working_copy``.
"""

from __future__ import annotations

import difflib
import io
import json
import logging
import uuid
import zipfile
from datetime import datetime
from typing import Any

from mm_common import preview_builds, snapshots, working_copy
from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import NotFound

VERSION_COLUMNS = (
    "id, project_id, number, parent_id, message, source, created_by, message_id, manifest_key,"
    " file_count, total_size, restored_from_id, is_current, created_at"
)
# Unified diffs of bigger files are left out: a browser cannot show them usefully anyway.
MAX_DIFF_BYTES = 512 * 1024
ARCHIVE_URL_TTL_S = 15 * 60
_log = logging.getLogger(__name__)


def lock_project(conn: Connection, project_id: Any) -> dict[str, Any]:
    row = conn.execute(
        "SELECT id, organization_id, current_version_id FROM projects WHERE id = %s AND deleted_at IS NULL FOR UPDATE",
        (project_id,),
    ).fetchone()
    if row is None:
        raise NotFound("There is no such project, or you cannot see it.")
    return dict(row)


def create_version(
    conn: Connection,
    project_id: Any,
    *,
    source: str,
    message: str | None,
    created_by: Any,
    message_id: Any = None,
    restored_from_id: Any = None,
) -> dict[str, Any]:
    """Snapshot the working copy: upload the blobs S3 lacks, then the manifest, then the row."""
    project = lock_project(conn, project_id)
    organization_id = project["organization_id"]
    files = conn.execute(
        "SELECT path, sha256, size, mode, content IS NOT NULL AS is_text FROM project_files WHERE project_id = %s",
        (project_id,),
    ).fetchall()
    manifest = {f["path"]: {"sha256": f["sha256"], "size": f["size"], "mode": f["mode"]} for f in files}
    stored = snapshots.stored_blobs(conn, organization_id, [entry["sha256"] for entry in manifest.values()])
    # Binary files are blobs already; only text whose bytes S3 has not seen needs its content read.
    missing_text = sorted({f["sha256"] for f in files if f["is_text"] and f["sha256"] not in stored})
    if missing_text:
        rows = conn.execute(
            "SELECT DISTINCT ON (sha256) sha256, content FROM project_files WHERE project_id = %s AND sha256 = ANY(%s)",
            (project_id, missing_text),
        ).fetchall()
        snapshots.upload_blobs(conn, organization_id, {r["sha256"]: r["content"].encode("utf-8") for r in rows})

    return _record(
        conn,
        project,
        manifest,
        source=source,
        message=message,
        created_by=created_by,
        message_id=message_id,
        restored_from_id=restored_from_id,
    )


def create_version_from_manifest(
    conn: Connection,
    project_id: Any,
    manifest: snapshots.Manifest,
    *,
    source: str,
    message: str | None,
    created_by: Any,
    created_at: datetime | None = None,
    announce: bool = True,
) -> dict[str, Any]:
    """Record a version whose files are ``manifest`` without touching the working copy: an import records
    each commit of a history this way, every blob already stored (``snapshots.upload_blobs``).

    ``created_at`` keeps the commit's own time; ``announce=False`` queues no Gitea backup and no preview
    build (the import announces its last version only: the mirror catches up on every earlier one).
    """
    project = lock_project(conn, project_id)
    return _record(
        conn,
        project,
        manifest,
        source=source,
        message=message,
        created_by=created_by,
        created_at=created_at,
        announce=announce,
    )


def _record(
    conn: Connection,
    project: dict[str, Any],
    manifest: snapshots.Manifest,
    *,
    source: str,
    message: str | None,
    created_by: Any,
    message_id: Any = None,
    restored_from_id: Any = None,
    created_at: datetime | None = None,
    announce: bool = True,
) -> dict[str, Any]:
    """Store the manifest and insert the version as the project's current one (the project row is locked)."""
    project_id, organization_id = project["id"], project["organization_id"]
    version_id = uuid.uuid4()
    key = snapshots.manifest_key(organization_id, project_id, version_id)
    manifest_sha = snapshots.put_manifest(key, manifest)
    conn.execute("UPDATE project_versions SET is_current = FALSE WHERE project_id = %s AND is_current", (project_id,))
    row = conn.execute(
        f"""
        INSERT INTO project_versions
            (id, project_id, number, parent_id, message, source, created_by, message_id, manifest_key,
             manifest_sha256, file_count, total_size, restored_from_id, is_current, created_at)
        VALUES (%s, %s, (SELECT coalesce(max(number), 0) + 1 FROM project_versions WHERE project_id = %s),
                %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, TRUE, coalesce(%s, now()))
        RETURNING {VERSION_COLUMNS}
        """,
        (
            version_id,
            project_id,
            project_id,
            project["current_version_id"],
            message,
            source,
            created_by,
            message_id,
            key,
            manifest_sha,
            len(manifest),
            sum(f["size"] for f in manifest.values()),
            restored_from_id,
            created_at,
        ),
    ).fetchone()
    assert row is not None
    conn.execute("UPDATE projects SET current_version_id = %s WHERE id = %s", (version_id, project_id))
    # Read back by the next version of the same transaction (an import records many in a row).
    project["current_version_id"] = version_id
    if announce:
        enqueue_mirror(project_id, version_id)
        preview_builds.queue_build(conn, project_id, version_id)
    return dict(row)


def enqueue_mirror(project_id: Any, version_id: Any) -> None:
    """Ask the Gitea mirror to back the version up (functions/gitea_mirror).

    Sent while the version's transaction still holds the project row: the worker waits for that
    row before reading, so it sees the committed version, or sees that it was rolled back. A send
    that fails loses no version: the next version's message mirrors every one still waiting."""
    settings = get_settings()
    if not (settings.gitea_url and settings.gitea_mirror_queue_url):
        return
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client("sqs").send_message(
            QueueUrl=settings.gitea_mirror_queue_url,
            MessageBody=json.dumps({"projectId": str(project_id), "versionId": str(version_id)}),
        )
    except (BotoCoreError, ClientError) as error:
        _log.warning("could not queue the Gitea mirror of version %s: %s", version_id, error)


def unmirrored_versions(conn: Connection, project_id: Any, up_to_number: int) -> list[dict[str, Any]]:
    """Versions up to ``up_to_number`` without a Gitea commit yet, oldest first, with their authors
    (the mirror and the deploy's PushToGitea commit them in this order)."""
    rows = conn.execute(
        """
        SELECT v.id, v.number, v.message, v.manifest_key, u.full_name AS author_name, u.email AS author_email
        FROM project_versions v LEFT JOIN users u ON u.id = v.created_by
        WHERE v.project_id = %s AND v.number <= %s AND v.gitea_commit_id IS NULL
        ORDER BY v.number
        """,
        (project_id, up_to_number),
    ).fetchall()
    return [dict(row) for row in rows]


def last_mirrored(conn: Connection, project_id: Any, before_number: int) -> dict[str, Any] | None:
    """The newest version before ``before_number`` with a Gitea commit (``gitea_commit_id``, ``manifest_key``):
    what the repository's main holds when the mirror works in order."""
    row = conn.execute(
        """
        SELECT gitea_commit_id, manifest_key FROM project_versions
        WHERE project_id = %s AND number < %s AND gitea_commit_id IS NOT NULL
        ORDER BY number DESC LIMIT 1
        """,
        (project_id, before_number),
    ).fetchone()
    return dict(row) if row else None


def record_gitea_commit(conn: Connection, version_id: Any, sha: str) -> None:
    """The Gitea mirror's commit of a version (the first one recorded stays)."""
    conn.execute(
        "UPDATE project_versions SET gitea_commit_id = %s, commit_hash = %s WHERE id = %s AND gitea_commit_id IS NULL",
        (sha, sha, version_id),
    )


def get_version(conn: Connection, project_id: Any, version_id: Any) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM project_versions WHERE project_id = %s AND id = %s", (project_id, version_id)
    ).fetchone()
    if row is None:
        raise NotFound("There is no such version of this project.")
    return dict(row)


def restore(conn: Connection, project_id: Any, version: dict[str, Any], created_by: Any) -> dict[str, Any]:
    """Make the working copy equal to ``version``, then record that as a new version."""
    project = lock_project(conn, project_id)
    target = snapshots.get_manifest(version["manifest_key"])
    working_copy.match_manifest(conn, project["organization_id"], project_id, target)
    return create_version(
        conn,
        project_id,
        source="restore",
        message=f"Restored version {version['number']}",
        created_by=created_by,
        restored_from_id=version["id"],
    )


def text_or_none(data: bytes) -> str | None:
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def diff(
    organization_id: Any, old: snapshots.Manifest, new: snapshots.Manifest, *, with_patches: bool = True
) -> list[dict[str, Any]]:
    """Per-file changes from ``old`` to ``new``; a file that moved unchanged is 'renamed'."""
    added = {p for p in new if p not in old}
    deleted = {p for p in old if p not in new}
    modified = {p for p in new if p in old and new[p]["sha256"] != old[p]["sha256"]}
    renamed: dict[str, str] = {}
    deleted_by_sha: dict[str, list[str]] = {}
    for path in sorted(deleted):
        deleted_by_sha.setdefault(old[path]["sha256"], []).append(path)
    for path in sorted(added):
        candidates = deleted_by_sha.get(new[path]["sha256"])
        if candidates:
            renamed[path] = candidates.pop(0)
    added -= set(renamed)
    deleted -= set(renamed.values())

    changes: list[dict[str, Any]] = []
    for path in sorted(added):
        changes.append({"path": path, "status": "added", "oldPath": None, "size": new[path]["size"]})
    for path in sorted(deleted):
        changes.append({"path": path, "status": "deleted", "oldPath": None, "size": old[path]["size"]})
    for path in sorted(renamed):
        changes.append({"path": path, "status": "renamed", "oldPath": renamed[path], "size": new[path]["size"]})
    for path in sorted(modified):
        changes.append({"path": path, "status": "modified", "oldPath": None, "size": new[path]["size"]})
    changes.sort(key=lambda c: c["path"])
    if with_patches:
        _add_patches(organization_id, old, new, changes)
    return changes


def _add_patches(
    organization_id: Any, old: snapshots.Manifest, new: snapshots.Manifest, changes: list[dict[str, Any]]
) -> None:
    wanted: set[str] = set()
    for change in changes:
        if change["status"] in ("added", "modified") and new[change["path"]]["size"] <= MAX_DIFF_BYTES:
            wanted.add(new[change["path"]]["sha256"])
        if change["status"] in ("deleted", "modified") and old[change["path"]]["size"] <= MAX_DIFF_BYTES:
            wanted.add(old[change["path"]]["sha256"])
    blobs = snapshots.get_blobs(organization_id, wanted)
    for change in changes:
        path, status = change["path"], change["status"]
        before = b"" if status == "added" else blobs.get(old[path]["sha256"]) if status != "renamed" else None
        after = b"" if status == "deleted" else blobs.get(new[path]["sha256"]) if status != "renamed" else None
        change["patch"] = None
        change["binary"] = False
        if status == "renamed" or before is None or after is None:
            continue
        before_text, after_text = text_or_none(before), text_or_none(after)
        if before_text is None or after_text is None:
            change["binary"] = True
            continue
        lines = difflib.unified_diff(
            before_text.splitlines(keepends=True),
            after_text.splitlines(keepends=True),
            fromfile="/dev/null" if status == "added" else f"a/{path}",
            tofile="/dev/null" if status == "deleted" else f"b/{path}",
        )
        change["patch"] = "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
        )


def archive_url(organization_id: Any, project_id: Any, version: dict[str, Any], slug: str) -> str:
    """A short-lived download URL of the version as a zip (built once, then reused)."""
    s3 = client("s3")
    from botocore.exceptions import ClientError  # with boto3, by the client: not at every cold start

    bucket = get_settings().snapshots_bucket
    key = snapshots.archive_key(organization_id, project_id, version["id"])
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        manifest = snapshots.get_manifest(version["manifest_key"])
        blobs = snapshots.get_blobs(organization_id, {e["sha256"] for e in manifest.values()})
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(manifest):
                info = zipfile.ZipInfo(f"{slug}/{path}", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o100000 | int(manifest[path].get("mode", 0o644))) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, blobs[manifest[path]["sha256"]])
        s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue(), ContentType="application/zip")
    url: str = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{slug}-v{version["number"]}.zip"',
        },
        ExpiresIn=ARCHIVE_URL_TTL_S,
    )
    return url
