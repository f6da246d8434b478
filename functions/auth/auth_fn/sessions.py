"""Refresh sessions: opaque tokens stored hashed, rotated on every use, grouped in families.

A login starts a family. Each refresh replaces the session with a new one of the same family.
Presenting a token that was already replaced means it was copied: the whole family is revoked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from mm_common.audit import RequestMeta, valid_ip
from mm_common.db import Connection
from mm_common.tokens import hash_secret, new_secret

REMEMBERED_TTL = timedelta(days=7)
# Without "remember me" the cookie lives as long as the browser session; the server side stops
# honouring it after a working day.
SESSION_TTL = timedelta(hours=12)


@dataclass(frozen=True)
class IssuedSession:
    session_id: uuid.UUID
    refresh_token: str
    expires_at: datetime
    remember: bool


def start(
    conn: Connection,
    *,
    user_id: uuid.UUID,
    remember: bool,
    meta: RequestMeta,
    family_id: uuid.UUID | None = None,
) -> IssuedSession:
    token = new_secret()
    expires_at = datetime.now(UTC) + (REMEMBERED_TTL if remember else SESSION_TTL)
    row = conn.execute(
        """
        INSERT INTO sessions (user_id, refresh_token_hash, family_id, expires_at, device_info, ip_address, user_agent)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        RETURNING id
        """,
        (
            user_id,
            hash_secret(token),
            family_id or uuid.uuid4(),
            expires_at,
            Jsonb({"remember": remember}),
            valid_ip(meta.ip_address),
            (meta.user_agent or "")[:1000] or None,
        ),
    ).fetchone()
    assert row is not None
    return IssuedSession(row["id"], token, expires_at, remember)


def find_for_update(conn: Connection, refresh_token: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT * FROM sessions WHERE refresh_token_hash = %s FOR UPDATE",
        (hash_secret(refresh_token),),
    ).fetchone()
    return dict(row) if row else None


def rotate(conn: Connection, session: dict[str, Any], meta: RequestMeta) -> IssuedSession:
    remember = bool((session.get("device_info") or {}).get("remember"))
    issued = start(conn, user_id=session["user_id"], remember=remember, meta=meta, family_id=session["family_id"])
    conn.execute(
        "UPDATE sessions SET revoked_at = now(), replaced_by = %s, last_used_at = now() WHERE id = %s",
        (issued.session_id, session["id"]),
    )
    return issued


def revoke_family(conn: Connection, family_id: uuid.UUID) -> int:
    """End one sign-in: every session of the family, so its access tokens stop as well."""
    return conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE family_id = %s AND revoked_at IS NULL", (family_id,)
    ).rowcount


def revoke_all(conn: Connection, user_id: uuid.UUID) -> int:
    """End every sign-in of the user ("sign out everywhere"): their access tokens stop too."""
    return conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", (user_id,)
    ).rowcount


def revoke_other_families(conn: Connection, user_id: uuid.UUID, *, keep_session: uuid.UUID) -> int:
    """End every sign-in of the user except the one ``keep_session`` belongs to.

    The whole family is kept, not the one row: an access token names the session it was issued
    with, which a later refresh may already have rotated; the family's current row is what a
    refresh (and the token's liveness) depends on.
    """
    return conn.execute(
        """
        UPDATE sessions SET revoked_at = now()
        WHERE user_id = %s AND revoked_at IS NULL
          AND family_id IS DISTINCT FROM (SELECT family_id FROM sessions WHERE id = %s AND user_id = %s)
        """,
        (user_id, keep_session, user_id),
    ).rowcount
