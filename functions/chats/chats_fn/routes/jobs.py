"""Generation jobs: follow one's streamed output, stop it, and preview what one would send."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from chats_fn import service
from chats_fn.routes import CHAT, JOB, ChatId, JobId
from chats_fn.schemas import ContextDesignSystem, ContextFile, ContextPreview, JobEnvelope, job_from_row
from mm_common import db
from mm_common.auth import Caller, require
from mm_common.permissions import Action

router = APIRouter()


@router.get("/api/jobs/{id}", response_model=JobEnvelope, summary="A generation job and its streamed output")
def get_job(
    id: JobId,
    caller: Annotated[Caller, require(Action.PROJECT_VIEW, organization=JOB)],
    since: Annotated[int, Query(ge=0, description="Return the output from this character on.")] = 0,
) -> JobEnvelope:
    with db.transaction() as conn:
        row = service.get_job(conn, caller, id)
    return JobEnvelope(job=job_from_row(row, since))


@router.post("/api/jobs/{id}/cancel", response_model=JobEnvelope, summary="Stop a generation")
def cancel_job(id: JobId, caller: Annotated[Caller, require(Action.PROJECT_EDIT, organization=JOB)]) -> JobEnvelope:
    with db.transaction() as conn:
        row = service.cancel_job(conn, caller, id)
    return JobEnvelope(job=job_from_row(row, 0))


@router.get(
    "/api/chats/{id}/context-preview",
    response_model=ContextPreview,
    summary="Exactly which files, design system and tokens a message would send to the model",
)
def context_preview(
    id: ChatId,
    caller: Annotated[Caller, require(Action.PROJECT_VIEW, organization=CHAT)],
    prompt: Annotated[str, Query(max_length=100_000)] = "",
    model_id: Annotated[uuid.UUID | None, Query(alias="modelId")] = None,
    mode: Annotated[str, Query(pattern="^(build|ask)$")] = "build",
) -> ContextPreview:
    with db.transaction() as conn:
        preview = service.context_preview(conn, caller, id, prompt=prompt, model_id=model_id, mode=mode)
    plan = preview.plan
    return ContextPreview(
        model_id=preview.model_id,
        context_window=preview.context_window,
        max_output_tokens=preview.max_output_tokens,
        budget=plan.budget,
        system_tokens=plan.system_tokens,
        design_system=ContextDesignSystem(
            text=preview.design_system, tokens=plan.design_system_tokens, page_name=plan.design_system_page
        )
        if preview.design_system is not None
        else None,
        history_tokens=plan.history_tokens,
        file_tokens=plan.file_tokens,
        included=[ContextFile(path=path, tokens=tokens) for path, tokens in preview.file_tokens.items()],
        listed=plan.listed,
    )
