"""AI providers (platform administrators and co-administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from ai_fn import service
from ai_fn.schemas import Provider, ProviderBody, ProviderEnvelope, ProviderList, ProviderPatch
from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.permissions import Action

router = APIRouter()

CatalogAdmin = Annotated[Caller, require(Action.AI_MODELS_MANAGE)]
PlatformAdmin = Annotated[Caller, require(Action.AI_PROVIDERS_CONFIGURE)]


@router.get("/api/admin/ai-providers", response_model=ProviderList, summary="AI providers")
def list_providers(caller: CatalogAdmin) -> ProviderList:
    with db.transaction() as conn:
        rows = service.list_providers(conn)
    return ProviderList(items=[Provider.model_validate(r) for r in rows])


@router.post(
    "/api/admin/ai-providers",
    status_code=201,
    response_model=ProviderEnvelope,
    summary="Add a provider",
    responses=errors(409),
)
def create_provider(body: ProviderBody, caller: PlatformAdmin) -> ProviderEnvelope:
    with db.transaction() as conn:
        row = service.create_provider(conn, caller, body.model_dump())
    return ProviderEnvelope(provider=Provider.model_validate(row))


@router.get("/api/admin/ai-providers/{id}", response_model=ProviderEnvelope, summary="One provider")
def get_provider(id: Annotated[str, Path()], caller: CatalogAdmin) -> ProviderEnvelope:
    provider_id = service.id_or_404(id, "provider")
    with db.transaction() as conn:
        row = service.get_provider(conn, provider_id)
    return ProviderEnvelope(provider=Provider.model_validate(row))


@router.patch("/api/admin/ai-providers/{id}", response_model=ProviderEnvelope, summary="Change a provider")
def update_provider(id: Annotated[str, Path()], body: ProviderPatch, caller: CatalogAdmin) -> ProviderEnvelope:
    provider_id = service.id_or_404(id, "provider")
    with db.transaction() as conn:
        row = service.update_provider(conn, caller, provider_id, body.model_dump(exclude_unset=True))
    return ProviderEnvelope(provider=Provider.model_validate(row))


@router.delete(
    "/api/admin/ai-providers/{id}", status_code=204, response_class=Response, summary="Remove a provider and its models"
)
def delete_provider(id: Annotated[str, Path()], caller: CatalogAdmin) -> Response:
    provider_id = service.id_or_404(id, "provider")
    with db.transaction() as conn:
        service.delete_provider(conn, caller, provider_id)
    return Response(status_code=204)
