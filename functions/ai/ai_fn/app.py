"""The AI catalog (providers, models) for admins, the models users may pick, and users' own keys."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import psycopg
from fastapi import Path, Response
from pydantic import Field, field_validator

from mm_common import audit, db
from mm_common.ai.keys import platform_api_key, seal_key
from mm_common.api import create_app, lambda_handler
from mm_common.auth import Caller, parse_uuid, require
from mm_common.db import Connection
from mm_common.errors import Conflict, Forbidden, NotFound, Unprocessable
from mm_common.models import ApiModel, UtcDatetime
from mm_common.permissions import Action, GlobalRole

app = create_app("ai")

CatalogAdmin = Annotated[Caller, require(Action.AI_MODELS_MANAGE)]
PlatformAdmin = Annotated[Caller, require(Action.AI_PROVIDERS_CONFIGURE)]
SignedIn = Annotated[Caller, require(Action.SELF)]
ProviderKind = Literal["openai", "anthropic", "gemini", "openrouter", "openai_compatible"]
PROVIDER_COLUMNS = "id, slug, name, kind, api_base_url, env_var_name, is_builtin, is_enabled, created_at, updated_at"
MODEL_COLUMNS = (
    "id, provider_id, display_name, api_name, description, max_output_tokens, context_window, is_available,"
    " input_price_per_million_tokens, output_price_per_million_tokens, created_at, updated_at"
)


def _base_url(value: str | None) -> str | None:
    # Only platform admins set base URLs (the workers will call them: an SSRF surface); still,
    # only plain http(s) URLs without credentials or fragments.
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username or parts.password or parts.fragment:
        raise ValueError("Give the API's root URL, like https://api.openai.com/v1 (http or https, no credentials).")
    return value.strip().rstrip("/")


class Provider(ApiModel):
    id: uuid.UUID
    slug: str
    name: str
    kind: ProviderKind
    api_base_url: str
    env_var_name: str | None
    is_builtin: bool
    is_enabled: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime


class ProviderBody(ApiModel):
    slug: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=255)
    kind: ProviderKind
    api_base_url: str = Field(max_length=2048)
    env_var_name: str | None = Field(default=None, max_length=100, pattern=r"^[A-Z_][A-Z0-9_]*$")
    is_enabled: bool = True

    _url = field_validator("api_base_url")(_base_url)


class ProviderPatch(ApiModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    api_base_url: str | None = Field(default=None, max_length=2048)
    env_var_name: str | None = Field(default=None, max_length=100, pattern=r"^[A-Z_][A-Z0-9_]*$")
    is_enabled: bool | None = None

    _url = field_validator("api_base_url")(_base_url)


class Model(ApiModel):
    id: uuid.UUID
    provider_id: uuid.UUID
    display_name: str
    api_name: str
    description: str | None
    max_output_tokens: int | None
    context_window: int | None
    is_available: bool
    input_price_per_million_tokens: Decimal | None
    output_price_per_million_tokens: Decimal | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class ModelBody(ApiModel):
    provider_id: uuid.UUID
    display_name: str = Field(min_length=1, max_length=255)
    api_name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    max_output_tokens: int | None = Field(default=None, gt=0, le=1_000_000)
    context_window: int | None = Field(default=None, gt=0, le=10_000_000)
    is_available: bool = True
    input_price_per_million_tokens: Decimal | None = Field(default=None, ge=0)
    output_price_per_million_tokens: Decimal | None = Field(default=None, ge=0)


class ModelPatch(ApiModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    max_output_tokens: int | None = Field(default=None, gt=0, le=1_000_000)
    context_window: int | None = Field(default=None, gt=0, le=10_000_000)
    is_available: bool | None = None
    input_price_per_million_tokens: Decimal | None = Field(default=None, ge=0)
    output_price_per_million_tokens: Decimal | None = Field(default=None, ge=0)


class ProviderEnvelope(ApiModel):
    provider: Provider


class ProviderList(ApiModel):
    items: list[Provider]


class ModelEnvelope(ApiModel):
    model: Model


class ModelList(ApiModel):
    items: list[Model]


class AvailableModel(ApiModel):
    id: uuid.UUID
    display_name: str
    api_name: str
    description: str | None
    context_window: int | None
    max_output_tokens: int | None
    provider_id: uuid.UUID
    provider_name: str
    provider_kind: ProviderKind
    # Whether a call would use the caller's own key, the platform's (metered), or cannot run.
    key_source: Literal["user", "platform", "none"]


class AvailableModelList(ApiModel):
    items: list[AvailableModel]


class ApiKeyBody(ApiModel):
    api_key: str = Field(min_length=8, max_length=4096)

    @field_validator("api_key")
    @classmethod
    def _clean(cls, value: str) -> str:
        value = value.strip()
        if any(ch.isspace() for ch in value) or not value.isprintable():
            raise ValueError(
                "An API key has no spaces or control characters: paste it exactly as the provider shows it."
            )
        return value


class ApiKey(ApiModel):
    provider_id: uuid.UUID
    provider_name: str
    # Only the last four characters ever leave the server.
    masked_key: str
    is_active: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime


class ApiKeyEnvelope(ApiModel):
    api_key: ApiKey


class ApiKeyList(ApiModel):
    items: list[ApiKey]


def _id_or_404(value: str, what: str) -> uuid.UUID:
    parsed = parse_uuid(value)
    if parsed is None:
        raise NotFound(f"There is no such {what}.")
    return parsed


def _update(conn: Connection, table: str, columns: str, row_id: uuid.UUID, changes: dict[str, Any], what: str) -> Any:
    if changes:
        assignments = ", ".join(f"{column} = %s" for column in changes)  # columns from the models only
        row = conn.execute(
            f"UPDATE {table} SET {assignments} WHERE id = %s RETURNING {columns}", (*changes.values(), row_id)
        ).fetchone()
    else:
        row = conn.execute(f"SELECT {columns} FROM {table} WHERE id = %s", (row_id,)).fetchone()
    if row is None:
        raise NotFound(f"There is no such {what}.")
    return row


def _delete(table: str, resource: str, row_id: uuid.UUID, caller: Caller) -> Response:
    with db.transaction() as conn:
        if not conn.execute(f"DELETE FROM {table} WHERE id = %s", (row_id,)).rowcount:  # table: a constant
            raise NotFound(f"There is no such {resource.removeprefix('ai_')}.")
        audit.record(
            conn,
            f"{resource}.delete",
            meta=caller.meta,
            user_id=caller.user_id,
            resource_type=resource,
            resource_id=row_id,
        )
    return Response(status_code=204)


# ------------------------------------------------------------------------------- providers (admin)


@app.get("/api/admin/ai-providers", response_model=ProviderList, summary="AI providers")
def list_providers(caller: CatalogAdmin) -> ProviderList:
    rows = db.fetch_all(f"SELECT {PROVIDER_COLUMNS} FROM ai_providers ORDER BY name, id")
    return ProviderList(items=[Provider.model_validate(r) for r in rows])


@app.post("/api/admin/ai-providers", status_code=201, response_model=ProviderEnvelope, summary="Add a provider")
def create_provider(body: ProviderBody, caller: PlatformAdmin) -> ProviderEnvelope:
    with db.transaction() as conn:
        row = conn.execute(
            f"""
            INSERT INTO ai_providers (slug, name, kind, api_base_url, env_var_name, is_enabled, is_builtin)
            VALUES (%s, %s, %s, %s, %s, %s, FALSE) ON CONFLICT (slug) DO NOTHING RETURNING {PROVIDER_COLUMNS}
            """,
            (body.slug, body.name, body.kind, body.api_base_url, body.env_var_name, body.is_enabled),
        ).fetchone()
        if row is None:
            raise Conflict(f"A provider with the slug '{body.slug}' exists already.", code="slug_taken")
        audit.record(
            conn,
            "ai_provider.create",
            meta=caller.meta,
            user_id=caller.user_id,
            resource_type="ai_provider",
            resource_id=row["id"],
            details={"slug": body.slug, "baseUrl": body.api_base_url},
        )
    return ProviderEnvelope(provider=Provider.model_validate(row))


@app.get("/api/admin/ai-providers/{id}", response_model=ProviderEnvelope, summary="One provider")
def get_provider(id: Annotated[str, Path()], caller: CatalogAdmin) -> ProviderEnvelope:
    row = db.fetch_one(f"SELECT {PROVIDER_COLUMNS} FROM ai_providers WHERE id = %s", (_id_or_404(id, "provider"),))
    if row is None:
        raise NotFound("There is no such provider.")
    return ProviderEnvelope(provider=Provider.model_validate(row))


@app.patch("/api/admin/ai-providers/{id}", response_model=ProviderEnvelope, summary="Change a provider")
def update_provider(id: Annotated[str, Path()], body: ProviderPatch, caller: CatalogAdmin) -> ProviderEnvelope:
    provider_id = _id_or_404(id, "provider")
    changes = body.model_dump(exclude_unset=True)
    if "api_base_url" in changes and caller.role != GlobalRole.ADMIN:
        raise Forbidden("Only platform administrators may change where a provider is called.", code="admin_only")
    if any(changes.get(k) is None for k in ("name", "api_base_url", "is_enabled") if k in changes):
        raise Unprocessable("name, apiBaseUrl and isEnabled cannot be null; leave them out to keep them.")
    with db.transaction() as conn:
        row = _update(conn, "ai_providers", PROVIDER_COLUMNS, provider_id, changes, "provider")
        if changes:
            audit.record(
                conn,
                "ai_provider.update",
                meta=caller.meta,
                user_id=caller.user_id,
                resource_type="ai_provider",
                resource_id=provider_id,
                details={"fields": sorted(changes)},
            )
    return ProviderEnvelope(provider=Provider.model_validate(row))


@app.delete(
    "/api/admin/ai-providers/{id}", status_code=204, response_class=Response, summary="Remove a provider and its models"
)
def delete_provider(id: Annotated[str, Path()], caller: CatalogAdmin) -> Response:
    return _delete("ai_providers", "ai_provider", _id_or_404(id, "provider"), caller)


# ------------------------------------------------------------------------------- models (admin)


@app.get("/api/admin/ai-models", response_model=ModelList, summary="AI models")
def list_models(caller: CatalogAdmin) -> ModelList:
    rows = db.fetch_all(f"SELECT {MODEL_COLUMNS} FROM ai_models ORDER BY display_name, id")
    return ModelList(items=[Model.model_validate(r) for r in rows])


@app.post("/api/admin/ai-models", status_code=201, response_model=ModelEnvelope, summary="Add a model")
def create_model(body: ModelBody, caller: CatalogAdmin) -> ModelEnvelope:
    with db.transaction() as conn:
        try:
            with conn.transaction():
                row = conn.execute(
                    f"""
                    INSERT INTO ai_models (provider_id, display_name, api_name, description, max_output_tokens,
                        context_window, is_available, input_price_per_million_tokens, output_price_per_million_tokens)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {MODEL_COLUMNS}
                    """,
                    (
                        body.provider_id,
                        body.display_name,
                        body.api_name,
                        body.description,
                        body.max_output_tokens,
                        body.context_window,
                        body.is_available,
                        body.input_price_per_million_tokens,
                        body.output_price_per_million_tokens,
                    ),
                ).fetchone()
        except psycopg.errors.ForeignKeyViolation:
            raise Unprocessable("There is no such provider.", details=[{"field": "providerId"}]) from None
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"This provider has a model '{body.api_name}' already.", code="model_exists") from None
        assert row is not None
        audit.record(
            conn,
            "ai_model.create",
            meta=caller.meta,
            user_id=caller.user_id,
            resource_type="ai_model",
            resource_id=row["id"],
            details={"apiName": body.api_name},
        )
    return ModelEnvelope(model=Model.model_validate(row))


@app.get("/api/admin/ai-models/{id}", response_model=ModelEnvelope, summary="One model")
def get_model(id: Annotated[str, Path()], caller: CatalogAdmin) -> ModelEnvelope:
    row = db.fetch_one(f"SELECT {MODEL_COLUMNS} FROM ai_models WHERE id = %s", (_id_or_404(id, "model"),))
    if row is None:
        raise NotFound("There is no such model.")
    return ModelEnvelope(model=Model.model_validate(row))


@app.patch("/api/admin/ai-models/{id}", response_model=ModelEnvelope, summary="Change a model")
def update_model(id: Annotated[str, Path()], body: ModelPatch, caller: CatalogAdmin) -> ModelEnvelope:
    model_id = _id_or_404(id, "model")
    changes = body.model_dump(exclude_unset=True)
    if any(changes.get(k) is None for k in ("display_name", "is_available") if k in changes):
        raise Unprocessable("displayName and isAvailable cannot be null; leave them out to keep them.")
    with db.transaction() as conn:
        row = _update(conn, "ai_models", MODEL_COLUMNS, model_id, changes, "model")
        if changes:
            audit.record(
                conn,
                "ai_model.update",
                meta=caller.meta,
                user_id=caller.user_id,
                resource_type="ai_model",
                resource_id=model_id,
                details={"fields": sorted(changes)},
            )
    return ModelEnvelope(model=Model.model_validate(row))


@app.delete("/api/admin/ai-models/{id}", status_code=204, response_class=Response, summary="Remove a model")
def delete_model(id: Annotated[str, Path()], caller: CatalogAdmin) -> Response:
    return _delete("ai_models", "ai_model", _id_or_404(id, "model"), caller)


# ------------------------------------------------------------------------------- what users see


@app.get("/api/ai/models", response_model=AvailableModelList, summary="Models you can use, and with which key")
def available_models(caller: SignedIn) -> AvailableModelList:
    rows = db.fetch_all(
        """
        SELECT m.id, m.display_name, m.api_name, m.description, m.context_window, m.max_output_tokens,
               p.id AS provider_id, p.name AS provider_name, p.kind AS provider_kind, p.env_var_name,
               k.id IS NOT NULL AS has_user_key
        FROM ai_models m
        JOIN ai_providers p ON p.id = m.provider_id
        LEFT JOIN user_api_keys k ON k.provider_id = p.id AND k.user_id = %s AND k.is_active
        WHERE m.is_available AND p.is_enabled
        ORDER BY p.name, m.display_name
        """,
        (caller.user_id,),
    )
    items = []
    for r in rows:
        source = "user" if r["has_user_key"] else "platform" if platform_api_key(r["env_var_name"]) else "none"
        fields = {k: r[k] for k in AvailableModel.model_fields if k != "key_source"}
        items.append(AvailableModel.model_validate({**fields, "key_source": source}))
    return AvailableModelList(items=items)


# ------------------------------------------------------------------------------- users' own keys (BYOK)


def _api_key(row: dict[str, Any]) -> ApiKey:
    return ApiKey(
        provider_id=row["provider_id"],
        provider_name=row["provider_name"],
        masked_key=f"••••{row['key_last4']}",
        is_active=row["is_active"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


KEY_SELECT = """
    SELECT k.provider_id, p.name AS provider_name, k.key_last4, k.is_active, k.created_at, k.updated_at
    FROM user_api_keys k JOIN ai_providers p ON p.id = k.provider_id
