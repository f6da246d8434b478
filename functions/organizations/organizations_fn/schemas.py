"""Request and response bodies of the organizations function."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any, Literal

from pydantic import Field, field_validator

from mm_common.identity import email_problem, normalize_email
from mm_common.models import ApiModel, UtcDatetime
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
    created_at: UtcDatetime
    updated_at: UtcDatetime


class OrganizationEnvelope(ApiModel):
    organization: Organization


class OrganizationPage(ApiModel):
    items: list[Organization]
    next_cursor: str | None = None


class CreateOrganizationBody(ApiModel):
    name: str = Field(max_length=1024)

    _check_name = field_validator("name")(_name)


class UpdateOrganizationBody(ApiModel):
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


class UpdateMemberBody(ApiModel):
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


class InviteMemberBody(ApiModel):
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


class AcceptInvitationBody(ApiModel):
    token: str = Field(min_length=1, max_length=512)


class AcceptedInvitation(ApiModel):
    organization: Organization
    member: OrganizationMember


# ---------------------------------------------------------------------------------- audit log
