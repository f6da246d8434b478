"""Chats of a project, their messages, and the prompt library.

Chat routes declare project actions and find the organization through the project or the chat in
the path (``organization_from_project`` / ``organization_from_chat``), so another tenant's
project or chat, a deleted project's chats and malformed ids all answer 404 before any handler
runs. Handlers look chats up again *within* the caller's organization and among live projects
(defence in depth, and a project deleted since the check stays deleted).

Prompts belong to users, not organizations: every signed-in user sees their own prompts and the
public ones; only the creator (or a platform admin) changes a prompt. Someone else's private
prompt does not exist for the caller (404); a public prompt that is not theirs is visible but
read-only (403).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Path, Query, Response

from chats_fn.schemas import (
    MAX_CATEGORY_LENGTH,
    Chat,
    ChatEnvelope,
    ChatPage,
    ContextFile,
    ContextPreview,
    CreateChatBody,
    CreatePromptBody,
    Decision,
    Job,
    JobEnvelope,
    JobError,
    JobUsage,
    Message,
    MessagePage,
    PostedMessage,
    PostMessageBody,
    Prompt,
    PromptEnvelope,
    PromptPage,
    UndoResult,
    UpdateChatBody,
    UpdatePromptBody,
    has_control_characters,
)
from mm_common import audit, db, versions
from mm_common.ai import context, generation, jobs, proposals
from mm_common.ai.catalog import model_with_provider
from mm_common.api import create_app, lambda_handler
from mm_common.auth import (
    Caller,
    organization_from_chat,
    organization_from_job,
    organization_from_message,
    organization_from_project,
    parse_uuid,
    require,
)
from mm_common.db import Connection
from mm_common.errors import Conflict, Forbidden, NotFound, Unprocessable
from mm_common.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_time_cursor, page, time_key
from mm_common.permissions import Action, GlobalRole

app = create_app("chats")

PROJECT = organization_from_project("id")
CHAT = organization_from_chat("id")
SignedIn = Annotated[Caller, require(Action.SELF)]
ProjectId = Annotated[str, Path(description="The project's id.")]
ChatId = Annotated[str, Path(description="The chat's id.")]
PromptId = Annotated[str, Path(description="The prompt's id.")]

CHAT_NOT_FOUND = "There is no such chat, or you cannot see it."
PROJECT_NOT_FOUND = "There is no such project, or you cannot see it."
PROMPT_NOT_FOUND = "There is no such prompt, or you cannot see it."

CHAT_COLUMNS = "c.id, c.project_id, c.title, c.created_by, c.created_at, c.updated_at"
MESSAGE_COLUMNS = "id, chat_id, role, content, metadata, approval_state, created_by, created_at"
PROMPT_COLUMNS = "id, title, description, content, category, is_public, created_by, created_at, updated_at"

TITLE_FROM_MESSAGE_LENGTH = 80
ELLIPSIS = "…"
MAX_QUERY_LENGTH = 200


# ------------------------------------------------------------------------------------ helpers


def _chat(row: dict[str, Any]) -> Chat:
    return Chat.model_validate(row)


def _message(row: dict[str, Any]) -> Message:
    return Message.model_validate(row)


def _prompt(row: dict[str, Any]) -> Prompt:
    return Prompt.model_validate(row)


def _chat_or_404(conn: Connection, caller: Caller, chat_id: str, *, lock: bool = False) -> dict[str, Any]:
    """The chat in the caller's organization, in a live project (optionally row-locked)."""
    parsed = parse_uuid(chat_id)
    row = None
    if parsed is not None:
        row = conn.execute(
            f"""
            SELECT {CHAT_COLUMNS} FROM chats c JOIN projects p ON p.id = c.project_id
            WHERE c.id = %s AND p.organization_id = %s AND p.deleted_at IS NULL
            {"FOR NO KEY UPDATE OF c" if lock else ""}
            """,
            (parsed, caller.organization_id),
        ).fetchone()
    if row is None:
        raise NotFound(CHAT_NOT_FOUND)
    return row


def _live_project_id(conn: Connection, caller: Caller, project_id: str) -> uuid.UUID:
    parsed = parse_uuid(project_id)
    row = None
    if parsed is not None:
        row = conn.execute(
            "SELECT id FROM projects WHERE id = %s AND organization_id = %s AND deleted_at IS NULL",
            (parsed, caller.organization_id),
        ).fetchone()
    if row is None:
        raise NotFound(PROJECT_NOT_FOUND)
    return row["id"]  # type: ignore[no-any-return]


