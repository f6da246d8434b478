"""Platform administration of organizations: find them, look one up (limits and usage), and an admin's changes
by hand: the tier (Enterprise deals), a longer trial, a suspension (its members read but change nothing, see
:data:`mm_common.auth.READ_ACTIONS`; its deployed apps keep running)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from admin_fn.queries import organizations as queries
from admin_fn.service import SERVICE
from mm_common import audit, plans
from mm_common.auth import Caller
from mm_common.db import Connection
from mm_common.errors import NotFound, Unprocessable
from mm_common.observability import count, traced

# What the audit row's before/after shows of a change.
AUDITED = ("subscription_tier", "trial_ends_at", "suspended_at", "suspension_reason")


def organization_id_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("There is no such organization.") from None


@traced(SERVICE)
def list_organizations(
    conn: Connection, *, text: str | None, tier: str | None, status: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return queries.organizations_page(
        conn, text=text, tier=tier, status=status, month=plans.month_start().date(), limit=limit, cursor=cursor
    )


def _load(conn: Connection, organization_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any]:
    row = queries.organization(conn, organization_id, month=plans.month_start().date(), lock=lock)
    if row is None:
        raise NotFound("There is no such organization.")
    return row


@traced(SERVICE)
def get_organization(conn: Connection, organization_id: uuid.UUID) -> dict[str, Any]:
    """The organization, its owner, subscription, and the limits and usage of its effective tier."""
    row = _load(conn, organization_id)
    row["plan"] = plans.snapshot(conn, organization_id)
    return row


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@traced(SERVICE)
def update_organization(
    conn: Connection,
    caller: Caller,
    organization_id: uuid.UUID,
    *,
    tier: str | None,
    trial_ends_at: datetime | None,
    suspended: bool | None,
    suspension_reason: str | None,
) -> dict[str, Any]:
    """Apply an admin's changes under the organization's row lock; audited with before and after."""
    before = _load(conn, organization_id, lock=True)
    changes: dict[str, Any] = {}
    if tier is not None and tier != before["subscription_tier"]:
        changes["subscription_tier"] = tier
    if trial_ends_at is not None:
        if trial_ends_at.tzinfo is None:
            trial_ends_at = trial_ends_at.replace(tzinfo=UTC)
        if trial_ends_at <= datetime.now(UTC):
            message = "A trial can only be extended to a time in the future."
            raise Unprocessable(message, details=[{"field": "trialEndsAt", "in": "body", "message": message}])
        changes["trial_ends_at"] = trial_ends_at
    if suspended is True:
        if before["suspended_at"] is None:
            changes["suspended_at"] = datetime.now(UTC)
        if suspension_reason is not None or before["suspended_at"] is None:
            changes["suspension_reason"] = suspension_reason
    elif suspended is False and before["suspended_at"] is not None:
        changes.update(suspended_at=None, suspension_reason=None)
    if changes:
        queries.update_organization(conn, organization_id, changes)
        after = _load(conn, organization_id)
        audit.log(
            conn,
            caller,
            "organization.admin_update",
            resource_type="organization",
            resource_id=organization_id,
            organization_id=organization_id,
            details={
                "before": {name: _json(before[name]) for name in AUDITED if name in changes},
                "after": {name: _json(after[name]) for name in AUDITED if name in changes},
            },
        )
        if "suspended_at" in changes:
            count(SERVICE, "OrganizationSuspended" if suspended else "OrganizationUnsuspended")
    return get_organization(conn, organization_id)
