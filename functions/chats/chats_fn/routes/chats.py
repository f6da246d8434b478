"""Chats of a project: start, list, read, rename, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from chats_fn import service
from chats_fn.routes import CHAT, ChatId
from chats_fn.schemas import Chat, ChatEnvelope, ChatPage, CreateChatBody, UpdateChatBody
from mm_common import db
from mm_common.auth import Caller, organization_from_project, require
from mm_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from mm_common.permissions import Action

router = APIRouter()

PROJECT = organization_from_project("id")
ProjectId = Annotated[str, Path(description="The project's id.")]


@router.post("/api/projects/{id}/chats", status_code=201, response_model=ChatEnvelope, summary="Start a chat")
def create_chat(
    id: ProjectId,
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=PROJECT)],
    body: CreateChatBody | None = None,
) -> ChatEnvelope:
    with db.transaction() as conn:
        row = service.create_chat(conn, caller, id, body.title if body else None)
    return ChatEnvelope(chat=Chat.model_validate(row))


@router.get(
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
    with db.transaction() as conn:
        rows, next_cursor = service.list_chats(conn, caller, id, limit=limit, cursor=cursor)
    return ChatPage(items=[Chat.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/api/chats/{id}", response_model=ChatEnvelope, summary="One chat")
def get_chat(id: ChatId, caller: Annotated[Caller, require(Action.PROJECT_VIEW, organization=CHAT)]) -> ChatEnvelope:
    with db.transaction() as conn:
        row = service.get_chat(conn, caller, id)
    return ChatEnvelope(chat=Chat.model_validate(row))


@router.patch("/api/chats/{id}", response_model=ChatEnvelope, summary="Rename a chat")
def update_chat(
    id: ChatId,
    body: UpdateChatBody,
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=CHAT)],
) -> ChatEnvelope:
    with db.transaction() as conn:
        row = service.rename_chat(conn, caller, id, body.title)
    return ChatEnvelope(chat=Chat.model_validate(row))


@router.delete(
    "/api/chats/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a chat and its messages",
)
def delete_chat(id: ChatId, caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=CHAT)]) -> Response:
    with db.transaction() as conn:
        service.delete_chat(conn, caller, id)
    return Response(status_code=204)
