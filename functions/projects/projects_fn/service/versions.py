"""Versions: snapshots of the working copy, their files, diffs, restore, tags and archives.

Functions taking a connection run in the route's transaction; the ones without read S3 only
(manifests, blobs, archives) and run after it, so no transaction waits on S3.
"""

from __future__ import annotations

import uuid
from typing import Any

from mm_common import audit, snapshots, versions, working_copy
from mm_common.auth import Caller, parse_uuid
from mm_common.db import Connection
from mm_common.errors import Conflict, NotFound, Unprocessable
from mm_common.observability import count, traced
from mm_common.pagination import decode_cursor, page
from mm_common.paths import language_for
from projects_fn import queries
from projects_fn.service import SERVICE
from projects_fn.service.files import normalized

NO_SUCH_VERSION = "There is no such version of this project."


def version_uuid(raw: str) -> uuid.UUID:
    """A version id from the path; one that is not even an id names no version (404)."""
    version_id = parse_uuid(raw)
    if version_id is None:
        raise NotFound(NO_SUCH_VERSION)
    return version_id


@traced(SERVICE)
def create_version(conn: Connection, caller: Caller, project_id: uuid.UUID, message: str | None) -> dict[str, Any]:
    row = versions.create_version(conn, project_id, source="user", message=message, created_by=caller.user_id)
    count(SERVICE, "VersionCreated")
    return row


@traced(SERVICE)
def list_versions(
    conn: Connection, caller: Caller, project_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], dict[Any, list[str]], str | None]:
    """A page of versions newest first, their tags, and the cursor of the next page."""
    key = decode_cursor(cursor, 1)
    try:
        before = int(key[0]) if key else None
    except ValueError:
        raise Unprocessable("The cursor is not valid.", code="invalid_cursor") from None
    rows = queries.version_rows(conn, project_id, before=before, limit=limit + 1)
    items, next_cursor = page(rows, limit, lambda row: (row["number"],))
    return items, queries.tags_of(conn, [row["id"] for row in items]), next_cursor


@traced(SERVICE)
def get_version(
    conn: Connection, caller: Caller, project_id: uuid.UUID, version_id: str
) -> tuple[dict[str, Any], list[str]]:
    """A version's row and its tags."""
    row = versions.get_version(conn, project_id, version_uuid(version_id))
    return row, queries.tags_of(conn, [row["id"]]).get(row["id"], [])


@traced(SERVICE)
def version_files(version: dict[str, Any]) -> list[dict[str, Any]]:
    """The files of a version by path (its manifest, from S3)."""
    manifest = snapshots.get_manifest(version["manifest_key"])
    return [
        {
            "path": path,
            "sha256": entry["sha256"],
            "size": entry["size"],
            "mode": entry.get("mode", working_copy.DEFAULT_MODE),
        }
        for path, entry in sorted(manifest.items())
    ]


@traced(SERVICE)
def version_for_file(
    conn: Connection, caller: Caller, project_id: uuid.UUID, version_id: str, path: str
) -> tuple[dict[str, Any], str]:
    """The version a file is asked of, and the file's path in canonical form."""
    target = normalized(path)
    return versions.get_version(conn, project_id, version_uuid(version_id)), target


@traced(SERVICE)
def version_file(caller: Caller, version: dict[str, Any], target: str) -> tuple[dict[str, Any], bytes]:
    """A file (path from :func:`version_for_file`) as it was at a version: its entry, shaped like
    a working-copy row, and its bytes."""
    entry = snapshots.get_manifest(version["manifest_key"]).get(target)
    if entry is None:
        raise NotFound("This version has no such file.")
    data = snapshots.get_blobs(caller.organization_id, [entry["sha256"]])[entry["sha256"]]
    text = versions.text_or_none(data) is not None
    row = {
        "path": target,
        "encoding": "utf-8" if text else "base64",
        "size": entry["size"],
        "sha256": entry["sha256"],
        "language": language_for(target),
        "mode": entry.get("mode", working_copy.DEFAULT_MODE),
    }
    return row, data


@traced(SERVICE)
def versions_to_compare(
    conn: Connection, caller: Caller, project_id: uuid.UUID, version_id: str, against: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the version, the one to compare it with: ``against``, else its parent, else none)."""
    target = versions.get_version(conn, project_id, version_uuid(version_id))
    base_id = version_uuid(against) if against else target["parent_id"]
    base = versions.get_version(conn, project_id, base_id) if base_id else None
    return target, base


@traced(SERVICE)
def diff(caller: Caller, target: dict[str, Any], base: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per-file changes from ``base`` (nothing when None) to ``target``, with unified patches."""
    old = snapshots.get_manifest(base["manifest_key"]) if base else {}
    new = snapshots.get_manifest(target["manifest_key"])
    return versions.diff(caller.organization_id, old, new)


@traced(SERVICE)
def restore_version(conn: Connection, caller: Caller, project_id: uuid.UUID, version_id: str) -> dict[str, Any]:
    """Make the working copy that version; the new version recording it."""
    target = versions.get_version(conn, project_id, version_uuid(version_id))
    row = versions.restore(conn, project_id, target, caller.user_id)
    audit.log(
        conn,
        caller,
        "version.restore",
        resource_type="project",
        resource_id=project_id,
        details={"restoredVersion": target["number"], "newVersion": row["number"]},
    )
    count(SERVICE, "VersionRestored")
    return row


@traced(SERVICE)
def tag_version(
    conn: Connection, caller: Caller, project_id: uuid.UUID, version_id: str, name: str
) -> tuple[dict[str, Any], list[str]]:
    """Put a tag (unique in the project) on a version; the version and its tags."""
    row = versions.get_version(conn, project_id, version_uuid(version_id))
    if not queries.add_tag(conn, project_id, row["id"], name, caller.user_id):
        raise Conflict(f"The tag '{name}' is on another version already; remove it there first.", code="tag_taken")
    return row, queries.tags_of(conn, [row["id"]]).get(row["id"], [])


@traced(SERVICE)
def untag_version(conn: Connection, caller: Caller, project_id: uuid.UUID, version_id: str, name: str) -> None:
    if not queries.remove_tag(conn, project_id, version_uuid(version_id), name):
        raise NotFound("This version has no such tag.")


@traced(SERVICE)
def version_to_archive(
    conn: Connection, caller: Caller, project_id: uuid.UUID, version_id: str
) -> tuple[dict[str, Any], str]:
    """The version and the project's slug (the archive's folder and file name)."""
    row = versions.get_version(conn, project_id, version_uuid(version_id))
    project = queries.load_project(conn, project_id)
    if project is None:
        raise NotFound("There is no such project, or you cannot see it.")
    return row, project["slug"]


@traced(SERVICE)
def archive_url(caller: Caller, project_id: uuid.UUID, version: dict[str, Any], slug: str) -> tuple[str, int]:
    """A short-lived download URL of the version as a zip (built once, then reused), and how
    many seconds it lasts."""
    return versions.archive_url(caller.organization_id, project_id, version, slug), versions.ARCHIVE_URL_TTL_S
