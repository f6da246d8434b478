"""Billing through the gateway against the Stripe emulator: plans and their limits enforced in one place, the
upgrade journey (Checkout's page, its signed webhooks, the tier changing), the portal, invoices, past due with
its grace, and cancellation at the period's end. Asserted by what the API answers and what the owners receive."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
import stripe
from starlette.testclient import TestClient

from devstack.stripe import StripeServer
from tests.support.identity import Account, make_user


def subscription(client: TestClient, user: Account, org: Any) -> dict[str, Any]:
    response = client.get("/api/billing/subscription", params={"organizationId": str(org)}, headers=user.headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()["subscription"]
    return answer


def new_project(client: TestClient, user: Account, org: Any, name: str) -> Any:
    return client.post(
        "/api/projects", json={"organizationId": str(org), "name": name, "template": "blank"}, headers=user.headers
    )


def upgrade(client: TestClient, owner: Account, org: Any, stripe_server: StripeServer, interval: str = "month") -> str:
    """Checkout as a browser goes through it: the hosted page, Pay, the redirect back. The session's id."""
    started = client.post(
        "/api/billing/checkout",
        json={"organizationId": str(org), "tier": "pro", "interval": interval},
        headers=owner.headers,
    )
    assert started.status_code == 200, started.text
    url = started.json()["url"]
    assert url.startswith(stripe_server.url)
    page = httpx.get(url)
    assert page.status_code == 200 and "Pay" in page.text and "$29.00" in page.text.replace("29.00 USD", "$29.00")
    paid = httpx.post(url, data={"action": "pay"}, follow_redirects=False)
    assert paid.status_code == 303, paid.text
    back = urlsplit(paid.headers["location"])
    query = parse_qs(back.query)
    assert back.path == "/organization/billing" and query["organizationId"] == [str(org)]
    assert query["checkout"] == ["success"]
    return query["session_id"][0]


def test_plans_are_public_and_an_admins_change_applies_without_a_deploy(
    client: TestClient, db: psycopg.Connection[Any], owner: Account, org: Any
) -> None:
    plans = client.get("/api/plans").json()["items"]
    assert [p["tier"] for p in plans] == ["free", "pro", "enterprise"]
    free, pro = plans[0], plans[1]
    assert free["limits"] == {"projects": 1, "members": 1, "deployments": 1, "aiTokens": 10000, "customDomains": False}
    assert pro["limits"]["projects"] == 10 and pro["monthlyPriceCents"] == 2900 and pro["limits"]["aiTokens"] is None

    assert new_project(client, owner, org, "First").status_code == 201
    refused = new_project(client, owner, org, "Second")
    assert refused.status_code == 402
    assert refused.json()["error"]["details"] == {"limit": 1, "used": 1, "tier": "free", "resource": "projects"}
    assert client.get("/api/projects", headers=owner.headers).json()["items"][0]["name"] == "First"

    admin = make_user(db, role="co_admin")
    changed = client.patch("/api/admin/plans/free", json={"maxProjects": 2}, headers=admin.headers)
    assert changed.status_code == 200 and changed.json()["plan"]["limits"]["projects"] == 2
    assert new_project(client, owner, org, "Second").status_code == 201
    bad = client.patch("/api/admin/plans/free", json={"maxMembers": 0}, headers=admin.headers)
    assert bad.status_code == 422
    assert client.patch("/api/admin/plans/gold", json={"name": "Gold"}, headers=admin.headers).status_code == 404


