"""Chats and their messages: the one writer of the ``chats`` and ``messages`` tables.

Every message is added here (the user's, and the assistant's answer), every chat title is set
here (given when the chat starts, renamed, or taken from the first message or from the answer's
summary), and a proposal's decision (approved with the versions it links, or rejected) is
recorded here. The chats function and the generation pipeline call these functions inside their
own transactions; nothing here commits.

Ordering: adding a message first updates (and so locks) the chat's row, then stamps the message
with ``clock_timestamp()``, so the messages of one chat are ordered as they were committed, also
several in one transaction.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from mm_common import db
from mm_common.db import Connection
from mm_common.errors import Conflict, NotFound

CHAT_COLUMNS = "id, project_id, title, created_by, created_at, updated_at"
MESSAGE_COLUMNS = "id, chat_id, role, content, metadata, approval_state, proposal, created_by, created_at"

CHAT_NOT_FOUND = "There is no such chat, or you cannot see it."
TITLE_FROM_TEXT_LENGTH = 80
ELLIPSIS = "…"


def title_from_message(content: str) -> str | None:
    """A chat title from a text: its first non-blank line, trimmed (runs of spaces and control
    characters collapsed to one space), at most 80 characters with an ellipsis when cut."""
    for line in content.splitlines():
        words = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in line).split()
        if words:
            title = " ".join(words)
            if len(title) > TITLE_FROM_TEXT_LENGTH:
                title = title[: TITLE_FROM_TEXT_LENGTH - len(ELLIPSIS)].rstrip() + ELLIPSIS
            return title
    return None


# -------------------------------------------------------------------------------------- chats


def create_chat(conn: Connection, *, project_id: Any, title: str | None, created_by: Any) -> dict[str, Any]:
    row = conn.execute(
        f"INSERT INTO chats (project_id, title, created_by) VALUES (%s, %s, %s) RETURNING {CHAT_COLUMNS}",
        (project_id, title, created_by),
    ).fetchone()
    assert row is not None
    return dict(row)


def rename_chat(conn: Connection, chat_id: Any, title: str) -> dict[str, Any]:
    row = conn.execute(
        f"UPDATE chats SET title = %s WHERE id = %s RETURNING {CHAT_COLUMNS}", (title, chat_id)
    ).fetchone()
    if row is None:
        raise NotFound(CHAT_NOT_FOUND)
    return dict(row)


def delete_chat(conn: Connection, chat_id: Any, *, organization_id: Any) -> dict[str, Any] | None:
    """Delete a chat of a live project of the organization; its messages and generation jobs go
    with it (ON DELETE CASCADE). The deleted chat's row, or None when there was no such chat."""
    row = conn.execute(
        f"""
        DELETE FROM chats c USING projects p
        WHERE c.id = %s AND p.id = c.project_id AND p.organization_id = %s AND p.deleted_at IS NULL
        RETURNING {", ".join("c." + column.strip() for column in CHAT_COLUMNS.split(","))}
        """,
        (chat_id, organization_id),
    ).fetchone()
    return dict(row) if row else None


def _touch_chat(conn: Connection, chat_id: Any, title: str | None) -> None:
    """Bump the chat's activity (it moves to the top of its project's list) and name it when it
    has no title yet; the row stays locked until the transaction ends. 404 if the chat is gone."""
    row = conn.execute(
        "UPDATE chats SET updated_at = now(), title = coalesce(title, %s) WHERE id = %s RETURNING id",
        (title, chat_id),
    ).fetchone()
    if row is None:
        raise NotFound(CHAT_NOT_FOUND)


# ----------------------------------------------------------------------------------- messages


def add_user_message(conn: Connection, *, chat_id: Any, user_id: Any, content: str) -> dict[str, Any]:
    """Store a user's message; an untitled chat is named after it."""
    _touch_chat(conn, chat_id, title_from_message(content))
    row = conn.execute(
        f"""
        INSERT INTO messages (chat_id, role, content, created_by, created_at)
        VALUES (%s, 'user', %s, %s, clock_timestamp())
        RETURNING {MESSAGE_COLUMNS}
        """,
        (chat_id, content, user_id),
    ).fetchone()
    assert row is not None
    return dict(row)


