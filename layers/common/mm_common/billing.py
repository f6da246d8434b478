"""Stripe billing: the configured client, prices by lookup key, and the one writer of an organization's subscription
fields and of ``invoices`` (the webhook syncs them from Stripe's current state).

Order-proof by construction: every subscription or invoice event re-reads the object from Stripe and writes what
it is *now*, so events arriving late, twice or out of order all end in Stripe's state. Prices are found by lookup
key (``STRIPE_PRICE_LOOKUP_KEYS``), never by matching price ids.

The SDK (a heavy import) loads on first use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mm_common.config import Settings, stripe_secret_key
from mm_common.db import Connection

if TYPE_CHECKING:
    from stripe import StripeClient

# Pinned: payload shapes (invoice.parent, items' periods) follow this version, whatever the account's default.
STRIPE_API_VERSION = "2026-10-28.endive"
# Subscriptions in these states give no tier (the organization is Free); a new Checkout may start.
ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})
KNOWN_STATUSES = frozenset(
    {"active", "trialing", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired", "paused"}
)
INVOICE_STATUSES = frozenset({"draft", "open", "paid", "void", "uncollectible"})
ORGANIZATION_KEY = "organizationId"
# The web app's billing page of the organization named (whichever one the browser had chosen before).
BILLING_PAGE = "/organization/billing?organizationId={organization_id}"


def client(settings: Settings) -> StripeClient:
    """The SDK's client for the configured key and API base, at the pinned API version: one per key and base in
    an execution environment, so warm invocations reuse its connection (and TLS session) to Stripe."""
    return _client(stripe_secret_key(settings), settings.stripe_api_base)


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str) -> StripeClient:
    import stripe

    return stripe.StripeClient(
        api_key, stripe_version=STRIPE_API_VERSION, base_addresses={"api": api_base}, max_network_retries=2
    )


def billing_page_url(settings: Settings, organization_id: Any, query: str = "") -> str:
    """The billing page's address, ``query`` (``&…``) appended."""
    return settings.app_url + BILLING_PAGE.format(organization_id=organization_id) + query


def lookup_key(settings: Settings, tier: str, interval: str) -> str | None:
    return settings.stripe_price_lookup_keys.get(tier, {}).get(interval)


def tier_of(settings: Settings, key: str | None) -> tuple[str, str] | None:
    """(tier, interval) of a price's lookup key, None for a price we do not sell."""
    for tier, keys in settings.stripe_price_lookup_keys.items():
        for interval, known in keys.items():
            if known == key:
                return tier, interval
    return None


def value_of(value: Any, key: str) -> Any:
    """``value[key]`` of a Stripe object or dict (None when missing)."""
    if value is None:
        return None
    try:
        return value[key]
    except (KeyError, TypeError):
        return None


def _time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def object_id(value: Any) -> str | None:
    """An expandable field's id (a string, or the expanded object's id)."""
    if value is None or isinstance(value, str):
        return value
    found = value_of(value, "id")
    return str(found) if found else None


def organization_of(conn: Connection, *, metadata: Any = None, customer: Any = None, reference: Any = None) -> Any:
    """Our organization a Stripe object belongs to: its metadata's or the session's reference id when it names an
    organization that exists, else the organization linked to the customer."""
    import uuid

    for candidate in (value_of(metadata, ORGANIZATION_KEY), reference):
        try:
            organization_id = uuid.UUID(str(candidate)) if candidate else None
        except ValueError:
            organization_id = None
        if organization_id is not None:
            row = conn.execute("SELECT id FROM organizations WHERE id = %s", (organization_id,)).fetchone()
            if row is not None:
                return row["id"]
    customer_id = object_id(customer)
    if customer_id:
        row = conn.execute("SELECT id FROM organizations WHERE stripe_customer_id = %s", (customer_id,)).fetchone()
        if row is not None:
            return row["id"]
    return None


def link_customer(conn: Connection, organization_id: Any, customer_id: str) -> None:
    """The organization's Stripe customer (created once, at its first Checkout)."""
    conn.execute(
        "UPDATE organizations SET stripe_customer_id = %s WHERE id = %s AND stripe_customer_id IS NULL",
        (customer_id, organization_id),
    )


def organization_billing(conn: Connection, organization_id: Any, *, lock: bool = False) -> dict[str, Any] | None:
    row = conn.execute(
        """
        SELECT id, name, stripe_customer_id, stripe_subscription_id, stripe_price_id, subscription_tier,
               subscription_status, subscription_interval, trial_ends_at, current_period_end, cancel_at_period_end,
               past_due_since, stripe_last_event_at
        FROM organizations WHERE id = %s
        """
        + (" FOR UPDATE" if lock else ""),
        (organization_id,),
    ).fetchone()
    return dict(row) if row else None


