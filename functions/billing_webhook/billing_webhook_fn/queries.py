"""The webhook's SQL: the ledger of Stripe events (``subscription_events``), the idempotency record too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mm_common.db import Connection, jsonb


def record_event(
    conn: Connection, event_id: str, event_type: str, created: datetime | None, details: dict[str, Any]
) -> Any | None:
    """The event's row, in the transaction that applies it; None when it was recorded before (a replay)."""
    row = conn.execute(
        """
        INSERT INTO subscription_events (stripe_event_id, event_type, stripe_created_at, metadata, processed_at)
        VALUES (%s, %s, %s, %s, now())
        ON CONFLICT (stripe_event_id) DO NOTHING
        RETURNING id
        """,
        (event_id, event_type, created, jsonb(details)),
    ).fetchone()
    return row["id"] if row else None


def set_event_organization(conn: Connection, row_id: Any, organization_id: Any) -> None:
    conn.execute("UPDATE subscription_events SET organization_id = %s WHERE id = %s", (organization_id, row_id))


def owner_emails(conn: Connection, organization_id: Any) -> list[tuple[str, str]]:
    """(e-mail, name) of the organization's owners."""
    rows = conn.execute(
        """
        SELECT u.email, COALESCE(u.full_name, '') AS name FROM organization_members m
        JOIN users u ON u.id = m.user_id
        WHERE m.organization_id = %s AND m.role = 'owner'
        """,
        (organization_id,),
    ).fetchall()
    return [(row["email"], row["name"]) for row in rows]


def organization_name(conn: Connection, organization_id: Any) -> str:
    row = conn.execute("SELECT name FROM organizations WHERE id = %s", (organization_id,)).fetchone()
    return str(row["name"]) if row else ""
