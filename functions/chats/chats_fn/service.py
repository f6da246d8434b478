"""The rules of chats, messages, generation jobs, AI turns and the prompt library.

Plain functions over the route's transaction (``conn``) and the :class:`Caller`; they raise
``ApiError`` subclasses and never commit. Chats and messages are written through
:mod:`mm_common.messages`, jobs through :mod:`mm_common.ai.jobs`.

Chat routes find the organization through the project, chat, job or message in the path, so
another tenant's resource, a deleted project's chats and malformed ids answer 404 before any of
this runs. These functions look everything up again *within* the caller's organization and among
live projects (defence in depth, and a project deleted since the check stays deleted).

Prompts belong to users, not organizations: every signed-in user sees their own prompts and the
public ones; only the creator, or whoever may moderate the library (``PROMPTS_MODERATE``),
changes one. Someone else's private prompt does not exist for the caller (404); a public prompt
that is not theirs is visible but read-only (403).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from chats_fn import queries
from chats_fn.queries import Page
from chats_fn.schemas import has_control_characters
from mm_common import audit, messages, prompts, versions
from mm_common.ai import context, generation, jobs, proposals
from mm_common.ai.catalog import model_with_provider
from mm_common.ai.context import ContextPlan
from mm_common.auth import Caller, parse_uuid
from mm_common.db import Connection
from mm_common.errors import Conflict, Forbidden, NotFound, Unprocessable
from mm_common.observability import count, traced
from mm_common.permissions import Action

SERVICE = "chats"

CHAT_NOT_FOUND = messages.CHAT_NOT_FOUND
PROJECT_NOT_FOUND = "There is no such project, or you cannot see it."
PROMPT_NOT_FOUND = "There is no such prompt, or you cannot see it."
JOB_NOT_FOUND = "There is no such job, or you cannot see it."
MESSAGE_NOT_FOUND = "There is no such message, or you cannot see it."


def _chat(conn: Connection, caller: Caller, chat_id: str, *, lock: bool = False) -> dict[str, Any]:
    """The chat in the caller's organization, in a live project (optionally row-locked)."""
    parsed = parse_uuid(chat_id)
    row: dict[str, Any] | None = (
        queries.chat_in_organization(conn, parsed, caller.organization_id, lock=lock) if parsed else None
    )
    if row is None:
        raise NotFound(CHAT_NOT_FOUND)
    return row


# -------------------------------------------------------------------------------------- chats


@traced(SERVICE)
def create_chat(conn: Connection, caller: Caller, project_id: str, title: str | None) -> dict[str, Any]:
    parsed = parse_uuid(project_id)
    live = queries.live_project_id(conn, parsed, caller.organization_id) if parsed else None
    if live is None:
        raise NotFound(PROJECT_NOT_FOUND)
    chat = messages.create_chat(conn, project_id=live, title=title, created_by=caller.user_id)
    count(SERVICE, "ChatCreated")
    return {**chat, "active_job_id": None}  # nothing asked yet


@traced(SERVICE)
def list_chats(conn: Connection, caller: Caller, project_id: str, *, limit: int, cursor: str | None) -> Page:
    parsed = parse_uuid(project_id)
    if parsed is None:
        raise NotFound(PROJECT_NOT_FOUND)
    return queries.chats_page(conn, parsed, caller.organization_id, limit=limit, cursor=cursor)


@traced(SERVICE)
def get_chat(conn: Connection, caller: Caller, chat_id: str) -> dict[str, Any]:
    """The chat, with the generation job still answering in it (``active_job_id``), if any."""
    return _chat(conn, caller, chat_id)


@traced(SERVICE)
def rename_chat(conn: Connection, caller: Caller, chat_id: str, title: str) -> dict[str, Any]:
    """Rename; the same title again changes nothing (not even the chat's activity time)."""
    before = _chat(conn, caller, chat_id, lock=True)
    if before["title"] == title:
        return before
    chat = messages.rename_chat(conn, before["id"], title)
    count(SERVICE, "ChatRenamed")
    return {**chat, "active_job_id": before["active_job_id"]}


@traced(SERVICE)
def delete_chat(conn: Connection, caller: Caller, chat_id: str) -> None:
    parsed = parse_uuid(chat_id)
    row = messages.delete_chat(conn, parsed, organization_id=caller.organization_id) if parsed else None
    if row is None:
        raise NotFound(CHAT_NOT_FOUND)
    audit.log(
        conn,
        caller,
        "chat.delete",
        resource_type="chat",
        resource_id=row["id"],
        details={"projectId": str(row["project_id"]), "title": row["title"]},
    )
    count(SERVICE, "ChatDeleted")


# ----------------------------------------------------------------------------------- messages