def title_from_message(content: str) -> str | None:
    """A chat title from a message: its first non-blank line, trimmed (runs of spaces and control
    characters collapsed to one space), at most 80 characters with an ellipsis when cut."""
    for line in content.splitlines():
        words = "".join(" " if has_control_characters(ch) else ch for ch in line).split()
        if words:
            title = " ".join(words)
            if len(title) > TITLE_FROM_MESSAGE_LENGTH:
                title = title[: TITLE_FROM_MESSAGE_LENGTH - len(ELLIPSIS)].rstrip() + ELLIPSIS
            return title
    return None


def store_user_message(conn: Connection, chat_id: uuid.UUID, user_id: uuid.UUID, content: str) -> dict[str, Any]:
    """Store a user's message in a chat and return it (the message's row).

    Bumps the chat's ``updated_at`` (it moves to the top of its project's list) and names a chat
    that has no title yet after the message. The chat's row stays locked until the transaction
    ends, and the message is stamped with ``clock_timestamp()`` after taking that lock, so the
    messages of one chat are ordered as they were committed, also several in one transaction
    (e.g. a user message and the assistant's reply). Raises 404 if the chat is gone.
    """
    chat = conn.execute(
        "UPDATE chats SET updated_at = now(), title = COALESCE(title, %s) WHERE id = %s RETURNING id",
        (title_from_message(content), chat_id),
    ).fetchone()
    if chat is None:
        raise NotFound(CHAT_NOT_FOUND)
    row = conn.execute(
        f"""
        INSERT INTO messages (chat_id, role, content, created_by, created_at)
        VALUES (%s, 'user', %s, %s, clock_timestamp())
        RETURNING {MESSAGE_COLUMNS}
        """,
        (chat_id, content, user_id),
    ).fetchone()
    assert row is not None
    return row


def _is_platform_admin(caller: Caller) -> bool:
    return caller.role == GlobalRole.ADMIN


def _sees_prompt(caller: Caller, row: dict[str, Any]) -> bool:
    return bool(row["is_public"]) or row["created_by"] == caller.user_id or _is_platform_admin(caller)


def _prompt_or_404(conn: Connection, caller: Caller, prompt_id: str, *, lock: bool = False) -> dict[str, Any]:
    parsed = parse_uuid(prompt_id)
    row = None
    if parsed is not None:
        row = conn.execute(
            f"SELECT {PROMPT_COLUMNS} FROM prompts WHERE id = %s {'FOR UPDATE' if lock else ''}", (parsed,)
        ).fetchone()
    if row is None or not _sees_prompt(caller, row):
        raise NotFound(PROMPT_NOT_FOUND)
    return row


def _prompt_to_change(conn: Connection, caller: Caller, prompt_id: str) -> dict[str, Any]:
    """A prompt the caller may change (locked): theirs, or any if they are a platform admin."""
    row = _prompt_or_404(conn, caller, prompt_id, lock=True)
    if row["created_by"] != caller.user_id and not _is_platform_admin(caller):
        raise Forbidden("Only the person who wrote this prompt may change or delete it.", code="not_prompt_owner")
    return row


def _audit_prompt_moderation(
    conn: Connection, caller: Caller, action: str, row: dict[str, Any], **details: Any
) -> None:
    """Changes to someone else's prompt (platform admins moderating the library) are audited."""
    if row["created_by"] == caller.user_id:
        return
    audit.record(
        conn,
        action,
        meta=caller.meta,
        user_id=caller.user_id,
        resource_type="prompt",
        resource_id=row["id"],
        details={
            "createdBy": str(row["created_by"]) if row["created_by"] else None,
            "title": row["title"],
            **details,
        },
    )


def _query_text(value: str | None, name: str) -> str | None:
    if value is not None and has_control_characters(value):
        message = f"'{name}' cannot contain control characters."
        raise Unprocessable(message, details=[{"field": name, "in": "query", "message": message}])
    return value


# -------------------------------------------------------------------------------------- chats


