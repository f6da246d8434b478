"""/api/users and /api/users/{id}: platform administration of users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from auth_fn.schemas import AdminUpdateUserBody, User, UserEnvelope, UserPage
from auth_fn.service import users
from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.pagination import Cursor, Limit
from mm_common.permissions import Action

router = APIRouter()

PlatformAdmin = Annotated[Caller, require(Action.USERS_MANAGE)]


@router.get("/api/users", response_model=UserPage, summary="List users (admin)")
def list_users(
    caller: PlatformAdmin,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of an e-mail or name")] = None,
    role: Annotated[str | None, Query(pattern="^(admin|co_admin|user)$")] = None,
    is_active: Annotated[bool | None, Query(alias="isActive")] = None,
) -> UserPage:
    with db.transaction() as conn:
        rows, next_cursor = users.list_users(conn, text=q, role=role, is_active=is_active, limit=limit, cursor=cursor)
    return UserPage(items=[User.from_row(row) for row in rows], next_cursor=next_cursor)


@router.get("/api/users/{id}", response_model=UserEnvelope, summary="One user (admin)")
def get_user(id: str, caller: PlatformAdmin) -> UserEnvelope:
    with db.transaction() as conn:
        user = users.get_user(conn, users.user_id_or_404(id))
    return UserEnvelope(user=User.from_row(user))


@router.patch(
    "/api/users/{id}",
    response_model=UserEnvelope,
    summary="Change a user's role or ban/unban (admin)",
    responses=errors(409),
)
def update_user(id: str, body: AdminUpdateUserBody, caller: PlatformAdmin) -> UserEnvelope:
    with db.transaction() as conn:
        user = users.update_user(conn, caller, users.user_id_or_404(id), role=body.role, is_active=body.is_active)
    return UserEnvelope(user=User.from_row(user))
