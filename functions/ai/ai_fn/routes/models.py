"""AI models of the catalog (platform administrators and co-administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from ai_fn import service
from ai_fn.schemas import Model, ModelBody, ModelEnvelope, ModelList, ModelPatch
from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.permissions import Action

router = APIRouter()

CatalogAdmin = Annotated[Caller, require(Action.AI_MODELS_MANAGE)]


@router.get("/api/admin/ai-models", response_model=ModelList, summary="AI models")
def list_models(caller: CatalogAdmin) -> ModelList:
    with db.transaction() as conn:
        rows = service.list_models(conn)
    return ModelList(items=[Model.model_validate(r) for r in rows])


@router.post(
    "/api/admin/ai-models", status_code=201, response_model=ModelEnvelope, summary="Add a model", responses=errors(409)
)
def create_model(body: ModelBody, caller: CatalogAdmin) -> ModelEnvelope:
    with db.transaction() as conn:
        row = service.create_model(conn, caller, body.model_dump())
    return ModelEnvelope(model=Model.model_validate(row))


@router.get("/api/admin/ai-models/{id}", response_model=ModelEnvelope, summary="One model")
def get_model(id: Annotated[str, Path()], caller: CatalogAdmin) -> ModelEnvelope:
    model_id = service.id_or_404(id, "model")
    with db.transaction() as conn:
        row = service.get_model(conn, model_id)
    return ModelEnvelope(model=Model.model_validate(row))


@router.patch("/api/admin/ai-models/{id}", response_model=ModelEnvelope, summary="Change a model")
def update_model(id: Annotated[str, Path()], body: ModelPatch, caller: CatalogAdmin) -> ModelEnvelope:
    model_id = service.id_or_404(id, "model")
    with db.transaction() as conn:
        row = service.update_model(conn, caller, model_id, body.model_dump(exclude_unset=True))
    return ModelEnvelope(model=Model.model_validate(row))


@router.delete("/api/admin/ai-models/{id}", status_code=204, response_class=Response, summary="Remove a model")
def delete_model(id: Annotated[str, Path()], caller: CatalogAdmin) -> Response:
    model_id = service.id_or_404(id, "model")
    with db.transaction() as conn:
        service.delete_model(conn, caller, model_id)
    return Response(status_code=204)
