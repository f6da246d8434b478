"""Refresh sessions: opaque tokens stored hashed, rotated on every use, grouped in families.

A login starts a family. Each refresh replaces the session with a new one of the same family.
Presenting a token that was already replaced means it was copied: the whole family is revoked.

A family is one sign-in (one browser or device); it is live while its newest session is neither
revoked nor expired, and access tokens live only as long as their family does. This module is
the one writer of the ``sessions`` table (the maintenance job only purges old rows), but for
revocation, which is :func:`mm_common.user_admin.revoke_sessions_where`'s (a ban and an admin's
"sign out everywhere" end sign-ins the same way).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mm_common import db, user_admin
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
            db.jsonb({"remember": remember}),
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
    return user_admin.revoke_sessions_where(conn, "family_id = %s", (family_id,))


def revoke_all(conn: Connection, user_id: uuid.UUID) -> int:
    """End every sign-in of the user ("sign out everywhere"): their access tokens stop too."""
    return user_admin.revoke_sessions(conn, user_id)


def revoke_other_families(conn: Connection, user_id: uuid.UUID, *, keep_session: uuid.UUID) -> int:
    """End every sign-in of the user except the one ``keep_session`` belongs to.

    The whole family is kept, not the one row: an access token names the session it was issued
    with, which a later refresh may already have rotated; the family's current row is what a
    refresh (and the token's liveness) depends on.
    """
    return user_admin.revoke_sessions_where(
        conn,
        "user_id = %s AND family_id IS DISTINCT FROM (SELECT family_id FROM sessions WHERE id = %s AND user_id = %s)",
        (user_id, keep_session, user_id),
    )


def live_families(conn: Connection, user_id: uuid.UUID, *, current_session: uuid.UUID | None) -> list[dict[str, Any]]:
    """The user's live sign-ins, one row per family, most recently used first.

    Each row is the family's newest live session (``id``: what :func:`revoke_live_family` takes;
    its ``expires_at``, and the ``user_agent`` and ``ip_address`` of the request that made it,
    i.e. the latest sign-in or refresh), with ``created_at`` when the sign-in began,
    ``last_used_at`` when its refresh token was last used (else when it began) and ``current``:
    whether ``current_session`` (the caller's access token's session) belongs to the family.
    """
    rows = conn.execute(
        """
        WITH live AS (
            SELECT DISTINCT ON (family_id) id, family_id, expires_at, user_agent, ip_address
            FROM sessions
            WHERE user_id = %(user_id)s AND revoked_at IS NULL AND expires_at > now()
            ORDER BY family_id, created_at DESC, id DESC
        )
        SELECT live.id, live.expires_at, live.user_agent, host(live.ip_address) AS ip_address,
               family.began_at AS created_at,
               COALESCE(family.refreshed_at, family.began_at) AS last_used_at,
               COALESCE(live.family_id = (
                   SELECT family_id FROM sessions WHERE id = %(current)s AND user_id = %(user_id)s
               ), FALSE) AS current
        FROM live
        CROSS JOIN LATERAL (
            SELECT min(created_at) AS began_at, max(last_used_at) AS refreshed_at
            FROM sessions WHERE family_id = live.family_id AND user_id = %(user_id)s
        ) family
        ORDER BY last_used_at DESC, live.id
        """,
        {"user_id": user_id, "current": current_session},
    ).fetchall()
    return [dict(row) for row in rows]


def revoke_live_family(conn: Connection, user_id: uuid.UUID, session_id: uuid.UUID) -> uuid.UUID | None:
    """End the sign-in ``session_id`` belongs to, if it is the user's and still live (any session
    of the family names it: a refresh may have rotated the one a list showed). The family's id,
    or None when there was no such live sign-in (nothing changes then)."""
    row = conn.execute(
        """
        SELECT s.family_id FROM sessions s
        WHERE s.id = %s AND s.user_id = %s
          AND EXISTS (
              SELECT 1 FROM sessions live
              WHERE live.family_id = s.family_id AND live.revoked_at IS NULL AND live.expires_at > now()
          )
        """,
        (session_id, user_id),
    ).fetchone()
    if row is None:
        return None
    family_id: uuid.UUID = row["family_id"]
    revoke_family(conn, family_id)
    return family_id