@app.post("/api/projects/{id}/chats", status_code=201, response_model=ChatEnvelope, summary="Start a chat")
def create_chat(
    id: ProjectId,
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=PROJECT)],
    body: CreateChatBody | None = None,
) -> ChatEnvelope:
    title = body.title if body else None
    with db.transaction() as conn:
        project_id = _live_project_id(conn, caller, id)
        row = conn.execute(
            f"INSERT INTO chats AS c (project_id, title, created_by) VALUES (%s, %s, %s) RETURNING {CHAT_COLUMNS}",
            (project_id, title, caller.user_id),
        ).fetchone()
    assert row is not None
    return ChatEnvelope(chat=_chat(row))


@app.get(
    "/api/projects/{id}/chats",
    response_model=ChatPage,
    summary="The project's chats, most recently active first",
)
def list_chats(
    id: ProjectId,
    caller: Annotated[Caller, require(Action.PROJECT_VIEW, organization=PROJECT)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ChatPage:
    key = decode_time_cursor(cursor)
    conditions: list[str] = ["c.project_id = %s", "p.organization_id = %s", "p.deleted_at IS NULL"]
    params: list[Any] = [parse_uuid(id), caller.organization_id]
    if key:
        conditions.append("(c.updated_at, c.id) < (%s, %s)")
        params += key
    rows = db.fetch_all(
        f"SELECT {CHAT_COLUMNS} FROM chats c JOIN projects p ON p.id = c.project_id"
        f" WHERE {' AND '.join(conditions)} ORDER BY c.updated_at DESC, c.id DESC LIMIT %s",
        (*params, limit + 1),
    )
    items, next_cursor = page(rows, limit, time_key("updated_at"))
    return ChatPage(items=[_chat(r) for r in items], next_cursor=next_cursor)


@app.get("/api/chats/{id}", response_model=ChatEnvelope, summary="One chat")
def get_chat(id: ChatId, caller: Annotated[Caller, require(Action.PROJECT_VIEW, organization=CHAT)]) -> ChatEnvelope:
    with db.transaction() as conn:
        row = _chat_or_404(conn, caller, id)
    return ChatEnvelope(chat=_chat(row))


@app.patch("/api/chats/{id}", response_model=ChatEnvelope, summary="Rename a chat")
def update_chat(
    id: ChatId,
    body: UpdateChatBody,
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=CHAT)],
) -> ChatEnvelope:
    with db.transaction() as conn:
        before = _chat_or_404(conn, caller, id, lock=True)
        if before["title"] == body.title:
            return ChatEnvelope(chat=_chat(before))
        after = conn.execute(
            f"UPDATE chats AS c SET title = %s WHERE c.id = %s RETURNING {CHAT_COLUMNS}", (body.title, before["id"])
        ).fetchone()
    assert after is not None
    return ChatEnvelope(chat=_chat(after))


@app.delete(
    "/api/chats/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a chat and its messages",
)
def delete_chat(id: ChatId, caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=CHAT)]) -> Response:
    parsed = parse_uuid(id)
    with db.transaction() as conn:
        # Messages (and generation jobs) go with the chat: ON DELETE CASCADE.
        row = conn.execute(
            """
            DELETE FROM chats c USING projects p
            WHERE c.id = %s AND p.id = c.project_id AND p.organization_id = %s AND p.deleted_at IS NULL
            RETURNING c.id, c.project_id, c.title
            """,
            (parsed, caller.organization_id),
        ).fetchone()
        if row is None:
            raise NotFound(CHAT_NOT_FOUND)
        audit.record(
            conn,
            "chat.delete",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=caller.organization_id,
            resource_type="chat",
            resource_id=row["id"],
            details={"projectId": str(row["project_id"]), "title": row["title"]},
        )
    return Response(status_code=204)


# ----------------------------------------------------------------------------------- messages