def apply_subscription(
    conn: Connection, settings: Settings, organization_id: Any, subscription: Any, event_created: datetime | None
) -> dict[str, Any]:
    """Write the subscription's current state on the organization; what changed (``{field: [before, after]}``).

    An organization an admin set to Enterprise keeps its tier. A subscription other than the organization's own
    changes nothing when it has ended (an old one's late events); a live one becomes the organization's."""
    current = organization_billing(conn, organization_id, lock=True)
    if current is None:
        return {}
    subscription_id = str(value_of(subscription, "id"))
    status = str(value_of(subscription, "status"))
    if status not in KNOWN_STATUSES:
        status = "incomplete"
    theirs = current["stripe_subscription_id"]
    if theirs and theirs != subscription_id and status in ENDED_STATUSES:
        return {}
    items = value_of(value_of(subscription, "items"), "data") or []
    item = items[0] if items else None
    price = value_of(item, "price")
    sold = tier_of(settings, value_of(price, "lookup_key"))
    ended = status in ENDED_STATUSES
    tier = "free" if ended or sold is None else sold[0]
    if current["subscription_tier"] == "enterprise":
        tier = "enterprise"
    now = datetime.now(UTC)
    wanted = {
        "stripe_subscription_id": None if ended else subscription_id,
        "stripe_price_id": None if ended else object_id(price),
        "subscription_tier": tier,
        "subscription_status": "active" if ended and tier == "free" else status,
        "subscription_interval": None if ended or sold is None else sold[1],
        "current_period_end": None if ended else _time(value_of(item, "current_period_end")),
        "cancel_at_period_end": False if ended else bool(value_of(subscription, "cancel_at_period_end")),
        "trial_ends_at": None if ended else _time(value_of(subscription, "trial_end")),
        "past_due_since": (current["past_due_since"] or _past_due_since(subscription) or event_created or now)
        if status == "past_due"
        else None,
    }
    changes = {key: [current[key], value] for key, value in wanted.items() if current[key] != value}
    conn.execute(
        """
        UPDATE organizations
        SET stripe_subscription_id = %(stripe_subscription_id)s, stripe_price_id = %(stripe_price_id)s,
            subscription_tier = %(subscription_tier)s, subscription_status = %(subscription_status)s,
            subscription_interval = %(subscription_interval)s, current_period_end = %(current_period_end)s,
            cancel_at_period_end = %(cancel_at_period_end)s, trial_ends_at = %(trial_ends_at)s,
            past_due_since = %(past_due_since)s,
            stripe_last_event_at = GREATEST(stripe_last_event_at, %(event_created)s)
        WHERE id = %(id)s
        """,
        {**wanted, "event_created": event_created, "id": organization_id},
    )
    return changes


def _past_due_since(subscription: Any) -> datetime | None:
    """When the unpaid invoice that made the subscription past due was issued (Stripe's clock, so a late or
    replayed event starts the grace period where Stripe did); needs ``latest_invoice`` expanded."""
    return _time(value_of(value_of(subscription, "latest_invoice"), "created"))


def upsert_invoice(conn: Connection, organization_id: Any, invoice: Any) -> dict[str, Any]:
    """The invoice as Stripe has it now (one row per Stripe invoice)."""
    status = str(value_of(invoice, "status") or "open")
    parent = value_of(value_of(invoice, "parent"), "subscription_details")
    row = conn.execute(
        """
        INSERT INTO invoices (organization_id, stripe_invoice_id, stripe_subscription_id, number, amount_due,
                              amount_paid, currency, status, hosted_invoice_url, invoice_pdf, due_date, paid_at,
                              period_start, period_end, created_at)
        VALUES (%(org)s, %(id)s, %(sub)s, %(number)s, %(due)s, %(paid)s, %(currency)s, %(status)s, %(hosted)s,
                %(pdf)s, %(due_date)s, %(paid_at)s, %(period_start)s, %(period_end)s, COALESCE(%(created)s, now()))
        ON CONFLICT (stripe_invoice_id) DO UPDATE
        SET number = EXCLUDED.number, amount_due = EXCLUDED.amount_due, amount_paid = EXCLUDED.amount_paid,
            status = EXCLUDED.status, hosted_invoice_url = EXCLUDED.hosted_invoice_url,
            invoice_pdf = EXCLUDED.invoice_pdf, due_date = EXCLUDED.due_date,
            paid_at = COALESCE(EXCLUDED.paid_at, invoices.paid_at)
        RETURNING id, status, hosted_invoice_url
        """,
        {
            "org": organization_id,
            "id": str(value_of(invoice, "id")),
            "sub": object_id(value_of(parent, "subscription")),
            "number": value_of(invoice, "number"),
            "due": int(value_of(invoice, "amount_due") or 0),
            "paid": int(value_of(invoice, "amount_paid") or 0),
            "currency": str(value_of(invoice, "currency") or "usd").lower(),
            "status": status if status in INVOICE_STATUSES else "open",
            "hosted": value_of(invoice, "hosted_invoice_url"),
            "pdf": value_of(invoice, "invoice_pdf"),
            "due_date": _time(value_of(invoice, "due_date")),
            "paid_at": _time(value_of(value_of(invoice, "status_transitions"), "paid_at"))
            or (datetime.now(UTC) if status == "paid" else None),
            "period_start": _time(value_of(invoice, "period_start")),
            "period_end": _time(value_of(invoice, "period_end")),
            "created": _time(value_of(invoice, "created")),
        },
    ).fetchone()
    assert row is not None
    return dict(row)


def subscription_of_invoice(invoice: Any) -> str | None:
    """The subscription an invoice bills (``parent.subscription_details.subscription`` on current API versions)."""
    return object_id(value_of(value_of(value_of(invoice, "parent"), "subscription_details"), "subscription"))


def invoice_metadata(invoice: Any) -> Any:
    return value_of(value_of(value_of(invoice, "parent"), "subscription_details"), "metadata")
