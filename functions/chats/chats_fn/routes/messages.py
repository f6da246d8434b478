"""A chat's messages: read them; post one (the AI answers it in a generation job)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from chats_fn import service
from chats_fn.routes import CHAT, ChatId
from chats_fn.schemas import Message, MessagePage, PostedMessage, PostMessageBody, job_from_row
from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from mm_common.permissions import Action

router = APIRouter()


@router.get(
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
    with db.transaction() as conn:
        rows, next_cursor = service.list_messages(conn, caller, id, limit=limit, cursor=cursor)
    return MessagePage(items=[Message.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/api/chats/{id}/messages",
    status_code=202,
    response_model=PostedMessage,
    summary="Post a message: the AI answers it in a job (poll GET /api/jobs/{id})",
    # 409: the chat's previous answer is still being made; 503: the job could not be queued.
    responses=errors(409, 503),
)
def post_message(
    id: ChatId,
    body: PostMessageBody,
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=CHAT)],
) -> PostedMessage:
    with db.transaction() as conn:
        message, job = service.post_message(
            conn, caller, id, content=body.content, model_id=body.model_id, mode=body.mode
        )
    service.start_job(job)
    return PostedMessage(message=Message.model_validate(message), job=job_from_row(job, 0))
