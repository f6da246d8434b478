"""Wire models of the AI function: the catalog (providers, models), the models a user may use,
and users' own keys."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, computed_field, field_validator

from mm_common.ai.keys import platform_api_key
from mm_common.ai.netguard import is_host_name
from mm_common.ai.provider_types import ProviderKind
from mm_common.models import ApiModel, RequestModel, UtcDatetime

# The price columns are NUMERIC(12, 6): anything larger cannot be stored.
MAX_PRICE = Decimal("999999.999999")
_KEY_CHARACTERS = frozenset(chr(code) for code in range(0x21, 0x7F))


def _base_url(value: str | None) -> str | None:
    # Plain http(s) URLs without credentials or fragments, with a host and port a client can use.
    # Which addresses may be called is a rule of the service (it depends on the settings).
    if value is None:
        return None
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = 0
    if port is not None and not 1 <= port <= 65535:
        raise ValueError("The port of the base URL must be a number from 1 to 65535.")
    host = parts.hostname or ""
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.username
        or parts.password
        or parts.fragment
        or not is_host_name(host)
    ):
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

    @computed_field(  # type: ignore[prop-decorator]
        description="Whether the server holds the key envVarName names (an allowed name, set and not empty):"
        " without it, only people who saved their own key can use the provider. The key itself is never shown."
    )
    @property
    def has_platform_key(self) -> bool:
        return platform_api_key(self.env_var_name) is not None


class ProviderBody(RequestModel):
    slug: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=255)
    kind: ProviderKind
    api_base_url: str = Field(max_length=2048)
    env_var_name: str | None = Field(default=None, max_length=100, pattern=r"^[A-Z_][A-Z0-9_]*$")
    is_enabled: bool = True

    _url = field_validator("api_base_url")(_base_url)


class ProviderPatch(RequestModel):
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


class ModelBody(RequestModel):
    provider_id: uuid.UUID
    display_name: str = Field(min_length=1, max_length=255)
    api_name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    max_output_tokens: int | None = Field(default=None, gt=0, le=1_000_000)
    context_window: int | None = Field(default=None, gt=0, le=10_000_000)
    is_available: bool = True
    input_price_per_million_tokens: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)
    output_price_per_million_tokens: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)


class ModelPatch(RequestModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    max_output_tokens: int | None = Field(default=None, gt=0, le=1_000_000)
    context_window: int | None = Field(default=None, gt=0, le=10_000_000)
    is_available: bool | None = None
    input_price_per_million_tokens: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)
    output_price_per_million_tokens: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)


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


class ApiKeyBody(RequestModel):
    api_key: str = Field(min_length=8, max_length=4096)

    @field_validator("api_key")
    @classmethod
    def _clean(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 8:
            raise ValueError("An API key has at least 8 characters.")
        # Printable ASCII only: what every provider issues, and all an HTTP header can carry.
        if not set(value) <= _KEY_CHARACTERS:
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
