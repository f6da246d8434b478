"""The working copy of a project: its files, in Postgres (text) or S3 (binary bytes).

Text (valid UTF-8 without NUL) is stored in ``project_files.content``; anything else is a blob in
the snapshots bucket (content-addressed, so a version of it costs nothing more) and the row
points at it. Every write is conditional on the caller's view of the file when they send
``If-Match`` / ``If-None-Match`` (the sha256 the API hands out as ETag), so concurrent editors
cannot lose updates.

This module is the only writer of ``project_files``. Every write first takes the project's row
(as versions and proposals do), so writers of one project queue in one order (no deadlock
between a file write and a version or an approval) and the project's size limit is checked
against a total nobody else is changing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mm_common import snapshots
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import Conflict, NotFound, PayloadTooLarge, PreconditionFailed, Unprocessable
from mm_common.paths import language_for

FILE_COLUMNS = "path, size, language, sha256, encoding, mode, updated_at"
DEFAULT_MODE = 0o644

_UPSERT = f"""
    INSERT INTO project_files (project_id, path, content, blob_key, encoding, language, size, sha256, mode)
    VALUES (%(project_id)s, %(path)s, %(content)s, %(blob_key)s, %(encoding)s, %(language)s, %(size)s, %(sha256)s,
            coalesce(%(mode)s, {DEFAULT_MODE}))
    ON CONFLICT (project_id, path) DO UPDATE SET
        content = EXCLUDED.content, blob_key = EXCLUDED.blob_key, encoding = EXCLUDED.encoding,
        language = EXCLUDED.language, size = EXCLUDED.size, sha256 = EXCLUDED.sha256,
        mode = coalesce(%(mode)s, project_files.mode)
    RETURNING {FILE_COLUMNS}
"""
_INSERT_IF_ABSENT = f"""
    INSERT INTO project_files (project_id, path, content, blob_key, encoding, language, size, sha256, mode)
    VALUES (%(project_id)s, %(path)s, %(content)s, %(blob_key)s, %(encoding)s, %(language)s, %(size)s, %(sha256)s,
            coalesce(%(mode)s, {DEFAULT_MODE}))
    ON CONFLICT (project_id, path) DO NOTHING
    RETURNING {FILE_COLUMNS}
"""


@dataclass(frozen=True)
class FileBytes:
    data: bytes
    is_text: bool

    @cached_property
    def sha256(self) -> str:
        return snapshots.sha256_hex(self.data)


def decode_body(content: str, encoding: str) -> FileBytes:
    """The bytes a client sent, as text (utf-8) or base64; binary if it is not clean UTF-8."""
    if encoding == "base64":
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise Unprocessable("The content is not valid base64.", details=[{"field": "content"}]) from None
    else:
        data = content.encode("utf-8")
    return FileBytes(data, is_text=is_text(data))


def is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_file_size(size: int) -> None:
    limit = get_settings().max_file_bytes
    if size > limit:
        raise PayloadTooLarge(
            f"The file is {size} bytes; files may have at most {limit} bytes.", details={"limit": limit}
        )


def check_project_size(conn: Connection, project_id: Any, growth: int) -> None:
    limit = get_settings().max_project_bytes
    row = conn.execute(
        "SELECT coalesce(sum(size), 0) AS total FROM project_files WHERE project_id = %s", (project_id,)
    ).fetchone()
    total = int(row["total"]) if row else 0
    if growth > 0 and total + growth > limit:
        raise PayloadTooLarge(
            f"The project would hold {total + growth} bytes; a project may hold at most {limit}.",
            details={"limit": limit},
        )


def etag_matches(condition: str | None, sha256: str | None) -> bool:
    """RFC 9110 If-Match / If-None-Match: "*" matches any current file; otherwise one of the
    listed ETags must be the current one. No condition always holds."""
    if condition is None:
        return True
    candidates = {tag.strip().removeprefix("W/").strip('"') for tag in condition.split(",")}
    if "*" in candidates:
        return sha256 is not None
    return sha256 is not None and sha256 in candidates


def _etag(row: dict[str, Any] | None) -> str | None:
    return f'"{row["sha256"]}"' if row else None


def check_preconditions(existing: dict[str, Any] | None, if_match: str | None, if_none_match: str | None) -> None:
    """412 unless the file as it is now satisfies the request's conditions."""
    current_sha = existing["sha256"] if existing else None
    if not etag_matches(if_match, current_sha):
        raise PreconditionFailed(
            "The file changed since you read it (or does not exist): reload it and apply your edit again.",
            details={"currentEtag": _etag(existing)},
        )
    if if_none_match is not None and etag_matches(if_none_match, current_sha):
        message = (
            "The file exists already."
            if if_none_match.strip() == "*"
            else "The file is still the version If-None-Match names."
        )
        raise PreconditionFailed(message, details={"currentEtag": _etag(existing)})


