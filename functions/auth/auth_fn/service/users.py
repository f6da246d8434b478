"""Platform administration of users through ``/api/users``: the rules are :mod:`mm_common.user_admin`'s, shared
with the admin function's ``/api/admin/users``."""

from __future__ import annotations

import uuid
from typing import Any

from auth_fn.service.common import SERVICE
from mm_common import user_admin
from mm_common.auth import Caller
from mm_common.db import Connection
from mm_common.observability import count, traced

user_id_or_404 = user_admin.user_id_or_404

# Metric names of the audit actions (the same as before the rules moved to the layer).
METRICS = {"user.role_change": "UserRoleChanged", "user.ban": "UserBanned", "user.unban": "UserUnbanned"}


@traced(SERVICE)
def list_users(
    conn: Connection, *, text: str | None, role: str | None, is_active: bool | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return user_admin.users_page(conn, text=text, role=role, is_active=is_active, limit=limit, cursor=cursor)


@traced(SERVICE)
def get_user(conn: Connection, user_id: uuid.UUID) -> dict[str, Any]:
    return user_admin.load_user(conn, user_id)


@traced(SERVICE)
def update_user(
    conn: Connection, caller: Caller, user_id: uuid.UUID, *, role: str | None, is_active: bool | None
) -> dict[str, Any]:
    """Change a user's global role and/or ban or unban them (``is_active`` False bans)."""
    banned = None if is_active is None else not is_active
    user, done = user_admin.update_user(conn, caller, user_id, role=role, banned=banned)
    for action in done:
        count(SERVICE, METRICS[action])
    return user
