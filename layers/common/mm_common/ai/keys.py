"""Users' own AI provider keys (BYOK), sealed with KMS; decrypted only by the code that calls models."""

from __future__ import annotations

import json
import os
from typing import Any

from mm_common import crypto
from mm_common.config import get_settings
from mm_common.db import Connection


def key_context(user_id: Any, provider_id: Any) -> dict[str, str]:
    """Encryption context: a sealed key only opens for the user and provider it was stored for."""
    return {"userId": str(user_id), "providerId": str(provider_id)}


def seal_key(user_id: Any, provider_id: Any, api_key: str) -> tuple[str, str]:
    """(encrypted_key, encrypted_data_key) columns for ``user_api_keys``."""
    sealed = crypto.seal(api_key, key_context(user_id, provider_id))
    return json.dumps({"v": sealed["v"], "nonce": sealed["nonce"], "data": sealed["data"]}), sealed["key"]


def user_api_key(conn: Connection, user_id: Any, provider_id: Any) -> str | None:
    """The user's own key for a provider, decrypted (never returned by the API)."""
    row = conn.execute(
        "SELECT encrypted_key, encrypted_data_key FROM user_api_keys"
        " WHERE user_id = %s AND provider_id = %s AND is_active",
        (user_id, provider_id),
    ).fetchone()
    if row is None:
        return None
    sealed = {**json.loads(row["encrypted_key"]), "key": row["encrypted_data_key"]}
    return crypto.unseal(sealed, key_context(user_id, provider_id))


def is_platform_key_name(env_var_name: str) -> bool:
    """Whether a provider may name this environment variable as the platform's key: only the
    operator's allow-list (AI_PLATFORM_KEY_NAMES), never just any variable of the server."""
    return env_var_name in get_settings().ai_platform_key_names


def platform_api_key(env_var_name: str | None) -> str | None:
    """The platform's key for a provider (metered against the organization's quota).

    None for a name outside the allow-list, whatever the database says: a provider row naming
    another variable (AWS credentials, the database secret's ARN...) must never send its value
    to the provider's URL.
    """
    if not env_var_name or not is_platform_key_name(env_var_name):
        return None
    return os.environ.get(env_var_name, "").strip() or None