"""


@app.get("/api/users/me/api-keys", response_model=ApiKeyList, summary="Your AI provider keys (masked)")
def list_keys(caller: SignedIn) -> ApiKeyList:
    rows = db.fetch_all(KEY_SELECT + " WHERE k.user_id = %s ORDER BY p.name", (caller.user_id,))
    return ApiKeyList(items=[_api_key(r) for r in rows])


@app.get(
    "/api/users/me/api-keys/{providerId}", response_model=ApiKeyEnvelope, summary="Your key for one provider (masked)"
)
def get_key(provider_id: Annotated[str, Path(alias="providerId")], caller: SignedIn) -> ApiKeyEnvelope:
    row = db.fetch_one(
        KEY_SELECT + " WHERE k.user_id = %s AND k.provider_id = %s", (caller.user_id, _id_or_404(provider_id, "key"))
    )
    if row is None:
        raise NotFound("You have no key for this provider.")
    return ApiKeyEnvelope(api_key=_api_key(row))


@app.put("/api/users/me/api-keys/{providerId}", response_model=ApiKeyEnvelope, summary="Set your key for a provider")
def put_key(
    provider_id: Annotated[str, Path(alias="providerId")], body: ApiKeyBody, caller: SignedIn
) -> ApiKeyEnvelope:
    pid = _id_or_404(provider_id, "provider")
    encrypted_key, encrypted_data_key = seal_key(caller.user_id, pid, body.api_key)
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM ai_providers WHERE id = %s", (pid,)).fetchone() is None:
            raise NotFound("There is no such provider.")
        conn.execute(
            """
            INSERT INTO user_api_keys (user_id, provider_id, encrypted_key, encrypted_data_key, key_last4, is_active)
            VALUES (%s, %s, %s, %s, %s, TRUE)
            ON CONFLICT (user_id, provider_id) DO UPDATE SET encrypted_key = EXCLUDED.encrypted_key,
                encrypted_data_key = EXCLUDED.encrypted_data_key, key_last4 = EXCLUDED.key_last4, is_active = TRUE
            """,
            (
                caller.user_id,
                pid,
                encrypted_key,
                encrypted_data_key,
                body.api_key[-4:],
            ),
        )
        audit.record(
            conn, "api_key.set", meta=caller.meta, user_id=caller.user_id, resource_type="ai_provider", resource_id=pid
        )
        row = conn.execute(
            KEY_SELECT + " WHERE k.user_id = %s AND k.provider_id = %s", (caller.user_id, pid)
        ).fetchone()
    assert row is not None
    return ApiKeyEnvelope(api_key=_api_key(dict(row)))


@app.delete("/api/users/me/api-keys/{providerId}", status_code=204, response_class=Response, summary="Remove your key")
def delete_key(provider_id: Annotated[str, Path(alias="providerId")], caller: SignedIn) -> Response:
    pid = _id_or_404(provider_id, "key")
    with db.transaction() as conn:
        if not conn.execute(
            "DELETE FROM user_api_keys WHERE user_id = %s AND provider_id = %s", (caller.user_id, pid)
        ).rowcount:
            raise NotFound("You have no key for this provider.")
        audit.record(
            conn,
            "api_key.delete",
            meta=caller.meta,
            user_id=caller.user_id,
            resource_type="ai_provider",
            resource_id=pid,
        )
    return Response(status_code=204)


handler = lambda_handler(app)
