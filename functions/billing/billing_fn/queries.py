"""The SQL of the billing function, as named functions (parameterized, always).

Organizations' subscription fields and invoices are written by ``mm_common.billing`` (the webhook); plans by
:func:`update_plan` here (the admins' pricing screen)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mm_common import db
from mm_common.db import Connection
from mm_common.pagination import Keyset, fetch_page
from mm_common.plans import PLAN_COLUMNS

NEWEST_INVOICES_FIRST = Keyset(column="created_at", id_column="id", descending=True)
INVOICE_COLUMNS = (
    "id, number, amount_due, amount_paid, currency, status, hosted_invoice_url, invoice_pdf, period_start,"
    " period_end, paid_at, created_at"
)


def update_plan(conn: Connection, tier: str, changes: Mapping[str, Any], updated_by: Any) -> dict[str, Any] | None:
    """Set the given columns (names from the body model, never input); the row after."""
    row = db.update_row(conn, "plans", {**changes, "updated_by": updated_by}, {"tier": tier}, returning=PLAN_COLUMNS)
    return dict(row) if row else None


def invoice_page(
    conn: Connection, organization_id: Any, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return fetch_page(
        conn,
        f"SELECT {INVOICE_COLUMNS} FROM invoices",
        ["organization_id = %s"],
        [organization_id],
        NEWEST_INVOICES_FIRST,
        limit=limit,
        cursor=cursor,
    )


def had_subscription(conn: Connection, organization_id: Any) -> bool:
    """Whether the organization ever subscribed (a trial is offered once)."""
    row = conn.execute(
        """
        SELECT 1 FROM subscription_events
        WHERE organization_id = %s AND event_type = 'customer.subscription.created' LIMIT 1
        """,
        (organization_id,),
    ).fetchone()
    return row is not None
