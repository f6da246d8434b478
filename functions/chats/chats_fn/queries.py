"""The SQL the chats service reads with, and the prompt library's writes (its only writer).

Chats and messages are written through :mod:`mm_common.messages`, generation jobs through
:mod:`mm_common.ai.jobs`; here they are only read. Ids arrive parsed (``uuid.UUID``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from mm_common import db
from mm_common.ai.jobs import JOB_COLUMNS
from mm_common.db import Connection
from mm_common.messages import CHAT_COLUMNS, MESSAGE_COLUMNS
from mm_common.pagination import Keyset, fetch_page
from mm_common.prompts import PROMPT_COLUMNS


def _qualified(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


Page = tuple[list[dict[str, Any]], str | None]

# ------------------------------------------------------------------------------ chats, messages

CHATS_BY_ACTIVITY = Keyset(column="c.updated_at", id_column="c.id", descending=True)
MESSAGES_OLDEST_FIRST = Keyset(column="created_at", id_column="id", descending=False)
# The chat's (c) generation job still queued or running, if any: what a reloaded page resumes
# streaming from. At most one (uq_generation_jobs_one_active); newest first all the same.
ACTIVE_JOB_ID = """
    (SELECT j.id FROM generation_jobs j WHERE j.chat_id = c.id AND j.status IN ('queued', 'running')
     ORDER BY j.created_at DESC, j.id DESC LIMIT 1) AS active_job_id
"""


def chat_in_organization(
    conn: Connection, chat_id: uuid.UUID, organization_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any] | None:
    """The chat, if it belongs to a live project of the organization (optionally row-locked), with
    its ``active_job_id``."""
    row = conn.execute(
        f"""
        SELECT {_qualified(CHAT_COLUMNS, "c")}, {ACTIVE_JOB_ID}
        FROM chats c JOIN projects p ON p.id = c.project_id
        WHERE c.id = %s AND p.organization_id = %s AND p.deleted_at IS NULL
        {"FOR NO KEY UPDATE OF c" if lock else ""}
        """,
        (chat_id, organization_id),
    ).fetchone()
    return dict(row) if row else None


def live_project_id(conn: Connection, project_id: uuid.UUID, organization_id: uuid.UUID) -> uuid.UUID | None:
    row = conn.execute(
        "SELECT id FROM projects WHERE id = %s AND organization_id = %s AND deleted_at IS NULL",
        (project_id, organization_id),
    ).fetchone()
    return row["id"] if row else None


def chats_page(
    conn: Connection, project_id: uuid.UUID, organization_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page:
    """A live project's chats, most recently active first, each with its ``active_job_id``."""
    return fetch_page(
        conn,
        f"SELECT {_qualified(CHAT_COLUMNS, 'c')}, {ACTIVE_JOB_ID} FROM chats c JOIN projects p ON p.id = c.project_id",
        ["c.project_id = %s", "p.organization_id = %s", "p.deleted_at IS NULL"],
        [project_id, organization_id],
        CHATS_BY_ACTIVITY,
        limit=limit,
        cursor=cursor,
    )


def messages_page(conn: Connection, chat_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    """A chat's messages, oldest first."""
    return fetch_page(
        conn,
        f"SELECT {MESSAGE_COLUMNS} FROM messages",
        ["chat_id = %s"],
        [chat_id],
        MESSAGES_OLDEST_FIRST,
        limit=limit,
        cursor=cursor,
    )


def message_in_organization(
    conn: Connection, message_id: uuid.UUID, organization_id: uuid.UUID
) -> dict[str, Any] | None:
    row = conn.execute(
        f"""
        SELECT {_qualified(MESSAGE_COLUMNS, "m")} FROM messages m
        JOIN chats c ON c.id = m.chat_id JOIN projects p ON p.id = c.project_id
        WHERE m.id = %s AND p.organization_id = %s
        """,
        (message_id, organization_id),
    ).fetchone()
    return dict(row) if row else None


def last_applied_source_version(conn: Connection, chat_id: uuid.UUID) -> Any:
    """The version the chat's most recent applied AI turn was applied on (None: no such turn)."""
    row = conn.execute(
        """
        SELECT source_version_id FROM messages
        WHERE chat_id = %s AND approval_state = 'approved' AND source_version_id IS NOT NULL
        ORDER BY created_at DESC, id DESC LIMIT 1
        """,
        (chat_id,),
    ).fetchone()
    return row["source_version_id"] if row else None


def last_user_message_id(conn: Connection, chat_id: uuid.UUID) -> Any:
    row = conn.execute(
        "SELECT id FROM messages WHERE chat_id = %s AND role = 'user' ORDER BY created_at DESC, id DESC LIMIT 1",
        (chat_id,),
    ).fetchone()
    return row["id"] if row else None


# -------------------------------------------------------------------------------------- jobs


def job_in_organization(
    conn: Connection, job_id: uuid.UUID, organization_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {JOB_COLUMNS} FROM generation_jobs WHERE id = %s AND organization_id = %s"
        + (" FOR UPDATE" if lock else ""),
        (job_id, organization_id),
    ).fetchone()
    return dict(row) if row else None


def latest_job_for_message(conn: Connection, user_message_id: Any) -> dict[str, Any] | None:
    """The model and mode the message was last answered with."""
    row = conn.execute(
        "SELECT model_id, mode FROM generation_jobs WHERE user_message_id = %s ORDER BY created_at DESC LIMIT 1",
        (user_message_id,),
    ).fetchone()
    return dict(row) if row else None


# ----------------------------------------------------------------------------------- prompts

PROMPTS_NEWEST_FIRST = Keyset(column="created_at", id_column="id", descending=True)


def prompt(conn: Connection, prompt_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {PROMPT_COLUMNS} FROM prompts WHERE id = %s" + (" FOR UPDATE" if lock else ""), (prompt_id,)
    ).fetchone()
    return dict(row) if row else None


def update_prompt(conn: Connection, prompt_id: Any, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change the given columns (names from the body model's fields, never from the client's keys)."""
    row = db.update_row(conn, "prompts", changes, {"id": prompt_id}, returning=PROMPT_COLUMNS)
    assert row is not None
    return dict(row)


def delete_prompt(conn: Connection, prompt_id: Any) -> None:
    conn.execute("DELETE FROM prompts WHERE id = %s", (prompt_id,))


def prompts_page(
    conn: Connection,
    user_id: Any,
    *,
    mine: bool,
    category: str | None,
    text: str | None,
    limit: int,
    cursor: str | None,
) -> Page:
    """The caller's prompts (and the public ones unless ``mine``), newest first; ``text`` is
    looked for in the title and the description, case-insensitively and literally."""
    conditions = ["created_by = %s" if mine else "(created_by = %s OR is_public)"]
    params: list[Any] = [user_id]
    if category is not None:
        conditions.append("category = %s")
        params.append(category)
    if text:
        pattern = db.contains_pattern(text)
        conditions.append("(title ILIKE %s ESCAPE '\\' OR description ILIKE %s ESCAPE '\\')")
        params += [pattern, pattern]
    return fetch_page(
        conn,
        f"SELECT {PROMPT_COLUMNS} FROM prompts",
        conditions,
        params,
        PROMPTS_NEWEST_FIRST,
        limit=limit,
        cursor=cursor,
    )
