"""/api/admin/organizations: every organization, for platform admins (tier, trial and suspension by hand)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from admin_fn.service import organizations as service
from mm_common import db
from mm_common.auth import Caller, require
from mm_common.models import ApiModel, RequestModel, UtcDatetime
from mm_common.pagination import Cursor, Limit
from mm_common.permissions import Action

router = APIRouter()

Viewer = Annotated[Caller, require(Action.ORGANIZATIONS_VIEW_ALL)]
Manager = Annotated[Caller, require(Action.ORGANIZATIONS_MANAGE)]
Tier = Literal["free", "pro", "enterprise"]
Status = Literal[
    "suspended", "active", "trialing", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired", "paused"
]


class AdminOrganization(ApiModel):
    id: uuid.UUID
    name: str
    slug: str
    owner_id: uuid.UUID
    tier: Tier = Field(description="The tier set (by the subscription, or by an admin).")
    subscription_status: str
    trial_ends_at: UtcDatetime | None
    suspended: bool
    suspended_at: UtcDatetime | None
    suspension_reason: str | None
    created_at: UtcDatetime
    members_count: int
    projects_count: int
    deployed_projects_count: int = Field(description="Live projects with a deployed app.")
    ai_tokens_this_month: int = Field(description="AI tokens used this calendar month (UTC).")

    @classmethod
    def values_of(cls, row: dict[str, Any]) -> dict[str, Any]:
        values = {name: row[name] for name in cls.model_fields if name in row}
        return {**values, "tier": row["subscription_tier"], "suspended": row["suspended_at"] is not None}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AdminOrganization:
        return cls.model_validate(cls.values_of(row))


class AdminOrganizationOwner(ApiModel):
    id: uuid.UUID
    email: str
    full_name: str | None


class AdminPlanUsage(ApiModel):
    tier: Tier = Field(description="The effective tier: the one whose limits apply now.")
    limits: dict[str, int | bool | None]
    usage: dict[str, int]


class AdminOrganizationDetail(AdminOrganization):
    owner: AdminOrganizationOwner
    subscription_interval: str | None
    current_period_end: UtcDatetime | None
    cancel_at_period_end: bool
    past_due_since: UtcDatetime | None
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    plan: AdminPlanUsage

    @classmethod
    def from_detail(cls, row: dict[str, Any]) -> AdminOrganizationDetail:
        owner = AdminOrganizationOwner(id=row["owner_id"], email=row["owner_email"], full_name=row["owner_name"])
        return cls.model_validate({**cls.values_of(row), "owner": owner})


class AdminOrganizationEnvelope(ApiModel):
    organization: AdminOrganizationDetail


class AdminOrganizationPage(ApiModel):
    items: list[AdminOrganization]
    next_cursor: str | None = None


class AdminOrganizationUpdateBody(RequestModel):
    tier: Tier | None = Field(default=None, description="Set by hand (e.g. an Enterprise deal).")
    trial_ends_at: datetime | None = Field(default=None, description="Extend the trial to this (future) time.")
    suspended: bool | None = None
    suspension_reason: str | None = Field(default=None, max_length=1000)


@router.get("/api/admin/organizations", response_model=AdminOrganizationPage, summary="Find organizations (admin)")
def list_organizations(
    caller: Viewer,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of a name or slug")] = None,
    tier: Annotated[Tier | None, Query()] = None,
    status: Annotated[Status | None, Query(description="suspended, or a subscription status")] = None,
) -> AdminOrganizationPage:
    with db.transaction() as conn:
        rows, next_cursor = service.list_organizations(
            conn, text=q, tier=tier, status=status, limit=limit, cursor=cursor
        )
    return AdminOrganizationPage(items=[AdminOrganization.from_row(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/api/admin/organizations/{id}",
    response_model=AdminOrganizationEnvelope,
    summary="One organization: owner, subscription, limits and usage (admin)",
)
def get_organization(id: str, caller: Viewer) -> AdminOrganizationEnvelope:
    with db.transaction() as conn:
        row = service.get_organization(conn, service.organization_id_or_404(id))
    return AdminOrganizationEnvelope(organization=AdminOrganizationDetail.from_detail(row))


@router.patch(
    "/api/admin/organizations/{id}",
    response_model=AdminOrganizationEnvelope,
    summary="Set an organization's tier or trial by hand, suspend or unsuspend it (admin)",
)
def update_organization(id: str, body: AdminOrganizationUpdateBody, caller: Manager) -> AdminOrganizationEnvelope:
    with db.transaction() as conn:
        row = service.update_organization(
            conn,
            caller,
            service.organization_id_or_404(id),
            tier=body.tier,
            trial_ends_at=body.trial_ends_at,
            suspended=body.suspended,
            suspension_reason=body.suspension_reason,
        )
    return AdminOrganizationEnvelope(organization=AdminOrganizationDetail.from_detail(row))
