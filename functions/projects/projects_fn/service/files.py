"""The working copy through the API: list, read, write (conditionally), delete and move files."""

from __future__ import annotations

import uuid
from typing import Any

from mm_common import working_copy
from mm_common.auth import Caller
from mm_common.db import Connection
from mm_common.errors import NotFound, Unprocessable
from mm_common.observability import traced
from mm_common.pagination import decode_cursor, encode_cursor
from mm_common.paths import PathError, normalize_path
from projects_fn import queries
from projects_fn.service import SERVICE


def normalized(raw: str, field: str = "path") -> str:
    """A project path in its canonical form, or 422 saying why it cannot be one."""
    try:
        return normalize_path(raw)
    except PathError as error:
        raise Unprocessable(
            str(error), code="invalid_path", details=[{"field": field, "message": str(error)}]
        ) from None


@traced(SERVICE)
def list_files(
    conn: Connection, caller: Caller, project_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[str, str | None]:
    """A page of file entries (no content) by path, as the JSON text of its entries joined by
    commas, and the cursor of the next page."""
    key = decode_cursor(cursor, 1)
    entries, last_path = queries.file_entries_json(conn, project_id, after=key[0] if key else "", limit=limit)
    return entries, encode_cursor(last_path) if last_path is not None else None


@traced(SERVICE)
def read_file(conn: Connection, caller: Caller, project_id: uuid.UUID, path: str) -> dict[str, Any]:
    """A file's row, its text inline or its blob's key (read the bytes with :func:`file_bytes`)."""
    row = working_copy.current(conn, project_id, normalized(path))
    if row is None:
        raise NotFound("There is no such file in this project.")
    return row


@traced(SERVICE)
def file_bytes(caller: Caller, row: dict[str, Any]) -> bytes:
    """The bytes of a row :func:`read_file` returned (binary ones from S3, outside any transaction)."""
    return working_copy.read_bytes(caller.organization_id, row)


@traced(SERVICE)
def write_file(
    conn: Connection,
    caller: Caller,
    project_id: uuid.UUID,
    path: str,
    *,
    content: str,
    encoding: str,
    mode: int | None,
    if_match: str | None,
    if_none_match: str | None,
) -> tuple[dict[str, Any], bytes, bool]:
    """Create or replace a file under the request's conditions; (row, its bytes, created)."""
    target = normalized(path)
    body = working_copy.decode_body(content, encoding)
    row, created = working_copy.write(
        conn,
        organization_id=caller.organization_id,
        project_id=project_id,
        path=target,
        body=body,
        if_match=if_match,
        if_none_match=if_none_match,
        mode=mode,
    )
    return row, body.data, created


@traced(SERVICE)
def delete_file(conn: Connection, caller: Caller, project_id: uuid.UUID, path: str, if_match: str | None) -> None:
    working_copy.delete(conn, project_id, normalized(path), if_match)


@traced(SERVICE)
def rename_file(
    conn: Connection, caller: Caller, project_id: uuid.UUID, source: str, target: str, if_match: str | None
) -> dict[str, Any]:
    """Move a file; the row (without content) at its new path."""
    return working_copy.rename(conn, project_id, normalized(source, "from"), normalized(target, "to"), if_match)