@traced(SERVICE)
def list_messages(conn: Connection, caller: Caller, chat_id: str, *, limit: int, cursor: str | None) -> Page:
    chat = _chat(conn, caller, chat_id)
    return queries.messages_page(conn, chat["id"], limit=limit, cursor=cursor)


@traced(SERVICE)
def post_message(
    conn: Connection, caller: Caller, chat_id: str, *, content: str, model_id: uuid.UUID | None, mode: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Store the caller's message and the job that will answer it: (message, job). The job is
    announced with :func:`start_job` once this transaction committed."""
    assert caller.user_id is not None
    chat = _chat(conn, caller, chat_id)
    message = messages.add_user_message(conn, chat_id=chat["id"], user_id=caller.user_id, content=content)
    job = jobs.create_job(
        conn,
        chat=chat,
        organization_id=caller.organization_id,
        user_message_id=message["id"],
        model_id=model_id or jobs.default_model_id(conn, caller.user_id),
        mode=mode,
        created_by=caller.user_id,
    )
    count(SERVICE, "MessageSent")
    return message, job


@traced(SERVICE)
def start_job(job: dict[str, Any]) -> None:
    """Hand a committed job to the worker queue (503 when the queue cannot take it)."""
    jobs.announce(job["id"])


# -------------------------------------------------------------------------------------- jobs


def _job(conn: Connection, caller: Caller, job_id: str, *, lock: bool = False) -> dict[str, Any]:
    parsed = parse_uuid(job_id)
    row: dict[str, Any] | None = (
        queries.job_in_organization(conn, parsed, caller.organization_id, lock=lock) if parsed else None
    )
    if row is None:
        raise NotFound(JOB_NOT_FOUND)
    return row


@traced(SERVICE)
def get_job(conn: Connection, caller: Caller, job_id: str) -> dict[str, Any]:
    return _job(conn, caller, job_id)


@traced(SERVICE)
def cancel_job(conn: Connection, caller: Caller, job_id: str) -> dict[str, Any]:
    """Stop a job (see :func:`mm_common.ai.jobs.request_cancel`); a finished job is returned as is."""
    job = _job(conn, caller, job_id, lock=True)
    if job["status"] in ("queued", "running"):
        jobs.request_cancel(conn, job["id"])
        job = _job(conn, caller, job_id)
        count(SERVICE, "JobCanceled")
    return job


@dataclass(frozen=True)
class Preview:
    """What a message would send to the model: which model and its window, the plan, and each
    included file's tokens."""

    model_id: uuid.UUID
    context_window: int
    max_output_tokens: int
    plan: ContextPlan
    file_tokens: dict[str, int]
    design_system: str | None = None


@traced(SERVICE)
def context_preview(
    conn: Connection, caller: Caller, chat_id: str, *, prompt: str, model_id: uuid.UUID | None, mode: str
) -> Preview:
    chat = _chat(conn, caller, chat_id)
    model = model_with_provider(conn, model_id or jobs.default_model_id(conn, caller.user_id))
    if model is None:
        raise Unprocessable("This model is not available.", code="model_unavailable")
    files, history, recent = generation.load_inputs(conn, project_id=chat["project_id"], chat_id=chat["id"])
    design = generation.load_design(conn, chat["project_id"], prompt)
    _messages, plan = generation.build_messages(files, history, prompt, recent, model, mode, design)
    return Preview(
        model_id=model["model_id"],
        context_window=generation.context_window(model),
        max_output_tokens=generation.max_output_tokens(model),
        plan=plan,
        file_tokens={path: context.estimate_tokens(files[path]) for path in plan.included},
        design_system=design.text if design is not None else None,
    )


# ------------------------------------------------------------------------------------ AI turns


@traced(SERVICE)
def undo_turn(conn: Connection, caller: Caller, chat_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Restore the version the chat's last applied AI turn was applied on, as a new version
    (history only moves forward): (the new version, the version restored)."""
    chat = _chat(conn, caller, chat_id)
    source_version_id = queries.last_applied_source_version(conn, chat["id"])
    if source_version_id is None:
        raise Conflict("There is no applied AI change in this chat to undo.", code="nothing_to_undo")
    source = versions.get_version(conn, chat["project_id"], source_version_id)
    version = versions.restore(conn, chat["project_id"], source, caller.user_id)
    count(SERVICE, "TurnUndone")
    return version, source


@traced(SERVICE)
def retry_turn(conn: Connection, caller: Caller, chat_id: str) -> dict[str, Any]:
    """A new job answering the chat's last user message, with the model and mode it was last
    answered with (announce it with :func:`start_job` after the commit)."""
    chat = _chat(conn, caller, chat_id)
    message_id = queries.last_user_message_id(conn, chat["id"])
    if message_id is None:
        raise Conflict("There is no message to answer again.", code="nothing_to_retry")
    previous = queries.latest_job_for_message(conn, message_id)
    job = jobs.create_job(
        conn,
        chat=chat,
        organization_id=caller.organization_id,
        user_message_id=message_id,
        model_id=(previous and previous["model_id"]) or jobs.default_model_id(conn, caller.user_id),
        mode=previous["mode"] if previous else "build",
        created_by=caller.user_id,
    )
    count(SERVICE, "TurnRetried")
    return job


def _message(conn: Connection, caller: Caller, message_id: str) -> dict[str, Any]:
    parsed = parse_uuid(message_id)
    row: dict[str, Any] | None = (
        queries.message_in_organization(conn, parsed, caller.organization_id) if parsed else None
    )
    if row is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    return row


@traced(SERVICE)
def approve(conn: Connection, caller: Caller, message_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply an answer's proposal: (the message, decided, and the version it made)."""
    message = _message(conn, caller, message_id)
    version = proposals.approve(conn, message["id"], caller.user_id)
    count(SERVICE, "ProposalApproved")
    return _message(conn, caller, message_id), version


@traced(SERVICE)
def reject(conn: Connection, caller: Caller, message_id: str) -> dict[str, Any]:
    message = _message(conn, caller, message_id)
    proposals.reject(conn, message["id"])
    count(SERVICE, "ProposalRejected")
    return _message(conn, caller, message_id)


# ------------------------------------------------------------------------------------ prompts


def _sees_prompt(caller: Caller, row: dict[str, Any]) -> bool:
    return bool(row["is_public"]) or row["created_by"] == caller.user_id or caller.may(Action.PROMPTS_MODERATE)


def _prompt(conn: Connection, caller: Caller, prompt_id: str, *, lock: bool = False) -> dict[str, Any]:
    parsed = parse_uuid(prompt_id)
    row: dict[str, Any] | None = queries.prompt(conn, parsed, lock=lock) if parsed else None
    if row is None or not _sees_prompt(caller, row):
        raise NotFound(PROMPT_NOT_FOUND)
    return row


def _prompt_to_change(conn: Connection, caller: Caller, prompt_id: str) -> dict[str, Any]:
    """A prompt the caller may change (locked): theirs, or any if they moderate the library."""
    row = _prompt(conn, caller, prompt_id, lock=True)
    if row["created_by"] != caller.user_id and not caller.may(Action.PROMPTS_MODERATE):
        raise Forbidden("Only the person who wrote this prompt may change or delete it.", code="not_prompt_owner")
    return row


def _audit_moderation(conn: Connection, caller: Caller, action: str, row: dict[str, Any], **details: Any) -> None:
    """Changes to someone else's prompt (moderating the library) are audited."""
    if row["created_by"] == caller.user_id:
        return
    audit.log(
        conn,
        caller,
        action,
        resource_type="prompt",
        resource_id=row["id"],
        details={"createdBy": str(row["created_by"]) if row["created_by"] else None, "title": row["title"], **details},
    )


def _query_text(value: str | None, name: str) -> str | None:
    """A text filter from the query string: no control characters (NUL included)."""
    if value is not None and has_control_characters(value):
        message = f"'{name}' cannot contain control characters."
        raise Unprocessable(message, details=[{"field": name, "in": "query", "message": message}])
    return value


@traced(SERVICE)
def create_prompt(conn: Connection, caller: Caller, fields: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = prompts.insert_prompt(conn, fields, caller.user_id)
    count(SERVICE, "PromptCreated")
    return row


@traced(SERVICE)
def list_prompts(
    conn: Connection,
    caller: Caller,
    *,
    mine: bool,
    category: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> Page:
    category = _query_text(category, "category")
    text = (_query_text(q, "q") or "").strip()
    return queries.prompts_page(
        conn, caller.user_id, mine=mine, category=category, text=text or None, limit=limit, cursor=cursor
    )


@traced(SERVICE)
def get_prompt(conn: Connection, caller: Caller, prompt_id: str) -> dict[str, Any]:
    return _prompt(conn, caller, prompt_id)


@traced(SERVICE)
def update_prompt(conn: Connection, caller: Caller, prompt_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Change the fields given; those equal to what is stored are left alone (nothing changed:
    the prompt as it is, its update time included)."""
    before = _prompt_to_change(conn, caller, prompt_id)
    changes = {field: value for field, value in fields.items() if value != before[field]}
    if not changes:
        return before
    after: dict[str, Any] = queries.update_prompt(conn, before["id"], changes)
    _audit_moderation(conn, caller, "prompt.update", before, fields=sorted(changes))
    count(SERVICE, "PromptUpdated")
    return after


@traced(SERVICE)
def delete_prompt(conn: Connection, caller: Caller, prompt_id: str) -> None:
    row = _prompt_to_change(conn, caller, prompt_id)
    queries.delete_prompt(conn, row["id"])
    _audit_moderation(conn, caller, "prompt.delete", row)
    count(SERVICE, "PromptDeleted")
