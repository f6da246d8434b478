"""The Stripe webhook's edge cases with hand-signed events (``stripe.WebhookSignature``) posted through the gateway:
forged, stale and missing signatures, replays, unknown types, events out of order, and a database error mid-event
that Stripe's retry then applies once. The events are the emulator's own (Checkout paid while no webhook was set),
so the handler's re-reads of Stripe find the real objects."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import psycopg
import pytest
import stripe
from starlette.testclient import TestClient

from devstack.stripe import StripeServer
from tests.support.identity import Account

WEBHOOK = "/api/billing/webhook"


def post(client: TestClient, body: str, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post(WEBHOOK, content=body.encode(), headers=headers)


def signed(client: TestClient, server: StripeServer, event: dict[str, Any], *, timestamp: int | None = None) -> Any:
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        body, server.emulator.webhook_secret, timestamp=timestamp or int(time.time())
    )
    return post(client, body, header)


def tier(db: psycopg.Connection[Any], org: Any) -> tuple[str, str]:
    row = db.execute(
        "SELECT subscription_tier, subscription_status FROM organizations WHERE id = %s", (org,)
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def events(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) FROM subscription_events").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def paid_quietly(
    client: TestClient, owner: Account, org: Any, stripe_server: StripeServer
) -> dict[str, dict[str, Any]]:
    """Checkout paid while no webhook is configured: the emulator's events, by type, none delivered yet."""
    stripe_server.emulator.configure_webhook(None)
    started = client.post(
        "/api/billing/checkout", json={"organizationId": str(org), "tier": "pro"}, headers=owner.headers
    )
    assert started.status_code == 200, started.text
    assert httpx.post(started.json()["url"], data={"action": "pay"}).status_code < 400
    found: dict[str, dict[str, Any]] = {}
    for kind in ("checkout.session.completed", "customer.subscription.created", "invoice.paid"):
        [event] = stripe_server.emulator.events_of(kind)[-1:]
        found[kind] = event
    return found


def test_missing_forged_stale_or_tampered_signatures_are_400_and_store_nothing(
    client: TestClient, db: psycopg.Connection[Any], org: Any, stripe_server: StripeServer, paid_quietly: Any
) -> None:
    event = paid_quietly["customer.subscription.created"]
    body = json.dumps(event)
    now = int(time.time())
    forged = stripe.WebhookSignature.generate_signature_header(body, "whsec_not_ours", timestamp=now)
    stale = stripe.WebhookSignature.generate_signature_header(body, stripe_server.emulator.webhook_secret, now - 600)
    fresh = stripe.WebhookSignature.generate_signature_header(body, stripe_server.emulator.webhook_secret, now)
    for sent, signature in ((body, None), (body, forged), (body, stale), (body.replace("pro", "pr0"), fresh)):
        response = post(client, sent, signature)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_signature"
    assert events(db) == 0 and tier(db, org) == ("free", "active")


def test_a_replayed_event_changes_nothing_and_unknown_types_are_recorded(
    client: TestClient, db: psycopg.Connection[Any], org: Any, stripe_server: StripeServer, paid_quietly: Any
) -> None:
    created = paid_quietly["customer.subscription.created"]
    first = signed(client, stripe_server, created)
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    assert tier(db, org) == ("pro", "active")
    db.execute("UPDATE organizations SET subscription_status = 'unpaid' WHERE id = %s", (org,))  # a later truth
    again = signed(client, stripe_server, created)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert tier(db, org) == ("pro", "unpaid") and events(db) == 1

    unknown = {**created, "id": "evt_unknown_1", "type": "customer.tax_id.created"}
    assert signed(client, stripe_server, unknown).json() == {"received": True, "duplicate": False}
    assert events(db) == 2 and tier(db, org) == ("pro", "unpaid")


def test_events_out_of_order_end_in_stripes_state(
    client: TestClient, db: psycopg.Connection[Any], org: Any, stripe_server: StripeServer, paid_quietly: Any
) -> None:
    # The subscription's event before the Checkout's: the subscription names the organization itself.
    assert signed(client, stripe_server, paid_quietly["customer.subscription.created"]).status_code == 200
    assert tier(db, org) == ("pro", "active")
    assert signed(client, stripe_server, paid_quietly["checkout.session.completed"]).status_code == 200
    assert tier(db, org) == ("pro", "active")

    # Canceled now; the deleted event arrives, then a stale "updated" from before (still active in its body).
    subscription_id = paid_quietly["customer.subscription.created"]["data"]["object"]["id"]
    stale_update = {
        **paid_quietly["customer.subscription.created"],
        "id": "evt_stale_update",
        "type": "customer.subscription.updated",
    }
    sdk = stripe.StripeClient(stripe_server.emulator.secret_key, base_addresses={"api": stripe_server.url})
    sdk.v1.subscriptions.cancel(subscription_id)
    [deleted] = stripe_server.emulator.events_of("customer.subscription.deleted")[-1:]
    assert signed(client, stripe_server, deleted).status_code == 200
    assert tier(db, org) == ("free", "active")
    assert signed(client, stripe_server, stale_update).status_code == 200
    assert tier(db, org) == ("free", "active")
    row = db.execute("SELECT stripe_subscription_id FROM organizations WHERE id = %s", (org,)).fetchone()
    assert row == (None,)


def test_a_database_error_mid_event_is_a_5xx_and_the_retry_applies_it_once(
    client: TestClient, db: psycopg.Connection[Any], org: Any, stripe_server: StripeServer, paid_quietly: Any
) -> None:
    paid = paid_quietly["invoice.paid"]
    db.execute("ALTER TABLE invoices ADD CONSTRAINT test_refuses_every_row CHECK (amount_due < 0) NOT VALID")
    try:
        failed = signed(client, stripe_server, paid)
        assert failed.status_code >= 500
    finally:
        db.execute("ALTER TABLE invoices DROP CONSTRAINT test_refuses_every_row")
    assert events(db) == 0 and tier(db, org) == ("free", "active")  # rolled back whole: Stripe will retry

    retried = signed(client, stripe_server, paid)
    assert retried.status_code == 200 and retried.json()["duplicate"] is False
    assert signed(client, stripe_server, paid).json()["duplicate"] is True
    invoices = db.execute("SELECT count(*), min(status) FROM invoices WHERE organization_id = %s", (org,)).fetchone()
    assert invoices == (1, "paid") and tier(db, org) == ("pro", "active") and events(db) == 1
