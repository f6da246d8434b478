"""Wire models: camelCase JSON on the wire, snake_case in Python."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError


def _iso_utc(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Every time leaves the API as ISO-8601 in UTC with a "Z", whatever the session time zone.
UtcDatetime = Annotated[datetime, PlainSerializer(_iso_utc, return_type=str)]

# NUL cannot be stored in Postgres text; a lone surrogate is not Unicode text at all (it cannot
# be encoded as UTF-8). JSON can carry both ("\u0000", "\ud800").
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text_at(value: Any, where: str = "") -> str | None:
    """Where in ``value`` (a JSON-like tree) a string holds a character no text can store, else None."""
    if isinstance(value, str):
        return where or "(value)" if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = unstorable_text_at(key, f"{where}.{key!r}".lstrip(".")) or unstorable_text_at(
                item, f"{where}.{key}".lstrip(".")
            )
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = unstorable_text_at(item, f"{where}[{index}]")
            if found:
                return found
    return None


class ApiModel(BaseModel):
    # defer_build: a response model's validator and serializer are built when it is first used
    # (the first answer it shapes, or the OpenAPI document), not when its class is defined, so a
    # function's cold start does not build every model it declares; each is built once either way.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=False,
        defer_build=True,
        # A response always carries every field, defaults included: its schema says they are required, so
        # clients (the web app's generated types) need no fallback for a field that is never missing.
        json_schema_serialization_defaults_required=True,
    )


class RequestModel(ApiModel):
    """Every request body: text anywhere in it (values and keys, nested too) is refused with 422
    when it holds NUL or an unpaired surrogate, before any field validator sees it."""

    # Built with the class, as FastAPI expects of a body: it wraps the model in
    # ``Annotated[Model, Field(alias=<parameter>)]`` and silences pydantic's remark about that
    # alias only while it builds the adapter at import; a deferred one would make the remark at
    # the first request.
    model_config = ConfigDict(defer_build=False)

    @model_validator(mode="before")
    @classmethod
    def _storable_text_only(cls, data: Any) -> Any:
        where = unstorable_text_at(data)
        if where is not None:
            raise PydanticCustomError(
                "unstorable_text",
                "Text cannot contain NUL characters or unpaired surrogates (at {where}).",
                {"where": where},
            )
        return data
