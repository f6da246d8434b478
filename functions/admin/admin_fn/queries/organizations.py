"""The SQL of the admin area's organizations: the list with its counts, one organization, the admin's changes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from mm_common import db
from mm_common.db import Connection
from mm_common.pagination import Keyset, fetch_page

ORGANIZATION_COLUMNS = (
    "o.id, o.name, o.slug, o.owner_id, o.subscription_tier, o.subscription_status, o.subscription_interval,"
    " o.trial_ends_at, o.current_period_end, o.cancel_at_period_end, o.past_due_since, o.stripe_customer_id,"
    " o.stripe_subscription_id, o.suspended_at, o.suspension_reason, o.created_at, o.updated_at"
)
# Members, live projects, live projects with a deployed app, and every AI token of the month (metered or not).
COUNT_COLUMNS = """
    (SELECT count(*) FROM organization_members m WHERE m.organization_id = o.id) AS members_count,
    (SELECT count(*) FROM projects p WHERE p.organization_id = o.id AND p.deleted_at IS NULL) AS projects_count,
    (SELECT count(*) FROM projects p
     WHERE p.organization_id = o.id AND p.deleted_at IS NULL AND p.deployment_url IS NOT NULL)
        AS deployed_projects_count,
    (SELECT COALESCE(sum(t.prompt_tokens + t.completion_tokens), 0) FROM token_usage t
     WHERE t.organization_id = o.id AND t.period_month = %s) AS ai_tokens_this_month
"""
NEWEST_FIRST = Keyset(column="o.created_at", id_column="o.id", descending=True)
SUSPENDED = "suspended"


def organizations_page(
    conn: Connection,
    *,
    text: str | None,
    tier: str | None,
    status: str | None,
    month: date,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Organizations newest first with their counts, filtered by part of the name or slug (taken literally),
    tier, and status (``suspended``, or a subscription status)."""
    conditions: list[str] = []
    params: list[Any] = [month]
    if text:
        pattern = db.contains_pattern(text)
        conditions.append("(o.name ILIKE %s OR o.slug ILIKE %s)")
        params += [pattern, pattern]
    if tier:
        conditions.append("o.subscription_tier = %s")
        params.append(tier)
    if status == SUSPENDED:
        conditions.append("o.suspended_at IS NOT NULL")
    elif status:
        conditions.append("o.subscription_status = %s")
        params.append(status)
    return fetch_page(
        conn,
        f"SELECT {ORGANIZATION_COLUMNS}, {COUNT_COLUMNS} FROM organizations o",
        conditions,
        params,
        NEWEST_FIRST,
        limit=limit,
        cursor=cursor,
    )


def organization(
    conn: Connection, organization_id: uuid.UUID, *, month: date, lock: bool = False
) -> dict[str, Any] | None:
    """One organization with its counts and owner (its row locked when asked)."""
    row = conn.execute(
        f"""
        SELECT {ORGANIZATION_COLUMNS}, {COUNT_COLUMNS}, u.email AS owner_email, u.full_name AS owner_name
        FROM organizations o JOIN users u ON u.id = o.owner_id
        WHERE o.id = %s {"FOR UPDATE OF o" if lock else ""}
        """,
        (month, organization_id),
    ).fetchone()
    return dict(row) if row else None


def update_organization(conn: Connection, organization_id: uuid.UUID, changes: dict[str, Any]) -> None:
    """Apply ``changes`` (column: value, columns named by the service)."""
    db.update_row(conn, "organizations", changes, {"id": organization_id}, returning="id")
