"""AI turns of a chat: undo the last applied one, ask again, approve or reject a proposal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from chats_fn import service
from chats_fn.routes import CHAT, MESSAGE, AssistantMessageId, ChatId
from chats_fn.schemas import Decision, JobEnvelope, Message, UndoResult, job_from_row
from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.permissions import Action

router = APIRouter()


@router.post(
    "/api/chats/{id}/undo",
    response_model=UndoResult,
    summary="Undo the last applied AI turn (forward-only)",
    responses=errors(409),  # nothing_to_undo
)
def undo_turn(id: ChatId, caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=CHAT)]) -> UndoResult:
    with db.transaction() as conn:
        version, restored = service.undo_turn(conn, caller, id)
    return UndoResult(version_id=version["id"], restored_version_id=restored["id"])


@router.post(
    "/api/chats/{id}/retry",
    status_code=202,
    response_model=JobEnvelope,
    summary="Ask the AI again for the last message (a new job)",
    responses=errors(409, 503),  # nothing_to_retry or generation_in_progress; not queued
)
def retry_turn(id: ChatId, caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=CHAT)]) -> JobEnvelope:
    with db.transaction() as conn:
        job = service.retry_turn(conn, caller, id)
    service.start_job(job)
    return JobEnvelope(job=job_from_row(job, 0))


@router.post(
    "/api/messages/{id}/approve",
    response_model=Decision,
    summary="Apply an answer's proposed changes",
    # 409: decided already, stale, or package.json unusable; 413: the project would be too big.
    responses=errors(409, 413),
)
def approve_message(
    id: AssistantMessageId,
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=MESSAGE)],
) -> Decision:
    with db.transaction() as conn:
        message, version = service.approve(conn, caller, id)
    return Decision(message=Message.model_validate(message), version_id=version["id"])


@router.post(
    "/api/messages/{id}/reject",
    response_model=Decision,
    summary="Decline an answer's proposed changes",
    responses=errors(409),  # proposal_decided
)
def reject_message(
    id: AssistantMessageId,
    caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=MESSAGE)],
) -> Decision:
    with db.transaction() as conn:
        message = service.reject(conn, caller, id)
    return Decision(message=Message.model_validate(message))
