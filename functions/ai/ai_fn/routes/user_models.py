"""The models a signed-in user may pick, and which key a call would use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from ai_fn import service
from ai_fn.schemas import AvailableModel, AvailableModelList
from mm_common import db
from mm_common.auth import Caller, require
from mm_common.permissions import Action

router = APIRouter()

SignedIn = Annotated[Caller, require(Action.SELF)]


@router.get("/api/ai/models", response_model=AvailableModelList, summary="Models you can use, and with which key")
def available_models(caller: SignedIn) -> AvailableModelList:
    with db.transaction() as conn:
        rows = service.usable_models(conn, caller)
    return AvailableModelList(items=[AvailableModel.model_validate(r) for r in rows])
