"""Users' own AI provider keys (BYOK): stored sealed, only ever shown masked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from ai_fn import service
from ai_fn.schemas import ApiKey, ApiKeyBody, ApiKeyEnvelope, ApiKeyList
from mm_common import db
from mm_common.auth import Caller, require
from mm_common.permissions import Action

router = APIRouter()

SignedIn = Annotated[Caller, require(Action.SELF)]


@router.get("/api/users/me/api-keys", response_model=ApiKeyList, summary="Your AI provider keys (masked)")
def list_keys(caller: SignedIn) -> ApiKeyList:
    with db.transaction() as conn:
        rows = service.list_keys(conn, caller)
    return ApiKeyList(items=[ApiKey.model_validate(r) for r in rows])


@router.get(
    "/api/users/me/api-keys/{providerId}", response_model=ApiKeyEnvelope, summary="Your key for one provider (masked)"
)
def get_key(provider_id: Annotated[str, Path(alias="providerId")], caller: SignedIn) -> ApiKeyEnvelope:
    pid = service.id_or_404(provider_id, "key")
    with db.transaction() as conn:
        row = service.get_key(conn, caller, pid)
    return ApiKeyEnvelope(api_key=ApiKey.model_validate(row))


@router.put("/api/users/me/api-keys/{providerId}", response_model=ApiKeyEnvelope, summary="Set your key for a provider")
def put_key(
    provider_id: Annotated[str, Path(alias="providerId")], body: ApiKeyBody, caller: SignedIn
) -> ApiKeyEnvelope:
    pid = service.id_or_404(provider_id, "provider")
    with db.transaction() as conn:
        row = service.set_key(conn, caller, pid, body.api_key)
    return ApiKeyEnvelope(api_key=ApiKey.model_validate(row))


@router.delete(
    "/api/users/me/api-keys/{providerId}", status_code=204, response_class=Response, summary="Remove your key"
)
def delete_key(provider_id: Annotated[str, Path(alias="providerId")], caller: SignedIn) -> Response:
    pid = service.id_or_404(provider_id, "key")
    with db.transaction() as conn:
        service.delete_key(conn, caller, pid)
    return Response(status_code=204)
