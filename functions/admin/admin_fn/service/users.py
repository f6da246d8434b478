"""Platform administration of users: the rules are :mod:`mm_common.user_admin`'s (shared with the auth
function's ``/api/users``); this adds the admin area's look-ups (memberships, activity)."""

from __future__ import annotations

import uuid
from typing import Any

from admin_fn.service import SERVICE
from mm_common import user_admin
from mm_common.audit import AuditFilter, list_entries
from mm_common.auth import Caller
from mm_common.db import Connection
from mm_common.observability import count, traced

METRICS = {"user.role_change": "UserRoleChanged", "user.ban": "UserBanned", "user.unban": "UserUnbanned"}


@traced(SERVICE)
def list_users(
    conn: Connection,
    *,
    text: str | None,
    role: str | None,
    status: user_admin.Status | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    return user_admin.users_page(conn, text=text, role=role, status=status, limit=limit, cursor=cursor)


@traced(SERVICE)
def get_user(conn: Connection, user_id: uuid.UUID) -> dict[str, Any]:
    """The user with the organizations they belong to and how many live sign-in sessions they have."""
    user = user_admin.load_user(conn, user_id)
    user["memberships"] = user_admin.memberships(conn, user_id)
    user["active_sessions"] = user_admin.active_sessions(conn, user_id)
    return user


@traced(SERVICE)
def update_user(
    conn: Connection,
    caller: Caller,
    user_id: uuid.UUID,
    *,
    role: str | None,
    banned: bool | None,
    ban_reason: str | None,
) -> dict[str, Any]:
    _, done = user_admin.update_user(conn, caller, user_id, role=role, banned=banned, ban_reason=ban_reason)
    for action in done:
        count(SERVICE, METRICS[action])
    return get_user(conn, user_id)


@traced(SERVICE)
def sign_out_everywhere(conn: Connection, caller: Caller, user_id: uuid.UUID) -> int:
    revoked = user_admin.sign_out_everywhere(conn, caller, user_id)
    count(SERVICE, "UserSignedOutByAdmin")
    return revoked


@traced(SERVICE)
def new_verification_token(conn: Connection, caller: Caller, user_id: uuid.UUID) -> tuple[str, str]:
    """The address and a fresh confirmation token (the route e-mails it once committed)."""
    return user_admin.new_verification_token(conn, caller, user_id)


@traced(SERVICE)
def activity(
    conn: Connection, user_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """What the user did (audit rows they are the actor of), newest first."""
    user_admin.load_user(conn, user_id)
    return list_entries(AuditFilter(user_id=user_id), limit=limit, cursor=cursor)
