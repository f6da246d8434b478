"""The rules of the AI catalog, the models users may use, and users' own keys.

Every function takes the route's connection (the route owns the transaction) and the Caller.
Where a provider is called (its base URL) and which platform key it uses (the NAME of an
environment variable) decide what leaves our network with which credential, so both are the
platform administrator's alone, both are checked against the operator's settings, and their
changes are audited with old and new values (names, never a key).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal
from urllib.parse import urlsplit

from ai_fn import queries
from mm_common import audit
from mm_common.ai.keys import is_platform_key_name, platform_api_key, seal_key
from mm_common.ai.netguard import PRIVATE, host_refusal
from mm_common.auth import Caller, parse_uuid
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import Conflict, NotFound, Unprocessable
from mm_common.observability import count, traced
from mm_common.permissions import Action

SERVICE = "ai"
KeySource = Literal["user", "platform", "none"]
# A row as the queries return it (column name -> value).
Row = dict[str, Any]
# Fields a PATCH may leave out but not set to null (their columns are NOT NULL).
_PROVIDER_REQUIRED = ("name", "api_base_url", "is_enabled")
_MODEL_REQUIRED = ("display_name", "is_available")


def id_or_404(value: str, what: str) -> uuid.UUID:
    """A path id; one that is not a UUID names nothing, so it is answered like an unknown one."""
    parsed = parse_uuid(value)
    if parsed is None:
        raise NotFound(f"There is no such {what}.")
    return parsed


def _user_id(caller: Caller) -> uuid.UUID:
    assert caller.user_id is not None, "the route requires a signed-in caller"
    return caller.user_id


# ------------------------------------------------------------------------------- the operator's limits


def check_base_url(url: str) -> None:
    """422 unless the platform may call the URL's host (the address rule of mm_common.ai.netguard).

    Judged here from the URL itself; the worker checks every resolved address again at each call.
    """
    host = urlsplit(url).hostname or ""
    reason = host_refusal(host)
    if reason is None:
        return
    count(SERVICE, "ProviderAddressRefused")
    hint = (
        " Operators allow model servers on private networks with AI_ALLOW_PRIVATE_NETWORKS."
        if reason == PRIVATE
        else ""
    )
    message = f"The base URL's host {host} is {reason}, which the platform does not call.{hint}"
    raise Unprocessable(message, details=[{"field": "apiBaseUrl", "in": "body", "message": message}])


def check_key_name(name: str | None) -> None:
    """422 unless ``name`` is None (no platform key) or on the operator's allow-list."""
    if name is None or is_platform_key_name(name):
        return
    count(SERVICE, "PlatformKeyNameRefused")
    allowed = ", ".join(sorted(get_settings().ai_platform_key_names)) or "none"
    message = (
        f"{name} is not a platform key name. A provider may use one of: {allowed} "
        "(operators set the list with AI_PLATFORM_KEY_NAMES), or none."
    )
    raise Unprocessable(message, details=[{"field": "envVarName", "in": "body", "message": message}])


def _refuse_nulls(changes: dict[str, Any], required: tuple[str, ...], message: str) -> None:
    if any(changes[name] is None for name in required if name in changes):
        raise Unprocessable(message)


# ------------------------------------------------------------------------------- providers


@traced(SERVICE)
def list_providers(conn: Connection) -> list[Row]:
    rows: list[Row] = queries.providers(conn)
    return rows


@traced(SERVICE)
def get_provider(conn: Connection, provider_id: uuid.UUID) -> Row:
    row: Row | None = queries.provider(conn, provider_id)
    if row is None:
        raise NotFound("There is no such provider.")
    return row


@traced(SERVICE)
def create_provider(conn: Connection, caller: Caller, fields: dict[str, Any]) -> Row:
    check_base_url(fields["api_base_url"])
    check_key_name(fields["env_var_name"])
    row: Row | None = queries.insert_provider(conn, fields)
    if row is None:
        raise Conflict(f"A provider with the slug '{fields['slug']}' exists already.", code="slug_taken")
    audit.log(
        conn,
        caller,
        "ai_provider.create",
        resource_type="ai_provider",
        resource_id=row["id"],
        details={"slug": row["slug"], "baseUrl": row["api_base_url"], "envVarName": row["env_var_name"]},
    )
    count(SERVICE, "ProviderCreated")
    return row


@traced(SERVICE)
def update_provider(conn: Connection, caller: Caller, provider_id: uuid.UUID, changes: dict[str, Any]) -> Row:
    if "api_base_url" in changes:
        caller.ensure(
            Action.AI_PROVIDERS_CONFIGURE,
            "Only platform administrators may change where a provider is called.",
            code="admin_only",
        )
    if "env_var_name" in changes:
        caller.ensure(
            Action.AI_PROVIDERS_CONFIGURE,
            "Only platform administrators may change which platform key a provider uses.",
            code="admin_only",
        )
    _refuse_nulls(
        changes, _PROVIDER_REQUIRED, "name, apiBaseUrl and isEnabled cannot be null; leave them out to keep them."
    )
    if "api_base_url" in changes:
        check_base_url(changes["api_base_url"])
    if "env_var_name" in changes:
        check_key_name(changes["env_var_name"])
    before = queries.provider(conn, provider_id, for_update=True)
    if before is None:
        raise NotFound("There is no such provider.")
    row: Row | None = queries.update_provider(conn, provider_id, changes)
    assert row is not None  # locked above
    if changes:
        details: dict[str, Any] = {"fields": sorted(changes)}
        # Where requests go and with which key: the old and new values (variable NAMES, never a key).
        if "api_base_url" in changes:
            details["baseUrl"] = {"from": before["api_base_url"], "to": row["api_base_url"]}
        if "env_var_name" in changes:
            details["envVarName"] = {"from": before["env_var_name"], "to": row["env_var_name"]}
        audit.log(
            conn, caller, "ai_provider.update", resource_type="ai_provider", resource_id=provider_id, details=details
        )
        count(SERVICE, "ProviderUpdated")
    return row


