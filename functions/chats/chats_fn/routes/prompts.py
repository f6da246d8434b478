"""The prompt library: users' own prompts and the public ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from chats_fn import service
from chats_fn.schemas import (
    MAX_CATEGORY_LENGTH,
    MAX_QUERY_LENGTH,
    CreatePromptBody,
    Prompt,
    PromptEnvelope,
    PromptPage,
    UpdatePromptBody,
)
from mm_common import db
from mm_common.auth import Caller, require
from mm_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from mm_common.permissions import Action

router = APIRouter()

SignedIn = Annotated[Caller, require(Action.SELF)]
PromptId = Annotated[str, Path(description="The prompt's id.")]


@router.post("/api/prompts", status_code=201, response_model=PromptEnvelope, summary="Save a prompt")
def create_prompt(body: CreatePromptBody, caller: SignedIn) -> PromptEnvelope:
    with db.transaction() as conn:
        row = service.create_prompt(conn, caller, body.model_dump())
    return PromptEnvelope(prompt=Prompt.model_validate(row))


@router.get(
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
    with db.transaction() as conn:
        rows, next_cursor = service.list_prompts(
            conn, caller, mine=mine, category=category, q=q, limit=limit, cursor=cursor
        )
    return PromptPage(items=[Prompt.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/api/prompts/{id}", response_model=PromptEnvelope, summary="One prompt")
def get_prompt(id: PromptId, caller: SignedIn) -> PromptEnvelope:
    with db.transaction() as conn:
        row = service.get_prompt(conn, caller, id)
    return PromptEnvelope(prompt=Prompt.model_validate(row))


@router.patch(
    "/api/prompts/{id}",
    response_model=PromptEnvelope,
    summary="Change a prompt (its creator, or a platform admin)",
)
def update_prompt(id: PromptId, body: UpdatePromptBody, caller: SignedIn) -> PromptEnvelope:
    with db.transaction() as conn:
        row = service.update_prompt(conn, caller, id, body.model_dump(include=body.model_fields_set))
    return PromptEnvelope(prompt=Prompt.model_validate(row))


@router.delete(
    "/api/prompts/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a prompt (its creator, or a platform admin)",
)
def delete_prompt(id: PromptId, caller: SignedIn) -> Response:
    with db.transaction() as conn:
        service.delete_prompt(conn, caller, id)
    return Response(status_code=204)