@app.get(
    "/api/chats/{id}/messages",
    response_model=MessagePage,
    summary="The chat's messages, oldest first",
)
def list_messages(
    id: ChatId,
    caller: Annotated[Caller, require(Action.PROJECT_VIEW, organization=CHAT)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> MessagePage:
    key = decode_time_cursor(cursor)
    with db.transaction() as conn:
        chat = _chat_or_404(conn, caller, id)
        conditions: list[str] = ["chat_id = %s"]
        params: list[Any] = [chat["id"]]
        if key:
            conditions.append("(created_at, id) > (%s, %s)")
            params += key
        rows = conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {' AND '.join(conditions)} ORDER BY created_at, id LIMIT %s",
            (*params, limit + 1),
        ).fetchall()
    items, next_cursor = page(rows, limit, time_key("created_at"))
    return MessagePage(items=[_message(r) for r in items], next_cursor=next_cursor)


@app.post(
    "/api/chats/{id}/messages",
    status_code=202,
    response_model=PostedMessage,
    summary="Post a message: the AI answers it in a job (poll GET /api/jobs/{id})",
)
def post_message(
    id: ChatId,
    body: PostMessageBody,
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=CHAT)],
) -> PostedMessage:
    assert caller.user_id is not None
    with db.transaction() as conn:
        chat = _chat_or_404(conn, caller, id)
        row = store_user_message(conn, chat["id"], caller.user_id, body.content)
        model_id = body.model_id or jobs.default_model_id(conn, caller.user_id)
        job = jobs.create_job(
            conn,
            chat=chat,
            organization_id=caller.organization_id,
            user_message_id=row["id"],
            model_id=model_id,
            mode=body.mode,
            created_by=caller.user_id,
        )
    jobs.announce(job["id"])
    return PostedMessage(message=_message(row), job=_job(job, 0))


def _job(row: dict[str, Any], since: int) -> Job:
    error = JobError(code=row["error_code"], message=row["error_message"] or "") if row["error_code"] else None
    return Job(
        id=row["id"],
        chat_id=row["chat_id"],
        status=row["status"],
        mode=row["mode"],
        model_id=row["model_id"],
        output=row["output"][since:],
        output_offset=min(since, len(row["output"])),
        output_length=len(row["output"]),
        usage=JobUsage(prompt_tokens=row["prompt_tokens"], completion_tokens=row["completion_tokens"]),
        error=error,
        user_message_id=row["user_message_id"],
        assistant_message_id=row["assistant_message_id"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


JOB = organization_from_job("id")
MESSAGE = organization_from_message("id")


def _job_or_404(conn: Connection, caller: Caller, job_id: str, *, lock: bool = False) -> dict[str, Any]:
    parsed = parse_uuid(job_id)
    row = None
    if parsed is not None:
        row = conn.execute(
            f"SELECT {jobs.JOB_COLUMNS} FROM generation_jobs WHERE id = %s AND organization_id = %s"
            + (" FOR UPDATE" if lock else ""),
            (parsed, caller.organization_id),
        ).fetchone()
    if row is None:
        raise NotFound("There is no such job, or you cannot see it.")
    return dict(row)


@app.get("/api/jobs/{id}", response_model=JobEnvelope, summary="A generation job and its streamed output")
def get_job(
    id: Annotated[str, Path(description="The job's id.")],
    caller: Annotated[Caller, require(Action.PROJECT_VIEW, organization=JOB)],
    since: Annotated[int, Query(ge=0, description="Return the output from this character on.")] = 0,
) -> JobEnvelope:
    with db.transaction() as conn:
        row = _job_or_404(conn, caller, id)
    return JobEnvelope(job=_job(row, since))


@app.post("/api/jobs/{id}/cancel", response_model=JobEnvelope, summary="Stop a generation")
def cancel_job(
    id: Annotated[str, Path(description="The job's id.")],
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=JOB)],
) -> JobEnvelope:
    with db.transaction() as conn:
        row = _job_or_404(conn, caller, id, lock=True)
        if row["status"] == "queued":
            conn.execute(
                "UPDATE generation_jobs SET status = 'canceled', cancel_requested_at = now(), finished_at = now()"
                " WHERE id = %s",
                (row["id"],),
            )
        elif row["status"] == "running":
            # The worker sees this at its next flush and stops the stream.
            conn.execute("UPDATE generation_jobs SET cancel_requested_at = now() WHERE id = %s", (row["id"],))
        row = _job_or_404(conn, caller, id)
    return JobEnvelope(job=_job(row, 0))


def _message_in_org(conn: Connection, caller: Caller, message_id: str) -> dict[str, Any]:
    parsed = parse_uuid(message_id)
    row = None
    if parsed is not None:
        row = conn.execute(
            f"SELECT {', '.join('m.' + c.strip() for c in MESSAGE_COLUMNS.split(','))} FROM messages m"
            " JOIN chats c ON c.id = m.chat_id JOIN projects p ON p.id = c.project_id"
            " WHERE m.id = %s AND p.organization_id = %s",
            (parsed, caller.organization_id),
        ).fetchone()
    if row is None:
        raise NotFound("There is no such message, or you cannot see it.")
    return dict(row)


