"""The working copy of a project: its files, in Postgres (text) or S3 (binary bytes).

Text (valid UTF-8 without NUL) is stored in ``project_files.content``; anything else is a blob in
the snapshots bucket (content-addressed, so a version of it costs nothing more) and the row
points at it. Every write is conditional on the caller's view of the file when they send
``If-Match`` (the sha256 the API hands out as ETag), so concurrent editors cannot lose updates.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from mm_common import snapshots
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import NotFound, PayloadTooLarge, PreconditionFailed, Unprocessable
from mm_common.paths import language_for

FILE_COLUMNS = "path, size, language, sha256, encoding, mode, updated_at"


@dataclass(frozen=True)
class FileBytes:
    data: bytes
    is_text: bool

    @property
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


def etag_matches(if_match: str | None, sha256: str | None) -> bool:
    """RFC 9110 If-Match: "*" needs any current file; otherwise one of the listed ETags."""
    if if_match is None:
        return True
    candidates = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if "*" in candidates:
        return sha256 is not None
    return sha256 is not None and sha256 in candidates


def current(conn: Connection, project_id: Any, path: str, *, lock: bool = False) -> dict[str, Any] | None:
    suffix = " FOR UPDATE" if lock else ""
    row = conn.execute(
        f"SELECT {FILE_COLUMNS}, content, blob_key FROM project_files WHERE project_id = %s AND path = %s{suffix}",
        (project_id, path),
    ).fetchone()
    return dict(row) if row else None


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
    """Create or replace a file; return (row, created)."""
    check_file_size(len(body.data))
    existing = current(conn, project_id, path, lock=True)
    if not etag_matches(if_match, existing["sha256"] if existing else None):
        raise PreconditionFailed(
            "The file changed since you read it (or does not exist): reload it and apply your edit again.",
            details={"currentEtag": f'"{existing["sha256"]}"' if existing else None},
        )
    if if_none_match is not None and if_none_match.strip() == "*" and existing is not None:
        raise PreconditionFailed("The file exists already.", details={"currentEtag": f'"{existing["sha256"]}"'})
    check_project_size(conn, project_id, len(body.data) - (existing["size"] if existing else 0))
    sha = body.sha256
    content: str | None = None
    blob: str | None = None
    if body.is_text:
        content = body.data.decode("utf-8")
    else:
        snapshots.upload_blobs(conn, organization_id, {sha: body.data})
        blob = snapshots.blob_key(organization_id, sha)
    row = conn.execute(
        f"""
        INSERT INTO project_files (project_id, path, content, blob_key, encoding, language, size, sha256, mode)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, 420))
        ON CONFLICT (project_id, path) DO UPDATE SET
            content = EXCLUDED.content, blob_key = EXCLUDED.blob_key, encoding = EXCLUDED.encoding,
            language = EXCLUDED.language, size = EXCLUDED.size, sha256 = EXCLUDED.sha256,
            mode = coalesce(%s, project_files.mode)
        RETURNING {FILE_COLUMNS}
        """,
        (
            project_id,
            path,
            content,
            blob,
            "utf-8" if body.is_text else "base64",
            language_for(path),
            len(body.data),
            sha,
            mode,
            mode,
        ),
    ).fetchone()
    assert row is not None
    touch_project(conn, project_id)
    return dict(row), existing is None


def delete(conn: Connection, project_id: Any, path: str, if_match: str | None = None) -> None:
    existing = current(conn, project_id, path, lock=True)
    if existing is None:
        raise NotFound("There is no such file in this project.")
    if not etag_matches(if_match, existing["sha256"]):
        raise PreconditionFailed("The file changed since you read it: reload it first.")
    conn.execute("DELETE FROM project_files WHERE project_id = %s AND path = %s", (project_id, path))
    touch_project(conn, project_id)


def rename(conn: Connection, project_id: Any, source: str, target: str, if_match: str | None = None) -> dict[str, Any]:
    existing = current(conn, project_id, source, lock=True)
    if existing is None:
        raise NotFound("There is no such file in this project.")
    if not etag_matches(if_match, existing["sha256"]):
        raise PreconditionFailed("The file changed since you read it: reload it first.")
    if source == target:
        return existing
    if current(conn, project_id, target) is not None:
        raise PreconditionFailed(f"A file exists at {target} already; delete it or choose another path.")
    row = conn.execute(
        f"""
        UPDATE project_files SET path = %s, language = %s WHERE project_id = %s AND path = %s
        RETURNING {FILE_COLUMNS}
        """,
        (target, language_for(target), project_id, source),
    ).fetchone()
    assert row is not None
    touch_project(conn, project_id)
    return dict(row)


def read_bytes(organization_id: Any, row: dict[str, Any]) -> bytes:
    if row["content"] is not None:
        return str(row["content"]).encode("utf-8")
    return snapshots.get_blobs(organization_id, [row["sha256"]])[row["sha256"]]


def touch_project(conn: Connection, project_id: Any) -> None:
    conn.execute("UPDATE projects SET updated_at = now() WHERE id = %s", (project_id,))
