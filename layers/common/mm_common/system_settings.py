"""System settings: maintenance mode, the sign-up policy, the default AI model, the announcement.

Stored one row per setting in ``system_settings`` (a missing row means the default below); only
the admin API (functions/admin) and ``python -m mmctl maintenance`` write them.

Reading them is on the hot path (every request asks whether maintenance mode is on), so each
container keeps what it read for :data:`CACHE_TTL_S` seconds (monotonic clock) and queries again
only after that: most requests cost no query. A change therefore takes effect at once in the
container that made it (the writer calls :func:`clear_cache` after committing) and within
``CACHE_TTL_S`` seconds in every other container. ``MM_SYSTEM_SETTINGS_CACHE_TTL_S`` sets the TTL
(0: read on every request); tests clear the cache with :func:`clear_cache` rather than wait.
"""

from __future__ import annotations

import os
import time
import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from mm_common import db
from mm_common.db import Connection
from mm_common.errors import Forbidden
from mm_common.models import ApiModel

CACHE_TTL_S = float(os.environ.get("MM_SYSTEM_SETTINGS_CACHE_TTL_S", "").strip() or 5)
MAX_TEXT = 500
# What the 503 of maintenance mode says when the administrator gave no message.
DEFAULT_MAINTENANCE_MESSAGE = "MoreMinimore is down for maintenance. Please try again shortly."
# How long a client should wait before retrying a request refused in maintenance mode.
MAINTENANCE_RETRY_AFTER_S = 300

SettingText = Annotated[str, StringConstraints(max_length=MAX_TEXT)]


class SignupPolicy(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    INVITE_ONLY = "invite_only"


class Maintenance(ApiModel):
    on: bool = False
    message: SettingText = Field(default="", description="Shown to everyone refused while it is on.")

    @property
    def shown_message(self) -> str:
        return self.message.strip() or DEFAULT_MAINTENANCE_MESSAGE


class SystemSettings(ApiModel):
    maintenance: Maintenance = Field(default_factory=Maintenance)
    signups: SignupPolicy = SignupPolicy.OPEN
    default_ai_model_id: uuid.UUID | None = None
    announcement: SettingText | None = None


# The keys, as stored (each a field of SystemSettings).
KEYS = tuple(SystemSettings.model_fields)


def load(conn: Connection) -> SystemSettings:
    """The settings as stored now, defaults for those never set."""
    rows = conn.execute("SELECT key, value FROM system_settings").fetchall()
    stored = {row["key"]: row["value"] for row in rows if row["key"] in KEYS}
    return SystemSettings.model_validate(stored)


def store(conn: Connection, key: str, value: Any, *, updated_by: Any) -> None:
    """Write one setting (``value`` as JSON, already validated). Call :func:`clear_cache` once the
    transaction committed."""
    if key not in KEYS:
        raise ValueError(f"no such system setting: {key}")
    conn.execute(
        """
        INSERT INTO system_settings (key, value, updated_by, updated_at) VALUES (%s, %s, %s, now())
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = now()
        """,
        (key, db.jsonb(value), updated_by),
    )


# ---------------------------------------------------------------------------------- the cache
_cached: tuple[float, SystemSettings] | None = None


def cached() -> SystemSettings | None:
    """The settings this container read less than CACHE_TTL_S ago, or None (read them with
    :func:`current`). Never queries."""
    entry = _cached
    if entry is None or time.monotonic() - entry[0] >= CACHE_TTL_S:
        return None
    return entry[1]


def current(conn: Connection | None = None) -> SystemSettings:
    """The settings, through the container's cache; when stale, read with ``conn`` (else in a
    transaction of their own)."""
    global _cached
    fresh = cached()
    if fresh is not None:
        return fresh
    read_at = time.monotonic()
    if conn is not None:
        settings = load(conn)
    else:
        with db.transaction() as own:
            settings = load(own)
    _cached = (read_at, settings)
    return settings


def clear_cache() -> None:
    """Forget what this container read: the next :func:`current` queries."""
    global _cached
    _cached = None


# ---------------------------------------------------------------------------------- sign-ups
def has_pending_invitation(conn: Connection, email: str) -> bool:
    row = conn.execute(
        """
        SELECT 1 FROM invitations
        WHERE email = lower(%s) AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
        LIMIT 1
        """,
        (email,),
    ).fetchone()
    return row is not None


def ensure_sign_up_allowed(conn: Connection, email: str) -> None:
    """403 unless the sign-up policy lets ``email`` create an account: ``closed`` refuses everyone,
    ``invite_only`` those without a pending invitation."""
    policy = current(conn).signups
    if policy is SignupPolicy.CLOSED:
        raise Forbidden("Sign-ups are closed at the moment: no new accounts can be created.", code="signups_closed")
    if policy is SignupPolicy.INVITE_ONLY and not has_pending_invitation(conn, email):
        raise Forbidden(
            "Sign-ups are by invitation only: ask an organization to invite this e-mail address first.",
            code="invitation_required",
        )
