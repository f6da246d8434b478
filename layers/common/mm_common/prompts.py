"""New rows of the prompt library: shared by the chats function (a user saves a prompt) and imports (the
desktop app's prompt library); the chats function's service edits and deletes them afterwards."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mm_common.db import Connection

PROMPT_COLUMNS = "id, title, description, content, category, is_public, created_by, created_at, updated_at"


def insert_prompt(
    conn: Connection, fields: Mapping[str, Any], created_by: Any, *, created_at: datetime | None = None
) -> dict[str, Any]:
    """``created_at`` keeps an imported prompt's own time (now otherwise)."""
    row = conn.execute(
        f"""
        INSERT INTO prompts (title, description, content, category, is_public, created_by, created_at, updated_at)
        VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s, now()), coalesce(%s, now()))
        RETURNING {PROMPT_COLUMNS}
        """,
        (
            fields["title"],
            fields["description"],
            fields["content"],
            fields["category"],
            fields["is_public"],
            created_by,
            created_at,
            created_at,
        ),
    ).fetchone()
    assert row is not None
    return dict(row)