@contextmanager
def _refusing_bad_rows(path: str) -> Iterator[None]:
    """The database's constraints are the last line of defence; when one refuses a row, answer
    4xx naming the constraint only. Postgres' own message quotes the failing row, which holds
    the file's content, so it must not reach a response or a log (``from None`` drops it)."""
    import psycopg

    try:
        yield
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"A file exists at {path} already.", code="file_exists") from None
    except (psycopg.IntegrityError, psycopg.DataError) as error:
        constraint = error.diag.constraint_name
        raise Unprocessable(
            f"The file at {path} cannot be stored as given.",
            code="file_refused",
            details=[{"field": "path", "message": f"refused by {constraint or 'the database'}"}],
        ) from None


def lock_project(conn: Connection, project_id: Any) -> None:
    """Take the project's row for this transaction (and mark the project changed); 404 when the
    project is gone."""
    touched = conn.execute(
        "UPDATE projects SET updated_at = now() WHERE id = %s AND deleted_at IS NULL", (project_id,)
    ).rowcount
    if not touched:
        raise NotFound("There is no such project, or you cannot see it.")


def current(conn: Connection, project_id: Any, path: str, *, lock: bool = False) -> dict[str, Any] | None:
    """A file's row with its content (or blob key); never hand this row to a response model."""
    suffix = " FOR UPDATE" if lock else ""
    row = conn.execute(
        f"SELECT {FILE_COLUMNS}, content, blob_key FROM project_files WHERE project_id = %s AND path = %s{suffix}",
        (project_id, path),
    ).fetchone()
    return dict(row) if row else None


def _row_values(organization_id: Any, project_id: Any, path: str, body: FileBytes, mode: int | None) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "path": path,
        "content": body.data.decode("utf-8") if body.is_text else None,
        "blob_key": None if body.is_text else snapshots.blob_key(organization_id, body.sha256),
        "encoding": "utf-8" if body.is_text else "base64",
        "language": language_for(path),
        "size": len(body.data),
        "sha256": body.sha256,
        "mode": mode,
    }