def test_a_free_owner_upgrades_through_checkout_and_the_tier_changes_with_the_webhook(
    client: TestClient,
    db: psycopg.Connection[Any],
    owner: Account,
    org: Any,
    stripe_server: StripeServer,
) -> None:
    assert new_project(client, owner, org, "First").status_code == 201
    assert new_project(client, owner, org, "Second").status_code == 402
    before = subscription(client, owner, org)
    assert before["tier"] == "free" and before["usage"]["projects"] == 1 and not before["hasCustomer"]

    session_id = upgrade(client, owner, org, stripe_server)

    # The webhooks came (signed, over HTTP) before the redirect: the tier is Pro at once.
    delivered = {d.event_type for d in stripe_server.emulator.deliveries if d.ok}
    assert {"checkout.session.completed", "customer.subscription.created", "invoice.paid"} <= delivered
    now = subscription(client, owner, org)
    assert (now["tier"], now["subscribedTier"], now["status"], now["interval"]) == ("pro", "pro", "active", "month")
    assert now["limits"]["projects"] == 10 and now["currentPeriodEnd"] and now["hasCustomer"]
    assert new_project(client, owner, org, "Second").status_code == 201

    invoices = client.get("/api/billing/invoices", params={"organizationId": str(org)}, headers=owner.headers).json()
    [invoice] = invoices["items"]
    assert invoice["status"] == "paid" and invoice["amountPaid"] == 2900 and invoice["currency"] == "usd"
    assert invoice["hostedInvoiceUrl"] and httpx.get(invoice["hostedInvoiceUrl"]).status_code == 200
    session = stripe_server.emulator.checkout_sessions[session_id]
    assert session["client_reference_id"] == str(org) and session["customer"]
    assert db.execute("SELECT stripe_customer_id FROM organizations WHERE id = %s", (org,)).fetchone() == (
        session["customer"],
    )
    # A second Checkout while subscribed: change the plan in the portal instead.
    again = client.post(
        "/api/billing/checkout", json={"organizationId": str(org), "tier": "pro"}, headers=owner.headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_subscribed"
    events = db.execute("SELECT count(*) FROM subscription_events WHERE organization_id = %s", (org,)).fetchone()
    assert events is not None and events[0] >= 3
    audit = db.execute(
        "SELECT count(*) FROM audit_logs WHERE organization_id = %s AND action LIKE 'billing.%%'", (org,)
    ).fetchone()
    assert audit is not None and audit[0] >= 4  # the checkout started, and each applied event


def test_cancelling_in_the_portal_ends_pro_at_the_periods_end_and_keeps_what_exists(
    client: TestClient, owner: Account, org: Any, stripe_server: StripeServer
) -> None:
    upgrade(client, owner, org, stripe_server)
    for name in ("One", "Two", "Three"):
        assert new_project(client, owner, org, name).status_code == 201

    portal = client.post("/api/billing/portal", json={"organizationId": str(org)}, headers=owner.headers)
    assert portal.status_code == 200, portal.text
    page = httpx.get(portal.json()["url"])
    assert page.status_code == 200 and "Cancel plan" in page.text
    form = re.search(r'<form method="post" action="([^"]+)">.*?name="subscription" value="([^"]+)"', page.text, re.S)
    assert form is not None
    action, subscription_id = form.group(1), form.group(2)
    cancelled = httpx.post(f"{stripe_server.url}{action}", data={"action": "cancel", "subscription": subscription_id})
    assert cancelled.status_code < 400
    pending = subscription(client, owner, org)
    assert pending["tier"] == "pro" and pending["cancelAtPeriodEnd"] is True

    stripe_server.emulator.advance_period(subscription_id)  # the period ends

    after = subscription(client, owner, org)
    assert (after["tier"], after["status"], after["cancelAtPeriodEnd"]) == ("free", "active", False)
    assert after["usage"]["projects"] == 3  # nothing was deleted
    refused = new_project(client, owner, org, "Four")
    assert refused.status_code == 402 and refused.json()["error"]["details"]["used"] == 3
    # Free again: a new Checkout may start.
    restart = client.post(
        "/api/billing/checkout", json={"organizationId": str(org), "tier": "pro"}, headers=owner.headers
    )
    assert restart.status_code == 200


def test_a_failed_renewal_keeps_pro_through_the_grace_period_and_tells_the_owners(
    client: TestClient,
    db: psycopg.Connection[Any],
    owner: Account,
    org: Any,
    stripe_server: StripeServer,
) -> None:
    upgrade(client, owner, org, stripe_server)
    subscription_id = db.execute("SELECT stripe_subscription_id FROM organizations WHERE id = %s", (org,)).fetchone()
    assert subscription_id is not None
    stripe_server.emulator.fail_next_payment(subscription_id[0])
    stripe_server.emulator.advance_period(subscription_id[0])

    overdue = subscription(client, owner, org)
    assert (overdue["tier"], overdue["status"]) == ("pro", "past_due") and overdue["graceEndsAt"]
    mail = [
        m for m in client.get("/dev/mail.json").json() if m["to"] == owner.email and "Payment failed" in m["subject"]
    ]
    assert len(mail) == 1 and "/invoices/" in mail[0]["text"]
    assert new_project(client, owner, org, "Still Pro").status_code == 201

    # Eight days on, the grace is over: Free limits apply, the subscription is still past due.
    db.execute(
        "UPDATE organizations SET past_due_since = %s WHERE id = %s", (datetime.now(UTC) - timedelta(days=8), org)
    )
    late = subscription(client, owner, org)
    assert (late["tier"], late["subscribedTier"], late["status"]) == ("free", "pro", "past_due")
    assert new_project(client, owner, org, "Too many").status_code == 402


def test_only_the_owner_checks_out_and_members_see_the_plan(
    client: TestClient, db: psycopg.Connection[Any], owner: Account, org: Any, stripe_server: StripeServer
) -> None:
    from tests.support.identity import add_member

    member = make_user(db)
    add_member(db, org, member, "admin", ["view", "edit", "deploy", "manage", "invite"])
    refused = client.post(
        "/api/billing/checkout", json={"organizationId": str(org), "tier": "pro"}, headers=member.headers
    )
    assert refused.status_code == 403
    assert subscription(client, member, org)["tier"] == "free"
    enterprise = client.post(
        "/api/billing/checkout", json={"organizationId": str(org), "tier": "enterprise"}, headers=owner.headers
    )
    assert enterprise.status_code == 422
    no_portal = client.post("/api/billing/portal", json={"organizationId": str(org)}, headers=owner.headers)
    assert no_portal.status_code == 409 and no_portal.json()["error"]["code"] == "no_subscription"


def test_stripe_not_answering_is_503_and_changes_nothing(
    client: TestClient, db: psycopg.Connection[Any], owner: Account, org: Any, stripe_server: StripeServer
) -> None:
    stripe_server.emulator.faults.fail_next("POST", "/v1/checkout/sessions", 500, "api_error", "boom", times=5)
    response = client.post(
        "/api/billing/checkout", json={"organizationId": str(org), "tier": "pro"}, headers=owner.headers
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["message"] == "The payment service did not answer. Please try again in a moment."
    assert "boom" not in response.text
    audit = db.execute("SELECT count(*) FROM audit_logs WHERE action = 'billing.checkout'").fetchone()
    assert audit == (0,)


def test_a_trial_is_offered_once_and_the_owners_hear_before_it_ends(
    client: TestClient,
    db: psycopg.Connection[Any],
    owner: Account,
    org: Any,
    stripe_server: StripeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mm_common.config import get_settings

    monkeypatch.setenv("BILLING_TRIAL_DAYS", "14")
    get_settings.cache_clear()
    try:
        started = client.post(
            "/api/billing/checkout", json={"organizationId": str(org), "tier": "pro"}, headers=owner.headers
        )
        assert "14 days free" in httpx.get(started.json()["url"]).text
        assert httpx.post(started.json()["url"], data={"action": "pay"}).status_code < 400
        trial = subscription(client, owner, org)
        assert (trial["tier"], trial["status"]) == ("pro", "trialing") and trial["trialEndsAt"]
        subscription_id = db.execute(
            "SELECT stripe_subscription_id FROM organizations WHERE id = %s", (org,)
        ).fetchone()
        assert subscription_id is not None
        stripe_server.emulator.trial_will_end(subscription_id[0])
        mail = [m for m in client.get("/dev/mail.json").json() if m["to"] == owner.email and "trial" in m["subject"]]
        assert len(mail) == 1 and "/organization/billing?organizationId=" in mail[0]["text"]

        # Cancelled now; a second Checkout offers no second trial.
        sdk = stripe.StripeClient(stripe_server.emulator.secret_key, base_addresses={"api": stripe_server.url})
        sdk.v1.subscriptions.cancel(subscription_id[0])
        assert subscription(client, owner, org)["tier"] == "free"
        again = client.post(
            "/api/billing/checkout", json={"organizationId": str(org), "tier": "pro"}, headers=owner.headers
        )
        assert "days free" not in httpx.get(again.json()["url"]).text
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
