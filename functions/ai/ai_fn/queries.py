"""The SQL the AI function's service runs, one named function per statement."""

from __future__ import annotations

import uuid
from typing import Any

from mm_common import db
from mm_common.db import Connection

PROVIDER_COLUMNS = "id, slug, name, kind, api_base_url, env_var_name, is_builtin, is_enabled, created_at, updated_at"
MODEL_COLUMNS = (
    "id, provider_id, display_name, api_name, description, max_output_tokens, context_window, is_available,"
    " input_price_per_million_tokens, output_price_per_million_tokens, created_at, updated_at"
)
_KEY_SELECT = """
    SELECT k.provider_id, p.name AS provider_name, k.key_last4, k.is_active, k.created_at, k.updated_at
    FROM user_api_keys k JOIN ai_providers p ON p.id = k.provider_id
"""

# ------------------------------------------------------------------------------- providers


def providers(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(f"SELECT {PROVIDER_COLUMNS} FROM ai_providers ORDER BY name, id").fetchall()
    return [dict(r) for r in rows]


def provider(conn: Connection, provider_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    row = conn.execute(f"SELECT {PROVIDER_COLUMNS} FROM ai_providers WHERE id = %s{lock}", (provider_id,)).fetchone()
    return dict(row) if row else None


def provider_exists(conn: Connection, provider_id: uuid.UUID) -> bool:
    # FOR SHARE: the provider cannot be deleted before the caller's insert that refers to it commits.
    return conn.execute("SELECT 1 FROM ai_providers WHERE id = %s FOR SHARE", (provider_id,)).fetchone() is not None


def insert_provider(conn: Connection, fields: dict[str, Any]) -> dict[str, Any] | None:
    """The new provider; None when its slug is taken."""
    row = conn.execute(
        f"""
        INSERT INTO ai_providers (slug, name, kind, api_base_url, env_var_name, is_enabled, is_builtin)
        VALUES (%(slug)s, %(name)s, %(kind)s, %(api_base_url)s, %(env_var_name)s, %(is_enabled)s, FALSE)
        ON CONFLICT (slug) DO NOTHING RETURNING {PROVIDER_COLUMNS}
        """,
        fields,
    ).fetchone()
    return dict(row) if row else None


def update_provider(conn: Connection, provider_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any] | None:
    row = db.update_row(conn, "ai_providers", changes, {"id": provider_id}, returning=PROVIDER_COLUMNS)
    return dict(row) if row else None


def delete_provider(conn: Connection, provider_id: uuid.UUID) -> bool:
    return conn.execute("DELETE FROM ai_providers WHERE id = %s", (provider_id,)).rowcount > 0


# ------------------------------------------------------------------------------- models


def models(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(f"SELECT {MODEL_COLUMNS} FROM ai_models ORDER BY display_name, id").fetchall()
    return [dict(r) for r in rows]


def model(conn: Connection, model_id: uuid.UUID) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {MODEL_COLUMNS} FROM ai_models WHERE id = %s", (model_id,)).fetchone()
    return dict(row) if row else None


def insert_model(conn: Connection, fields: dict[str, Any]) -> dict[str, Any] | None:
    """The new model; None when its provider has a model of that API name already."""
    row = conn.execute(
        f"""
        INSERT INTO ai_models (provider_id, display_name, api_name, description, max_output_tokens,
            context_window, is_available, input_price_per_million_tokens, output_price_per_million_tokens)
        VALUES (%(provider_id)s, %(display_name)s, %(api_name)s, %(description)s, %(max_output_tokens)s,
            %(context_window)s, %(is_available)s, %(input_price_per_million_tokens)s,
            %(output_price_per_million_tokens)s)
        ON CONFLICT (provider_id, api_name) DO NOTHING RETURNING {MODEL_COLUMNS}
        """,
        fields,
    ).fetchone()
    return dict(row) if row else None


def update_model(conn: Connection, model_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any] | None:
    row = db.update_row(conn, "ai_models", changes, {"id": model_id}, returning=MODEL_COLUMNS)
    return dict(row) if row else None


def delete_model(conn: Connection, model_id: uuid.UUID) -> bool:
    return conn.execute("DELETE FROM ai_models WHERE id = %s", (model_id,)).rowcount > 0


# ------------------------------------------------------------------------------- what users see


def usable_models(conn: Connection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Available models of enabled providers, with whether the user has an active key for each."""
    rows = conn.execute(
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
        (user_id,),
    ).fetchall()
    return [dict(r) for r in rows]


# ------------------------------------------------------------------------------- users' own keys


def keys(conn: Connection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = conn.execute(_KEY_SELECT + " WHERE k.user_id = %s ORDER BY p.name", (user_id,)).fetchall()
    return [dict(r) for r in rows]


def key(conn: Connection, user_id: uuid.UUID, provider_id: uuid.UUID) -> dict[str, Any] | None:
    row = conn.execute(_KEY_SELECT + " WHERE k.user_id = %s AND k.provider_id = %s", (user_id, provider_id)).fetchone()
    return dict(row) if row else None


def upsert_key(
    conn: Connection,
    user_id: uuid.UUID,
    provider_id: uuid.UUID,
    *,
    encrypted_key: str,
    encrypted_data_key: str,
    last4: str,
) -> None:
    conn.execute(
        """
        INSERT INTO user_api_keys (user_id, provider_id, encrypted_key, encrypted_data_key, key_last4, is_active)
        VALUES (%s, %s, %s, %s, %s, TRUE)
        ON CONFLICT (user_id, provider_id) DO UPDATE SET encrypted_key = EXCLUDED.encrypted_key,
            encrypted_data_key = EXCLUDED.encrypted_data_key, key_last4 = EXCLUDED.key_last4, is_active = TRUE
        """,
        (user_id, provider_id, encrypted_key, encrypted_data_key, last4),
    )


def delete_key(conn: Connection, user_id: uuid.UUID, provider_id: uuid.UUID) -> bool:
    return (
        conn.execute(
            "DELETE FROM user_api_keys WHERE user_id = %s AND provider_id = %s", (user_id, provider_id)
        ).rowcount
        > 0
    )
