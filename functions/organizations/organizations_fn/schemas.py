"""Request and response bodies of the organizations function, and the mapping of rows onto them.

Request bodies subclass ``RequestModel``: text holding NUL or a lone surrogate (which no
Postgres text column can store) is refused with 422 before anything else looks at it."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from mm_common.identity import email_problem, normalize_email
from mm_common.models import ApiModel, RequestModel, UtcDatetime
from mm_common.organizations import member_permissions
from mm_common.slugs import slug_problem

OrgRoleName = Literal["owner", "admin", "member", "viewer"]
InvitableRole = Literal["admin", "member", "viewer"]  # ownership is transferred, never granted by invitation
PermissionName = Literal["view", "edit", "deploy", "manage", "invite"]

MAX_NAME_LENGTH = 255


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("Give the organization a name.")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"Use at most {MAX_NAME_LENGTH} characters for the name.")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("The name cannot contain control characters.")
    return value


def _slug(value: str) -> str:
    problem = slug_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _not_null(value: Any) -> Any:
    # Optional fields of a PATCH may be left out, but not set to null.
    if value is None:
        raise ValueError("Leave the field out instead of sending null.")
    return value


# ------------------------------------------------------------------------------ organizations


class Organization(ApiModel):
    id: uuid.UUID
    name: str
    slug: str
    owner_id: uuid.UUID
    subscription_tier: str
    subscription_status: str
    role: OrgRoleName | None = Field(description="The caller's role in the organization (null: not a member).")
    suspended: bool = Field(
        description="Suspended by the platform's administrators: its members can read but not change anything"
        " (403 organization_suspended); its deployments keep running."
    )
    created_at: UtcDatetime
    updated_at: UtcDatetime


class OrganizationEnvelope(ApiModel):
    organization: Organization


class OrganizationPage(ApiModel):
    items: list[Organization]
    next_cursor: str | None = None


class CreateOrganizationBody(RequestModel):
    name: str = Field(max_length=1024)

    _check_name = field_validator("name")(_name)


class UpdateOrganizationBody(RequestModel):
    name: str | None = Field(default=None, max_length=1024)
    slug: str | None = Field(default=None, max_length=255)

    _check_not_null = field_validator("name", "slug", mode="before")(_not_null)
    _check_name = field_validator("name")(_name)
    _check_slug = field_validator("slug")(_slug)


# ------------------------------------------------------------------------------------ members


class OrganizationMember(ApiModel):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    full_name: str | None
    role: OrgRoleName
    permissions: list[PermissionName]
    joined_at: UtcDatetime


class OrganizationMemberEnvelope(ApiModel):
    member: OrganizationMember


class OrganizationMemberPage(ApiModel):
    items: list[OrganizationMember]
    next_cursor: str | None = None


class UpdateMemberBody(RequestModel):
    role: OrgRoleName | None = None
    permissions: list[PermissionName] | None = Field(default=None, max_length=5)

    _check_not_null = field_validator("role", "permissions", mode="before")(_not_null)


# -------------------------------------------------------------------------------- invitations


class Invitation(ApiModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    role: InvitableRole
    permissions: list[PermissionName]
    invited_by: uuid.UUID | None
    expires_at: UtcDatetime
    created_at: UtcDatetime


class InvitationEnvelope(ApiModel):
    invitation: Invitation


class InvitationPage(ApiModel):
    items: list[Invitation]
    next_cursor: str | None = None


def _view_only() -> list[PermissionName]:
    return ["view"]


class InviteMemberBody(RequestModel):
    email: str = Field(max_length=320)
    role: InvitableRole = "member"
    permissions: list[PermissionName] = Field(default_factory=_view_only, max_length=5)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = normalize_email(value)
        problem = email_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class AcceptInvitationBody(RequestModel):
    token: str = Field(min_length=1, max_length=512)


class AcceptedInvitation(ApiModel):
    organization: Organization
    member: OrganizationMember


# ------------------------------------------------------------------------------- from rows


def organization_of(row: Mapping[str, Any], role: str | None) -> Organization:
    """An organization row as the caller sees it, with the caller's role in it."""
    return Organization(
        id=row["id"],
        name=row["name"],
        slug=row["slug"],
        owner_id=row["owner_id"],
        subscription_tier=row["subscription_tier"],
        subscription_status=row["subscription_status"],
        role=role,  # type: ignore[arg-type]  # a role from the database, constrained by its CHECK
        suspended=row["suspended_at"] is not None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def member_of(row: Mapping[str, Any]) -> OrganizationMember:
    return OrganizationMember(
        id=row["id"],
        user_id=row["user_id"],
        email=row["email"],
        full_name=row["full_name"],
        role=row["role"],
        permissions=member_permissions(row["role"], row["permissions"] or []),  # type: ignore[arg-type]
        joined_at=row["joined_at"],
    )


def invitation_of(row: Mapping[str, Any]) -> Invitation:
    return Invitation(
        id=row["id"],
        organization_id=row["organization_id"],
        email=row["email"],
        role=row["role"],
        permissions=row["permissions"] or [],
        invited_by=row["invited_by"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
    )
