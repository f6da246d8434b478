"""Platform administration of users: list, look up, change the global role, ban and unban."""

from __future__ import annotations

import uuid
from typing import Any

from auth_fn import queries, sessions
from auth_fn.service.common import SERVICE, load_user
from mm_common import audit
from mm_common.auth import Caller, parse_uuid
from mm_common.db import Connection
from mm_common.errors import Conflict, NotFound
from mm_common.observability import count, traced
from mm_common.permissions import PERMISSIONS, Action, allowed_globally


def user_id_or_404(value: str) -> uuid.UUID:
    """A user id from the path; anything that is not a UUID names no user."""
    user_id = parse_uuid(value)
    if user_id is None:
        raise NotFound("There is no such user.")
    return user_id


@traced(SERVICE)
def list_users(
    conn: Connection, *, text: str | None, role: str | None, is_active: bool | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    page: tuple[list[dict[str, Any]], str | None] = queries.users_page(
        conn, text=text, role=role, is_active=is_active, limit=limit, cursor=cursor
    )
    return page


@traced(SERVICE)
def get_user(conn: Connection, user_id: uuid.UUID) -> dict[str, Any]:
    user: dict[str, Any] = load_user(conn, user_id)
    return user


def _locks_out(caller: Caller, user_id: uuid.UUID, role: str | None, is_active: bool | None) -> bool:
    """Whether the change would leave the caller unable to manage users (banning themselves, or
    taking a role the permission table does not let manage users)."""
    if user_id != caller.user_id:
        return False
    return is_active is False or (role is not None and not allowed_globally(PERMISSIONS[Action.USERS_MANAGE], role))


@traced(SERVICE)
def update_user(
    conn: Connection, caller: Caller, user_id: uuid.UUID, *, role: str | None, is_active: bool | None
) -> dict[str, Any]:
    """Change a user's global role and/or ban or unban them. A ban ends every sign-in and access
    token of the user at once."""
    if _locks_out(caller, user_id, role, is_active):
        raise Conflict("You cannot ban yourself or give up your own admin role.", code="self_lockout")
    before = load_user(conn, user_id)
    if role is not None and role != before["role"]:
        queries.set_role(conn, user_id, role)
        audit.log(
            conn,
            caller,
            "user.role_change",
            resource_type="user",
            resource_id=user_id,
            details={"from": before["role"], "to": role},
        )
        count(SERVICE, "UserRoleChanged")
    if is_active is not None and is_active != before["is_active"]:
        if is_active:
            queries.unban(conn, user_id)
        else:
            queries.ban(conn, user_id)
            sessions.revoke_all(conn, user_id)
        audit.log(conn, caller, "user.unban" if is_active else "user.ban", resource_type="user", resource_id=user_id)
        count(SERVICE, "UserUnbanned" if is_active else "UserBanned")
    after: dict[str, Any] = load_user(conn, user_id)
    return after