def write(
    conn: Connection,
    *,
    organization_id: Any,
    project_id: Any,
    path: str,
    body: FileBytes,
    if_match: str | None = None,
    if_none_match: str | None = None,
    mode: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or replace a file; return (row without content, created)."""
    check_file_size(len(body.data))
    lock_project(conn, project_id)
    existing = current(conn, project_id, path, lock=True)
    check_preconditions(existing, if_match, if_none_match)
    check_project_size(conn, project_id, len(body.data) - (existing["size"] if existing else 0))
    if not body.is_text:
        snapshots.upload_blobs(conn, organization_id, {body.sha256: body.data})
    values = _row_values(organization_id, project_id, path, body, mode)
    with _refusing_bad_rows(path):
        if existing is None:
            # A row lock cannot hold a row that does not exist yet: the insert itself decides.
            # When a writer that did not queue on the project created the file meanwhile, the
            # insert waits for its commit and then inserts nothing.
            created = conn.execute(_INSERT_IF_ABSENT, values).fetchone()
            if created is not None:
                return dict(created), True
            existing = current(conn, project_id, path, lock=True)
            check_preconditions(existing, if_match, if_none_match)
            check_project_size(conn, project_id, len(body.data) - (existing["size"] if existing else 0))
        row = conn.execute(_UPSERT, values).fetchone()
    assert row is not None
    return dict(row), existing is None


def delete(conn: Connection, project_id: Any, path: str, if_match: str | None = None) -> None:
    lock_project(conn, project_id)
    existing = current(conn, project_id, path, lock=True)
    if existing is None:
        raise NotFound("There is no such file in this project.")
    if not etag_matches(if_match, existing["sha256"]):
        raise PreconditionFailed("The file changed since you read it: reload it first.")
    conn.execute("DELETE FROM project_files WHERE project_id = %s AND path = %s", (project_id, path))


def delete_paths(conn: Connection, project_id: Any, paths: Iterable[str]) -> int:
    """Delete these files (those that exist) unconditionally; return how many were deleted."""
    doomed = sorted(set(paths))
    if not doomed:
        return 0
    lock_project(conn, project_id)
    deleted: int = conn.execute(
        "DELETE FROM project_files WHERE project_id = %s AND path = ANY(%s)", (project_id, doomed)
    ).rowcount
    return deleted


def rename(conn: Connection, project_id: Any, source: str, target: str, if_match: str | None = None) -> dict[str, Any]:
    """Move a file; return its row (without content)."""
    if source == target:
        # A property of the request alone, whatever the project holds: 422, not 409.
        message = "The file is at that path already: give the path to move it to."
        raise Unprocessable(message, code="same_path", details=[{"field": "to", "message": message}])
    lock_project(conn, project_id)
    existing = current(conn, project_id, source, lock=True)
    if existing is None:
        raise NotFound("There is no such file in this project.")
    if not etag_matches(if_match, existing["sha256"]):
        raise PreconditionFailed("The file changed since you read it: reload it first.")
    if current(conn, project_id, target) is not None:
        raise PreconditionFailed(f"A file exists at {target} already; delete it or choose another path.")
    with _refusing_bad_rows(target):
        row = conn.execute(
            f"""
            UPDATE project_files SET path = %s, language = %s WHERE project_id = %s AND path = %s
            RETURNING {FILE_COLUMNS}
            """,
            (target, language_for(target), project_id, source),
        ).fetchone()
    assert row is not None
    return dict(row)


def match_manifest(
    conn: Connection,
    organization_id: Any,
    project_id: Any,
    manifest: snapshots.Manifest,
    contents: Mapping[str, bytes] | None = None,
) -> None:
    """Make the working copy hold exactly the manifest's files (restoring a version): write the
    files whose bytes differ, delete the ones it lacks. Blobs are the organization's already;
    ``contents`` (sha256 → bytes) spares reading back from S3 those the caller holds (an import)."""
    lock_project(conn, project_id)
    present = {
        r["path"]: r["sha256"]
        for r in conn.execute("SELECT path, sha256 FROM project_files WHERE project_id = %s", (project_id,)).fetchall()
    }
    changed = {path: entry for path, entry in manifest.items() if present.get(path) != entry["sha256"]}
    known = contents or {}
    blobs = {**snapshots.get_blobs(organization_id, {e["sha256"] for e in changed.values()} - set(known)), **known}
    for path, entry in sorted(changed.items()):
        data = blobs[entry["sha256"]]
        mode = int(entry.get("mode", DEFAULT_MODE))
        values = _row_values(organization_id, project_id, path, FileBytes(data, is_text(data)), mode)
        with _refusing_bad_rows(path):
            conn.execute(_UPSERT, values)
    delete_paths(conn, project_id, set(present) - set(manifest))


def read_bytes(organization_id: Any, row: dict[str, Any]) -> bytes:
    if row["content"] is not None:
        return str(row["content"]).encode("utf-8")
    return snapshots.get_blobs(organization_id, [row["sha256"]])[row["sha256"]]
