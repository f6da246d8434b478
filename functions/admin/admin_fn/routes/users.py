"""/api/admin/users: platform administration of users (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from admin_fn.service import users as service
from mm_common import db, emails, user_admin
from mm_common.api import errors
from mm_common.audit import AuditEntry, AuditPage
from mm_common.auth import Caller, require
from mm_common.models import ApiModel, RequestModel, UtcDatetime
from mm_common.pagination import Cursor, Limit
from mm_common.permissions import Action

router = APIRouter()

Admin = Annotated[Caller, require(Action.USERS_MANAGE)]
Role = Literal["admin", "co_admin", "user"]


class AdminUser(ApiModel):
    id: uuid.UUID
    email: str
    full_name: str | None
    avatar_url: str | None
    role: Role
    email_verified: bool
    banned: bool
    banned_at: UtcDatetime | None
    ban_reason: str | None
    created_at: UtcDatetime
    last_login_at: UtcDatetime | None = Field(description="The latest sign-in.")
    organizations_count: int = Field(description="Organizations the user is a member of.")
    projects_count: int = Field(description="Live projects the user created.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AdminUser:
        values = {name: row[name] for name in cls.model_fields if name in row}
        return cls.model_validate({**values, "banned": not row["is_active"]})


class AdminUserMembership(ApiModel):
    organization_id: uuid.UUID
    name: str
    slug: str
    tier: str
    role: str
    joined_at: UtcDatetime


class AdminUserDetail(AdminUser):
    memberships: list[AdminUserMembership]
    active_sessions: int = Field(description="Sign-in sessions neither revoked nor expired.")


class AdminUserEnvelope(ApiModel):
    user: AdminUserDetail


class AdminUserPage(ApiModel):
    items: list[AdminUser]
    next_cursor: str | None = None


class AdminUserUpdateBody(RequestModel):
    role: Role | None = None
    banned: bool | None = None
    ban_reason: str | None = Field(default=None, max_length=1000, description="Why (kept with a ban).")


class AdminSignedOut(ApiModel):
    sessions_revoked: int


class AdminVerificationSent(ApiModel):
    message: str


def _detail(row: dict[str, Any]) -> AdminUserEnvelope:
    base = AdminUser.from_row(row).model_dump()
    memberships = [AdminUserMembership.model_validate(m) for m in row["memberships"]]
    detail = {**base, "memberships": memberships, "active_sessions": row["active_sessions"]}
    return AdminUserEnvelope(user=AdminUserDetail.model_validate(detail))


@router.get("/api/admin/users", response_model=AdminUserPage, summary="Find users (admin)")
def list_users(
    caller: Admin,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of an e-mail address or name")] = None,
    role: Annotated[Role | None, Query()] = None,
    status: Annotated[user_admin.Status | None, Query(description="active, banned or unverified")] = None,
) -> AdminUserPage:
    with db.transaction() as conn:
        rows, next_cursor = service.list_users(conn, text=q, role=role, status=status, limit=limit, cursor=cursor)
    return AdminUserPage(items=[AdminUser.from_row(row) for row in rows], next_cursor=next_cursor)


@router.get("/api/admin/users/{id}", response_model=AdminUserEnvelope, summary="One user and their memberships")
def get_user(id: str, caller: Admin) -> AdminUserEnvelope:
    with db.transaction() as conn:
        user = service.get_user(conn, user_admin.user_id_or_404(id))
    return _detail(user)


@router.patch(
    "/api/admin/users/{id}",
    response_model=AdminUserEnvelope,
    summary="Change a user's global role, ban or unban them (admin)",
    responses=errors(409),
)
def update_user(id: str, body: AdminUserUpdateBody, caller: Admin) -> AdminUserEnvelope:
    with db.transaction() as conn:
        user = service.update_user(
            conn, caller, user_admin.user_id_or_404(id), role=body.role, banned=body.banned, ban_reason=body.ban_reason
        )
    return _detail(user)


@router.post("/api/admin/users/{id}/logout", response_model=AdminSignedOut, summary="Sign a user out everywhere")
def sign_out_everywhere(id: str, caller: Admin) -> AdminSignedOut:
    with db.transaction() as conn:
        revoked = service.sign_out_everywhere(conn, caller, user_admin.user_id_or_404(id))
    return AdminSignedOut(sessions_revoked=revoked)


@router.post(
    "/api/admin/users/{id}/resend-verification",
    response_model=AdminVerificationSent,
    summary="E-mail a user a new confirmation link",
    responses=errors(409, 429),
)
def resend_verification(id: str, caller: Admin) -> AdminVerificationSent:
    with db.transaction() as conn:
        email, token = service.new_verification_token(conn, caller, user_admin.user_id_or_404(id))
    emails.send_verification(email, token)  # once the token is committed
    return AdminVerificationSent(message=f"A new confirmation link was sent to {email}.")


@router.get("/api/admin/users/{id}/activity", response_model=AuditPage, summary="A user's recent actions")
def activity(id: str, caller: Admin, limit: Limit = 50, cursor: Cursor = None) -> AuditPage:
    with db.transaction() as conn:
        rows, next_cursor = service.activity(conn, user_admin.user_id_or_404(id), limit=limit, cursor=cursor)
    return AuditPage(items=[AuditEntry.model_validate(row) for row in rows], next_cursor=next_cursor)