def add_assistant_message(
    conn: Connection,
    *,
    chat_id: Any,
    content: str,
    metadata: dict[str, Any],
    proposal: dict[str, Any] | None,
    model_id: Any,
    summary: str | None,
) -> dict[str, Any]:
    """Store the model's answer. With a proposal (file changes) it waits for approval; a chat
    still untitled is named after the answer's summary."""
    _touch_chat(conn, chat_id, title_from_message(summary) if summary else None)
    row = conn.execute(
        f"""
        INSERT INTO messages (chat_id, role, content, metadata, approval_state, proposal, model_id, created_at)
        VALUES (%s, 'assistant', %s, %s, %s, %s, %s, clock_timestamp())
        RETURNING {MESSAGE_COLUMNS}
        """,
        (
            chat_id,
            content,
            db.jsonb(metadata),
            "pending" if proposal else None,
            db.jsonb(proposal) if proposal else None,
            model_id,
        ),
    ).fetchone()
    assert row is not None
    return dict(row)


# ------------------------------------------------------------------------------------ imports


def import_chat(
    conn: Connection,
    *,
    project_id: Any,
    title: str | None,
    created_by: Any,
    created_at: Any,
    initial_version_id: Any,
) -> dict[str, Any]:
    """A chat brought over from the desktop app, with its own time and the version it started at."""
    row = conn.execute(
        f"""
        INSERT INTO chats (project_id, title, created_by, created_at, updated_at, initial_version_id)
        VALUES (%s, %s, %s, coalesce(%s, now()), coalesce(%s, now()), %s)
        RETURNING {CHAT_COLUMNS}
        """,
        (project_id, title, created_by, created_at, created_at, initial_version_id),
    ).fetchone()
    assert row is not None
    return dict(row)


def import_message(
    conn: Connection,
    *,
    chat_id: Any,
    role: str,
    content: str,
    created_at: Any,
    created_by: Any,
    metadata: dict[str, Any],
    approval_state: str | None,
    proposal: dict[str, Any] | None,
    source_version_id: Any,
    result_version_id: Any,
) -> dict[str, Any]:
    """A message brought over as it was decided: an approved turn links the versions it was applied on and
    made, so undo and "what did this turn change" work as on a native one. Messages keep their own times;
    the caller adds them in the desktop app's order (ties broken by insertion)."""
    row = conn.execute(
        f"""
        INSERT INTO messages (chat_id, role, content, metadata, approval_state, proposal, source_version_id,
                              result_version_id, created_by, created_at, updated_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, clock_timestamp()), coalesce(%s, clock_timestamp()))
        RETURNING {MESSAGE_COLUMNS}
        """,
        (
            chat_id,
            role,
            content,
            db.jsonb(metadata),
            approval_state,
            db.jsonb(proposal) if proposal else None,
            source_version_id,
            result_version_id,
            created_by,
            created_at,
            created_at,
        ),
    ).fetchone()
    assert row is not None
    return dict(row)


# ---------------------------------------------------------------------------------- proposals


def pending_proposal(conn: Connection, message_id: Any) -> dict[str, Any]:
    """The assistant message's proposal, locked for the decision: 404 when it proposes nothing,
    409 when it was decided already."""
    row = conn.execute(
        """
        SELECT m.id, m.content, m.proposal, m.approval_state, c.project_id, p.organization_id
        FROM messages m JOIN chats c ON c.id = m.chat_id JOIN projects p ON p.id = c.project_id
        WHERE m.id = %s AND m.role = 'assistant' FOR UPDATE OF m
        """,
        (message_id,),
    ).fetchone()
    if row is None or row["proposal"] is None:
        raise NotFound("This message proposes no changes.")
    if row["approval_state"] != "pending":
        raise Conflict(f"This proposal was {row['approval_state']} already.", code="proposal_decided")
    return dict(row)


def record_approval(
    conn: Connection,
    message_id: Any,
    *,
    source_version_id: Any,
    result_version_id: Any,
    outcomes: list[dict[str, Any]],
) -> None:
    """The proposal was applied: the version it was applied on (what undo returns to), the
    version it made, and how each action went."""
    conn.execute(
        """
        UPDATE messages SET approval_state = 'approved', source_version_id = %s, result_version_id = %s,
            proposal = proposal || jsonb_build_object('applied', %s::jsonb)
        WHERE id = %s
        """,
        (source_version_id, result_version_id, json.dumps(outcomes), message_id),
    )


def record_rejection(conn: Connection, message_id: Any) -> None:
    conn.execute("UPDATE messages SET approval_state = 'rejected' WHERE id = %s", (message_id,))
