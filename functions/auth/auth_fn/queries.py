"""The SQL of the auth function's service: users and single-use e-mail tokens.

Refresh sessions have their own module (:mod:`auth_fn.sessions`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from mm_common import db
from mm_common.db import Connection
from mm_common.passwords import hash_password
from mm_common.tokens import hash_secret, new_secret

USER_COLUMNS = "id, email, full_name, avatar_url, role, email_verified, is_active, created_at, last_login_at"


class LinkTable(StrEnum):
    """The tables of single-use e-mail links (the only table names these queries take)."""

    VERIFICATION = "email_verification_tokens"
    PASSWORD_RESET = "password_reset_tokens"  # noqa: S105 - a table name, not a secret


# ------------------------------------------------------------------------------- users


def insert_user(conn: Connection, *, email: str, password: str, full_name: str) -> dict[str, Any] | None:
    """The new user, or None when the e-mail address is taken."""
    row = conn.execute(
        f"""
        INSERT INTO users (email, password_hash, full_name) VALUES (%s, %s, %s)
        ON CONFLICT DO NOTHING RETURNING {USER_COLUMNS}
        """,
        (email, hash_password(password), full_name),
    ).fetchone()
    return dict(row) if row else None


def user_by_id(conn: Connection, user_id: Any) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,)).fetchone()
    return dict(row) if row else None


def user_for_sign_in(conn: Connection, email: str) -> dict[str, Any] | None:
    """The user with this (normalised) e-mail address, password hash included."""
    row = conn.execute(f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = %s", (email,)).fetchone()
    return dict(row) if row else None


def password_hash_of(conn: Connection, user_id: uuid.UUID) -> str | None:
    row = conn.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,)).fetchone()
    return str(row["password_hash"]) if row else None


def token_version_of(conn: Connection, user_id: uuid.UUID) -> int:
    row = conn.execute("SELECT token_version FROM users WHERE id = %s", (user_id,)).fetchone()
    assert row is not None
    return int(row["token_version"])


def active_user_id(conn: Connection, email: str, *, unverified_only: bool = False) -> uuid.UUID | None:
    """The id of the active account with this address (only if unconfirmed, when asked)."""
    row = conn.execute(
        "SELECT id FROM users WHERE email = %s AND is_active AND NOT (%s AND email_verified)",
        (email, unverified_only),
    ).fetchone()
    return row["id"] if row else None


def mark_email_verified(conn: Connection, user_id: uuid.UUID) -> None:
    conn.execute("UPDATE users SET email_verified = TRUE WHERE id = %s", (user_id,))


def record_sign_in(conn: Connection, user_id: uuid.UUID, *, new_password_hash: str | None) -> None:
    """Stamp the sign-in; store a rehashed password when the hashing parameters changed."""
    conn.execute(
        "UPDATE users SET last_login_at = now(), password_hash = COALESCE(%s, password_hash) WHERE id = %s",
        (new_password_hash, user_id),
    )


def set_password(conn: Connection, user_id: uuid.UUID, password: str) -> None:
    """A new password ends every access token issued before it (the token version moves on)."""
    conn.execute(
        """
        UPDATE users SET password_hash = %s, password_changed_at = now(), token_version = token_version + 1
        WHERE id = %s
        """,
        (hash_password(password), user_id),
    )


def update_profile(conn: Connection, user_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any] | None:
    """Apply ``changes`` (column: value, columns from the request model) and return the user."""
    row = db.update_row(conn, "users", changes, {"id": user_id}, returning=USER_COLUMNS)
    return dict(row) if row else None


# ------------------------------------------------------------------------------- single-use links


def new_link_token(conn: Connection, table: LinkTable, user_id: uuid.UUID, ttl: timedelta) -> str:
    """A fresh single-use token for an e-mail link; only its hash is stored."""
    token = new_secret()
    conn.execute(
        f"INSERT INTO {table} (user_id, token_hash, expires_at) VALUES (%s, %s, %s)",  # table: an enum member
        (user_id, hash_secret(token), datetime.now(UTC) + ttl),
    )
    return token


def consume_link_token(conn: Connection, table: LinkTable, token: str) -> uuid.UUID | None:
    """Spend a link's token: the user it was for, or None when unknown, used or expired."""
    row = conn.execute(
        f"""
        UPDATE {table} SET used_at = now()
        WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()
        RETURNING user_id
        """,
        (hash_secret(token),),
    ).fetchone()
    return row["user_id"] if row else None
