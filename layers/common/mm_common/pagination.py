"""Keyset pagination: ``?limit=&cursor=`` in, ``{"items": [...], "nextCursor"}`` out.

A cursor is the opaque, URL-safe encoding of the sort key of the last item returned, so pages
stay stable under inserts and every page is an index range scan, however deep.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from mm_common.errors import Unprocessable

INVALID_CURSOR = "The cursor is not valid: pass the nextCursor of a previous page."
DEFAULT_LIMIT = 50
MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-100).")]
Cursor = Annotated[str | None, Query(max_length=512, description="nextCursor of the previous page.")]


def encode_cursor(*key: Any) -> str:
    raw = json.dumps([str(part) for part in key], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, parts: int) -> list[str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        key = None
    if not isinstance(key, list) or len(key) != parts or not all(isinstance(p, str) for p in key):
        raise Unprocessable(INVALID_CURSOR, code="invalid_cursor")
    return key


def decode_time_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Decode a (timestamp, id) cursor, refusing anything this API did not hand out."""
    key = decode_cursor(cursor, 2)
    if key is None:
        return None
    try:
        at, row_id = datetime.fromisoformat(key[0]), uuid.UUID(key[1])
    except ValueError:
        raise Unprocessable(INVALID_CURSOR, code="invalid_cursor") from None
    if at.tzinfo is None:
        raise Unprocessable(INVALID_CURSOR, code="invalid_cursor")
    return at, row_id


def time_key(column: str) -> Callable[[Any], tuple[str, Any]]:
    """The cursor key of a row ordered by (column, id)."""
    return lambda row: (row[column].isoformat(), row["id"])


def page(rows: list[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """Split the ``limit + 1`` rows fetched into this page and the cursor of the next one."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(*key(rows[-1]))
