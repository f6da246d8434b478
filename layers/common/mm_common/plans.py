"""The one place that answers "may this organization do X now?" for the subscription tiers' limits.

Limits are rows of ``plans`` (admins and co-admins change them without a deploy). The tier that applies is the
organization's effective tier (:func:`effective_tier`): ``trialing`` and ``active`` get the subscribed tier,
``past_due`` keeps it for a grace period (``BILLING_GRACE_DAYS``) after it became past due, then acts as Free;
anything else (``canceled``, ``unpaid``, ``incomplete``…) is Free. Enterprise is set by an admin by hand and
holds whatever the status says.

Every create path calls :func:`check` inside its transaction, after locking the organization's row
(:func:`lock_organization`), so concurrent requests cannot overrun a limit. A downgrade deletes nothing: what
exists stays; new things are refused while the organization is at or over its limit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import PaymentRequired

Tier = Literal["free", "pro", "enterprise"]
Resource = Literal["projects", "members", "deployments", "ai_tokens", "custom_domains"]
TIERS: tuple[Tier, ...] = ("free", "pro", "enterprise")
PAID_STATUSES = frozenset({"active", "trialing"})

PLAN_COLUMNS = (
    "tier, name, description, max_projects, max_members, max_deployments, monthly_ai_tokens, custom_domains,"
    " monthly_price_cents, yearly_price_cents, currency, updated_at"
)
# What each resource is called in a refusal, and what the user can do about it.
_WHAT = {
    "projects": "projects",
    "members": "members (pending invitations included)",
    "deployments": "deployed projects",
    "ai_tokens": "AI tokens this month on the platform's keys",
    "custom_domains": "custom domains",
}


@dataclass(frozen=True)
class Limits:
    """A tier's limits; None is unlimited."""

    projects: int | None
    members: int | None
    deployments: int | None
    ai_tokens: int | None
    custom_domains: bool

    def of(self, resource: Resource) -> int | None:
        if resource == "custom_domains":
            return None if self.custom_domains else 0
        value: int | None = getattr(self, resource)
        return value


def effective_tier(organization: dict[str, Any], now: datetime | None = None) -> Tier:
    """The tier whose limits apply now, from ``subscription_tier``, ``subscription_status`` and ``past_due_since``."""
    tier: Tier = organization["subscription_tier"]
    if tier in ("free", "enterprise"):
        return tier
    status = organization["subscription_status"]
    if status in PAID_STATUSES:
        return tier
    if status == "past_due":
        since = organization.get("past_due_since")
        grace = timedelta(days=get_settings().billing_grace_days)
        if since is None or (now or datetime.now(UTC)) < since + grace:
            return tier
    return "free"


def lock_organization(conn: Connection, organization_id: Any, *, lock: bool = True) -> dict[str, Any]:
    """The organization's subscription fields, its row locked until the transaction ends (limits are checked
    and resources created under this lock)."""
    row = conn.execute(
        "SELECT id, subscription_tier, subscription_status, past_due_since FROM organizations WHERE id = %s"
        + (" FOR UPDATE" if lock else ""),
        (organization_id,),
    ).fetchone()
    if row is None:
        raise LookupError(f"organization {organization_id} does not exist")
    return dict(row)


def plan(conn: Connection, tier: str) -> dict[str, Any]:
    row = conn.execute(f"SELECT {PLAN_COLUMNS} FROM plans WHERE tier = %s", (tier,)).fetchone()
    if row is None:
        raise LookupError(f"no plan for tier {tier!r}")
    return dict(row)


def all_plans(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {PLAN_COLUMNS} FROM plans ORDER BY array_position(ARRAY['free', 'pro', 'enterprise'], tier::text)"
    ).fetchall()
    return [dict(row) for row in rows]


def limits_of(row: dict[str, Any]) -> Limits:
    return Limits(
        projects=row["max_projects"],
        members=row["max_members"],
        deployments=row["max_deployments"],
        ai_tokens=row["monthly_ai_tokens"],
        custom_domains=bool(row["custom_domains"]),
    )


def month_start(now: datetime | None = None) -> datetime:
    moment = now or datetime.now(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def usage(conn: Connection, organization_id: Any, resource: Resource) -> int:
    """How much of ``resource`` the organization uses now."""
    if resource == "projects":
        sql = "SELECT count(*) AS n FROM projects WHERE organization_id = %(o)s AND deleted_at IS NULL"
    elif resource == "members":
        sql = """
            SELECT (SELECT count(*) FROM organization_members WHERE organization_id = %(o)s)
                 + (SELECT count(*) FROM invitations
                    WHERE organization_id = %(o)s AND accepted_at IS NULL AND revoked_at IS NULL
                      AND expires_at > now()) AS n
        """
    elif resource == "deployments":
        # Projects holding a deployed app (running or stopped) or being deployed; a destroyed one holds none.
        sql = """
            SELECT count(*) AS n FROM projects p
            WHERE p.organization_id = %(o)s AND p.deleted_at IS NULL
              AND (p.deployment_url IS NOT NULL OR EXISTS (
                    SELECT 1 FROM deployment_logs d
                    WHERE d.project_id = p.id AND d.status IN ('pending', 'running')))
        """
    elif resource == "ai_tokens":
        sql = """
            SELECT COALESCE(sum(metered_prompt_tokens + metered_completion_tokens), 0) AS n FROM token_usage
            WHERE organization_id = %(o)s AND period_month = %(m)s
        """
    else:
        sql = "SELECT count(*) AS n FROM projects WHERE organization_id = %(o)s AND custom_domain IS NOT NULL"
    row = conn.execute(sql, {"o": organization_id, "m": month_start().date()}).fetchone()
    return int(row["n"]) if row else 0


def refusal(resource: Resource, limit: int, used: int, tier: str) -> PaymentRequired:
    if resource == "custom_domains":
        message = "Custom domains come with the Pro and Enterprise plans. Upgrade the plan to add one."
    else:
        message = (
            f"Your {tier.capitalize()} plan allows {limit:,} {_WHAT[resource]}, and this organization has {used:,}. "
            "Upgrade the plan (Billing) to add more."
        )
    return PaymentRequired(message, details={"limit": limit, "used": used, "tier": tier, "resource": resource})


def check(conn: Connection, organization_id: Any, resource: Resource, *, adding: int = 1, lock: bool = True) -> None:
    """Refuse (402 ``plan_limit_reached`` with ``{limit, used, tier, resource}``) when ``adding`` more of
    ``resource`` would pass the effective tier's limit. Locks the organization's row until the transaction ends
    (``lock=False`` for a look that creates nothing under the limit itself, like a generation's token check)."""
    organization = lock_organization(conn, organization_id, lock=lock)
    tier = effective_tier(organization)
    limit = limits_of(plan(conn, tier)).of(resource)
    if limit is None:
        return
    used = usage(conn, organization_id, resource)
    if used + adding > limit:
        raise refusal(resource, limit, used, tier)


def snapshot(conn: Connection, organization_id: Any) -> dict[str, Any]:
    """The effective tier, its limits and the usage of each resource now (for the billing page)."""
    organization = lock_organization(conn, organization_id, lock=False)
    tier = effective_tier(organization)
    limits = limits_of(plan(conn, tier))
    resources: tuple[Resource, ...] = ("projects", "members", "deployments", "ai_tokens", "custom_domains")
    return {
        "tier": tier,
        "limits": asdict(limits),
        "usage": {resource: usage(conn, organization_id, resource) for resource in resources},
    }