@traced(SERVICE)
def delete_provider(conn: Connection, caller: Caller, provider_id: uuid.UUID) -> None:
    if not queries.delete_provider(conn, provider_id):
        raise NotFound("There is no such provider.")
    audit.log(conn, caller, "ai_provider.delete", resource_type="ai_provider", resource_id=provider_id)
    count(SERVICE, "ProviderDeleted")


# ------------------------------------------------------------------------------- models


@traced(SERVICE)
def list_models(conn: Connection) -> list[Row]:
    rows: list[Row] = queries.models(conn)
    return rows


@traced(SERVICE)
def get_model(conn: Connection, model_id: uuid.UUID) -> Row:
    row: Row | None = queries.model(conn, model_id)
    if row is None:
        raise NotFound("There is no such model.")
    return row


@traced(SERVICE)
def create_model(conn: Connection, caller: Caller, fields: dict[str, Any]) -> Row:
    if not queries.provider_exists(conn, fields["provider_id"]):
        raise Unprocessable("There is no such provider.", details=[{"field": "providerId"}])
    row: Row | None = queries.insert_model(conn, fields)
    if row is None:
        raise Conflict(f"This provider has a model '{fields['api_name']}' already.", code="model_exists")
    audit.log(
        conn,
        caller,
        "ai_model.create",
        resource_type="ai_model",
        resource_id=row["id"],
        details={"apiName": row["api_name"]},
    )
    count(SERVICE, "ModelCreated")
    return row


@traced(SERVICE)
def update_model(conn: Connection, caller: Caller, model_id: uuid.UUID, changes: dict[str, Any]) -> Row:
    _refuse_nulls(changes, _MODEL_REQUIRED, "displayName and isAvailable cannot be null; leave them out to keep them.")
    row: Row | None = queries.update_model(conn, model_id, changes)
    if row is None:
        raise NotFound("There is no such model.")
    if changes:
        audit.log(
            conn,
            caller,
            "ai_model.update",
            resource_type="ai_model",
            resource_id=model_id,
            details={"fields": sorted(changes)},
        )
        count(SERVICE, "ModelUpdated")
    return row


@traced(SERVICE)
def delete_model(conn: Connection, caller: Caller, model_id: uuid.UUID) -> None:
    if not queries.delete_model(conn, model_id):
        raise NotFound("There is no such model.")
    audit.log(conn, caller, "ai_model.delete", resource_type="ai_model", resource_id=model_id)
    count(SERVICE, "ModelDeleted")


# ------------------------------------------------------------------------------- what users see


def key_source(has_user_key: bool, env_var_name: str | None) -> KeySource:
    """Which key a call would use: the user's own, else the platform's (metered), else none."""
    if has_user_key:
        return "user"
    return "platform" if platform_api_key(env_var_name) else "none"


@traced(SERVICE)
def usable_models(conn: Connection, caller: Caller) -> list[Row]:
    """The models the caller may pick, each with the key a call would use."""
    models: list[Row] = []
    for row in queries.usable_models(conn, _user_id(caller)):
        has_user_key, env_var_name = row.pop("has_user_key"), row.pop("env_var_name")
        models.append({**row, "key_source": key_source(has_user_key, env_var_name)})
    return models


# ------------------------------------------------------------------------------- users' own keys (BYOK)


def masked(row: Row) -> Row:
    """A key row as the API shows it: only the last four characters ever leave the server."""
    shown = {k: v for k, v in row.items() if k != "key_last4"}
    return {**shown, "masked_key": f"••••{row['key_last4']}"}


@traced(SERVICE)
def list_keys(conn: Connection, caller: Caller) -> list[Row]:
    return [masked(r) for r in queries.keys(conn, _user_id(caller))]


@traced(SERVICE)
def get_key(conn: Connection, caller: Caller, provider_id: uuid.UUID) -> Row:
    row = queries.key(conn, _user_id(caller), provider_id)
    if row is None:
        raise NotFound("You have no key for this provider.")
    return masked(row)


@traced(SERVICE)
def set_key(conn: Connection, caller: Caller, provider_id: uuid.UUID, api_key: str) -> Row:
    """Store (or replace) the caller's key for a provider, sealed with KMS."""
    user_id = _user_id(caller)
    if not queries.provider_exists(conn, provider_id):
        raise NotFound("There is no such provider.")
    encrypted_key, encrypted_data_key = seal_key(user_id, provider_id, api_key)
    queries.upsert_key(
        conn,
        user_id,
        provider_id,
        encrypted_key=encrypted_key,
        encrypted_data_key=encrypted_data_key,
        last4=api_key[-4:],
    )
    audit.log(conn, caller, "api_key.set", resource_type="ai_provider", resource_id=provider_id)
    count(SERVICE, "ApiKeySaved")
    row = queries.key(conn, user_id, provider_id)
    assert row is not None  # written above
    return masked(row)


@traced(SERVICE)
def delete_key(conn: Connection, caller: Caller, provider_id: uuid.UUID) -> None:
    if not queries.delete_key(conn, _user_id(caller), provider_id):
        raise NotFound("You have no key for this provider.")
    audit.log(conn, caller, "api_key.delete", resource_type="ai_provider", resource_id=provider_id)
    count(SERVICE, "ApiKeyDeleted")