@app.get(
    "/api/chats/{id}/context-preview",
    response_model=ContextPreview,
    summary="Exactly which files, and how many tokens, a message would send to the model",
)
def context_preview(
    id: ChatId,
    caller: Annotated[Caller, require(Action.PROJECT_VIEW, organization=CHAT)],
    prompt: Annotated[str, Query(max_length=100_000)] = "",
    model_id: Annotated[uuid.UUID | None, Query(alias="modelId")] = None,
    mode: Annotated[str, Query(pattern="^(build|ask)$")] = "build",
) -> ContextPreview:
    with db.transaction() as conn:
        chat = _chat_or_404(conn, caller, id)
        chosen = model_id or jobs.default_model_id(conn, caller.user_id)
        model = model_with_provider(conn, chosen)
        if model is None:
            raise Unprocessable("This model is not available.", code="model_unavailable")
        files, history, recent = generation.load_inputs(conn, project_id=chat["project_id"], chat_id=chat["id"])
    _messages, plan = generation.build_messages(files, history, prompt, recent, model, mode)
    return ContextPreview(
        model_id=model["model_id"],
        context_window=model["context_window"] or 32_000,
        max_output_tokens=model["max_output_tokens"] or 4_096,
        budget=plan.budget,
        system_tokens=plan.system_tokens,
        history_tokens=plan.history_tokens,
        file_tokens=plan.file_tokens,
        included=[ContextFile(path=p, tokens=context.estimate_tokens(files[p])) for p in plan.included],
        listed=plan.listed,
    )


@app.post("/api/chats/{id}/undo", response_model=UndoResult, summary="Undo the last applied AI turn (forward-only)")
def undo_turn(id: ChatId, caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=CHAT)]) -> UndoResult:
    with db.transaction() as conn:
        chat = _chat_or_404(conn, caller, id)
        last = conn.execute(
            "SELECT source_version_id FROM messages WHERE chat_id = %s AND approval_state = 'approved'"
            " AND source_version_id IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT 1",
            (chat["id"],),
        ).fetchone()
        if last is None:
            raise Conflict("There is no applied AI change in this chat to undo.", code="nothing_to_undo")
        source = versions.get_version(conn, chat["project_id"], last["source_version_id"])
        version = versions.restore(conn, chat["project_id"], source, caller.user_id)
    return UndoResult(version_id=version["id"], restored_version_id=source["id"])


@app.post(
    "/api/chats/{id}/retry",
    status_code=202,
    response_model=JobEnvelope,
    summary="Ask the AI again for the last message (a new job)",
)
def retry_turn(id: ChatId, caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=CHAT)]) -> JobEnvelope:
    with db.transaction() as conn:
        chat = _chat_or_404(conn, caller, id)
        last = conn.execute(
            "SELECT id FROM messages WHERE chat_id = %s AND role = 'user' ORDER BY created_at DESC, id DESC LIMIT 1",
            (chat["id"],),
        ).fetchone()
        if last is None:
            raise Conflict("There is no message to answer again.", code="nothing_to_retry")
        previous = conn.execute(
            "SELECT model_id, mode FROM generation_jobs WHERE user_message_id = %s ORDER BY created_at DESC LIMIT 1",
            (last["id"],),
        ).fetchone()
        job = jobs.create_job(
            conn,
            chat=chat,
            organization_id=caller.organization_id,
            user_message_id=last["id"],
            model_id=(previous and previous["model_id"]) or jobs.default_model_id(conn, caller.user_id),
            mode=previous["mode"] if previous else "build",
            created_by=caller.user_id,
        )
    jobs.announce(job["id"])
    return JobEnvelope(job=_job(job, 0))


@app.post("/api/messages/{id}/approve", response_model=Decision, summary="Apply an answer's proposed changes")
def approve_message(
    id: Annotated[str, Path(description="The assistant message's id.")],
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=MESSAGE)],
) -> Decision:
    with db.transaction() as conn:
        message = _message_in_org(conn, caller, id)
        version = proposals.approve(conn, message["id"], caller.user_id)
        message = _message_in_org(conn, caller, id)
    return Decision(message=_message(message), version_id=version["id"])


@app.post("/api/messages/{id}/reject", response_model=Decision, summary="Decline an answer's proposed changes")
def reject_message(
    id: Annotated[str, Path(description="The assistant message's id.")],
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=MESSAGE)],
) -> Decision:
    with db.transaction() as conn:
        message = _message_in_org(conn, caller, id)
        proposals.reject(conn, message["id"])
        message = _message_in_org(conn, caller, id)
    return Decision(message=_message(message))


