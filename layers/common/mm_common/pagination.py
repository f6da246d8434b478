"""Keyset pagination: ``?limit=&cursor=`` in, ``{"items": [...], "nextCursor"}`` out.

A cursor is the opaque, URL-safe encoding of the sort key of the last item returned, so pages
stay stable under inserts and every page is an index range scan, however deep.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from mm_common import db
from mm_common.db import Connection
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


@dataclass(frozen=True)
class Keyset:
    """An order by (a time column, the id) that a page can resume from.

    ``column`` and ``id_column`` are SQL written by us (e.g. ``"o.created_at"``), never input;
    the row's values are read under the column's own name (what follows the table alias).
    """

    column: str
    id_column: str = "id"
    descending: bool = True

    @property
    def order_by(self) -> str:
        direction = "DESC" if self.descending else "ASC"
        return f"{self.column} {direction}, {self.id_column} {direction}"

    def after(self, cursor: str | None) -> tuple[str, list[Any]] | None:
        """The condition (and its parameters) selecting rows after the cursor's row."""
        key = decode_time_cursor(cursor)
        if key is None:
            return None
        operator = "<" if self.descending else ">"
        return f"({self.column}, {self.id_column}) {operator} (%s, %s)", list(key)

    def cursor_of(self, row: Any) -> tuple[str, Any]:
        return row[self.column.rsplit(".", 1)[-1]].isoformat(), row[self.id_column.rsplit(".", 1)[-1]]


def fetch_page(
    conn: Connection | None,
    select: str,
    conditions: Sequence[str],
    params: Sequence[Any],
    keyset: Keyset,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``select ... WHERE conditions`` in the keyset's order, and the next cursor.

    ``select`` is everything before WHERE (columns and FROM/JOINs). With ``conn`` None the query
    runs in a transaction of its own.
    """
    where = list(conditions) or ["TRUE"]
    values = list(params)
    resume = keyset.after(cursor)
    if resume is not None:
        where.append(resume[0])
        values += resume[1]
    sql = f"{select} WHERE {' AND '.join(where)} ORDER BY {keyset.order_by} LIMIT %s"
    values.append(limit + 1)
    rows = db.fetch_all(sql, values) if conn is None else conn.execute(sql, values).fetchall()  # type: ignore[arg-type]
    return page([dict(r) for r in rows], limit, keyset.cursor_of)