# ------------------------------------------------------------------------------------ prompts


@app.post("/api/prompts", status_code=201, response_model=PromptEnvelope, summary="Save a prompt")
def create_prompt(body: CreatePromptBody, caller: SignedIn) -> PromptEnvelope:
    with db.transaction() as conn:
        row = conn.execute(
            f"""
            INSERT INTO prompts (title, description, content, category, is_public, created_by)
            VALUES (%s, %s, %s, %s, %s, %s)
            RETURNING {PROMPT_COLUMNS}
            """,
            (body.title, body.description, body.content, body.category, body.is_public, caller.user_id),
        ).fetchone()
    assert row is not None
    return PromptEnvelope(prompt=_prompt(row))


@app.get(
    "/api/prompts",
    response_model=PromptPage,
    summary="Prompts the caller may use: their own and the public ones, newest first",
)
def list_prompts(
    caller: SignedIn,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    category: Annotated[
        str | None, Query(max_length=MAX_CATEGORY_LENGTH, description="Only this category (exact).")
    ] = None,
    mine: Annotated[bool, Query(description="Only the caller's own prompts.")] = False,
    q: Annotated[
        str | None,
        Query(max_length=MAX_QUERY_LENGTH, description="Title or description contains this (case-insensitive)."),
    ] = None,
) -> PromptPage:
    category = _query_text(category, "category")
    q = (_query_text(q, "q") or "").strip()
    key = decode_time_cursor(cursor)
    conditions: list[str] = ["created_by = %s" if mine else "(created_by = %s OR is_public)"]
    params: list[Any] = [caller.user_id]
    if category is not None:
        conditions.append("category = %s")
        params.append(category)
    if q:
        pattern = db.contains_pattern(q)
        conditions.append("(title ILIKE %s ESCAPE '\\' OR description ILIKE %s ESCAPE '\\')")
        params += [pattern, pattern]
    if key:
        conditions.append("(created_at, id) < (%s, %s)")
        params += key
    rows = db.fetch_all(
        f"SELECT {PROMPT_COLUMNS} FROM prompts WHERE {' AND '.join(conditions)}"
        " ORDER BY created_at DESC, id DESC LIMIT %s",
        (*params, limit + 1),
    )
    items, next_cursor = page(rows, limit, time_key("created_at"))
    return PromptPage(items=[_prompt(r) for r in items], next_cursor=next_cursor)


@app.get("/api/prompts/{id}", response_model=PromptEnvelope, summary="One prompt")
def get_prompt(id: PromptId, caller: SignedIn) -> PromptEnvelope:
    with db.transaction() as conn:
        row = _prompt_or_404(conn, caller, id)
    return PromptEnvelope(prompt=_prompt(row))


@app.patch(
    "/api/prompts/{id}",
    response_model=PromptEnvelope,
    summary="Change a prompt (its creator, or a platform admin)",
)
def update_prompt(id: PromptId, body: UpdatePromptBody, caller: SignedIn) -> PromptEnvelope:
    changes = {field: getattr(body, field) for field in body.model_fields_set}
    with db.transaction() as conn:
        before = _prompt_to_change(conn, caller, id)
        changes = {field: value for field, value in changes.items() if value != before[field]}
        if not changes:
            return PromptEnvelope(prompt=_prompt(before))
        # Column names come from the body model's fields, never from the client's keys.
        assignments = ", ".join(f"{field} = %s" for field in changes)
        after = conn.execute(
            f"UPDATE prompts SET {assignments} WHERE id = %s RETURNING {PROMPT_COLUMNS}",
            (*changes.values(), before["id"]),
        ).fetchone()
        assert after is not None
        _audit_prompt_moderation(conn, caller, "prompt.update", before, fields=sorted(changes))
    return PromptEnvelope(prompt=_prompt(after))


@app.delete(
    "/api/prompts/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a prompt (its creator, or a platform admin)",
)
def delete_prompt(id: PromptId, caller: SignedIn) -> Response:
    with db.transaction() as conn:
        row = _prompt_to_change(conn, caller, id)
        conn.execute("DELETE FROM prompts WHERE id = %s", (row["id"],))
        _audit_prompt_moderation(conn, caller, "prompt.delete", row)
    return Response(status_code=204)


handler = lambda_handler(app)
