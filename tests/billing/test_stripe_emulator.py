"""The Stripe emulator (devstack/stripe.py), driven by the official stripe SDK over HTTP, with a real
webhook endpoint: the wire format, the hosted pages, the events and their signed deliveries."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
import stripe

from devstack.stripe import API_VERSION, StripeServer, mask_key, parse_form, sign_payload
from tests.billing.stripe_fixtures import (
    STRIPE_SECRET_KEY,
    WEBHOOK_SECRET,
    WebhookReceiver,
    pay_checkout,
    start_stripe,
    stripe_client,
    subscribe,
)


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    endpoint = WebhookReceiver().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="module")
def server(receiver: WebhookReceiver) -> Iterator[StripeServer]:
    running = start_stripe(webhook_url=receiver.url)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: StripeServer) -> stripe.StripeClient:
    return stripe_client(server)


@pytest.fixture(autouse=True)
def _fresh_endpoint(server: StripeServer, receiver: WebhookReceiver) -> Iterator[None]:
    server.emulator.configure_webhook(receiver.url, WEBHOOK_SECRET)
    server.emulator.faults.clear()
    receiver.clear()
    yield
    # Nothing a test leaves pending is retried into the next test's receiver.
    server.emulator.configure_webhook(receiver.url, WEBHOOK_SECRET)
    server.emulator.deliver_pending()


def _events_about(receiver: WebhookReceiver, *object_ids: str) -> list[dict[str, Any]]:
    """The delivered events whose object is, or belongs to, one of ``object_ids``."""
    wanted = set(object_ids)

    def related(obj: dict[str, Any]) -> bool:
        parent = (obj.get("parent") or {}).get("subscription_details") or {}
        return bool({obj.get("id"), obj.get("customer"), obj.get("subscription"), parent.get("subscription")} & wanted)

    return [event for event in receiver.events() if related(event["data"]["object"])]


# ------------------------------------------------------------------------------- catalogue
def test_prices_by_lookup_key_come_with_their_product_expanded(client: stripe.StripeClient) -> None:
    prices = client.v1.prices.list(
        params={"lookup_keys": ["pro_monthly", "pro_yearly"], "active": True, "expand": ["data.product"]}
    )

    assert prices.to_dict()["object"] == "list"
    assert prices.url == "/v1/prices"
    by_key = {price.lookup_key: price for price in prices.data}
    assert set(by_key) == {"pro_monthly", "pro_yearly"}
    monthly, yearly = by_key["pro_monthly"], by_key["pro_yearly"]
    assert monthly.id.startswith("price_")
    assert (monthly.unit_amount, monthly.currency, monthly.type) == (2900, "usd", "recurring")
    assert monthly.recurring is not None and monthly.recurring.interval == "month"
    assert yearly.unit_amount == 29000
    assert yearly.recurring is not None and yearly.recurring.interval == "year"
    product = monthly.product
    assert isinstance(product, stripe.Product)
    assert product.id.startswith("prod_")
    assert product.name == "Pro"
    assert product.metadata.to_dict() == {"tier": "pro"}
    # Not expanded, a price names its product by id; both prices share the one product.
    plain = client.v1.prices.retrieve(monthly.id)
    assert plain.product == product.id == client.v1.prices.retrieve(yearly.id).product
    assert client.v1.prices.list(params={"lookup_keys": ["pro_monthly"], "active": False}).data == []


def test_the_sdk_form_encoding_is_parsed_into_nested_objects() -> None:
    parsed = parse_form(
        [
            ("line_items[0][price]", "price_1"),
            ("line_items[0][quantity]", "1"),
            ("line_items[1][price]", "price_2"),
            ("metadata[orgId]", "org_1"),
            ("metadata[0]", "kept as a key"),
            ("expand[]", "data.product"),
            ("expand[]", "subscription"),
            ("subscription_data[metadata][plan]", "pro"),
        ]
    )

    assert parsed == {
        "line_items": [{"price": "price_1", "quantity": "1"}, {"price": "price_2"}],
        "metadata": {"orgId": "org_1", "0": "kept as a key"},
        "expand": ["data.product", "subscription"],
        "subscription_data": {"metadata": {"plan": "pro"}},
    }


# ------------------------------------------------------------------------------- checkout
def test_checkout_paid_on_the_hosted_page_makes_a_basil_shaped_subscription_and_a_paid_invoice(
    client: stripe.StripeClient, server: StripeServer
) -> None:
    price = client.v1.prices.list(params={"lookup_keys": ["pro_monthly"]}).data[0]
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "customer_email": "ada@example.com",
            "client_reference_id": "org_42",
            "metadata": {"orgId": "org_42"},
            "subscription_data": {"metadata": {"orgId": "org_42"}},
            "success_url": "https://app.example.test/billing/done?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.example.test/billing",
            "allow_promotion_codes": True,
        }
    )
    assert session.id.startswith("cs_test_")
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "subscription")
    assert session.url == f"{server.url}/checkout/{session.id}"
    assert session.allow_promotion_codes is True

    page = httpx.get(session.url)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Checkout</h1>" in page.text
    assert "<strong>Pro</strong>: $29.00 per month" in page.text
    assert re.search(r'<button type="submit" name="action" value="pay">Pay</button>', page.text)
    assert re.search(r'<button type="submit" name="action" value="decline"[^>]*>Decline</button>', page.text)
    assert "ada@example.com" in page.text
    assert "<script" not in page.text and "https://" not in page.text.replace("https://app.example.test", "")

    paid = pay_checkout(session.url)
    assert paid.status_code == 303
    assert paid.headers["location"] == f"https://app.example.test/billing/done?session={session.id}"

    done = client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status, done.url) == ("complete", "paid", None)
    assert done.client_reference_id == "org_42"
    assert isinstance(done.customer, str) and done.customer.startswith("cus_")
    assert isinstance(done.subscription, str) and done.subscription.startswith("sub_")
    assert client.v1.customers.retrieve(done.customer).email == "ada@example.com"

    subscription = client.v1.subscriptions.retrieve(done.subscription)
    raw = subscription.to_dict()
    assert (subscription.status, subscription.customer) == ("active", done.customer)
    assert subscription.cancel_at_period_end is False
    assert subscription.trial_end is None
    assert subscription.metadata.to_dict() == {"orgId": "org_42"}
    assert "current_period_end" not in raw and "current_period_start" not in raw  # basil: on the items
    item = subscription["items"].data[0]
    assert item.id.startswith("si_")
    assert item.price.id == price.id and item.price.lookup_key == "pro_monthly"
    assert item.current_period_start <= subscription.created < item.current_period_end
    assert 28 * 86_400 <= item.current_period_end - item.current_period_start <= 31 * 86_400

    invoices = client.v1.invoices.list(params={"subscription": subscription.id})
    assert len(invoices.data) == 1
    invoice = invoices.data[0]
    assert invoice.id.startswith("in_") and invoice.id == subscription.latest_invoice
    assert (invoice.status, invoice.amount_due, invoice.amount_paid, invoice.currency) == ("paid", 2900, 2900, "usd")
    assert (invoice.customer, invoice.customer_email) == (done.customer, "ada@example.com")
    assert invoice.billing_reason == "subscription_create"
    assert invoice.number and re.fullmatch(r"[A-Z0-9]{8}-0001", invoice.number)
    assert invoice.parent is not None and invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == subscription.id
    assert invoice.to_dict()["parent"]["subscription_details"]["metadata"] == {"orgId": "org_42"}
    assert "subscription" not in invoice.to_dict()  # basil: under parent.subscription_details
    assert invoice.lines.data[0].period.end == item.current_period_end

    assert invoice.hosted_invoice_url == f"{server.url}/invoices/{invoice.id}"
    hosted = httpx.get(invoice.hosted_invoice_url)
    assert hosted.status_code == 200 and invoice.number in hosted.text and "$29.00" in hosted.text
    assert invoice.invoice_pdf is not None
    pdf = httpx.get(invoice.invoice_pdf)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")

    again = httpx.get(session.url)
    assert "This checkout session is complete." in again.text
    assert 'value="pay"' not in again.text


def test_expanding_the_subscription_of_a_checkout_session(client: stripe.StripeClient) -> None:
    subscription = subscribe(client, email="expand@example.com")

    assert subscription.id.startswith("sub_")
    assert subscription["items"].data[0].price.recurring.interval == "month"
    latest = client.v1.subscriptions.retrieve(
        subscription.id, params={"expand": ["latest_invoice", "items.data.price.product"]}
    )
    assert isinstance(latest.latest_invoice, stripe.Invoice) and latest.latest_invoice.status == "paid"
    assert isinstance(latest["items"].data[0].price.product, stripe.Product)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.retrieve(subscription.id, params={"expand": ["status"]})
    assert refused.value.http_status == 400 and "cannot be expanded" in str(refused.value.user_message)


def test_a_declined_card_keeps_the_session_open(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    price = client.v1.prices.list(params={"lookup_keys": ["pro_yearly"]}).data[0]
    customer = client.v1.customers.create(params={"email": "decline@example.com"})
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "customer": customer.id,
            "success_url": "https://app.example.test/ok",
        }
    )
    assert session.url is not None
    assert "$290.00 per year" in httpx.get(session.url).text

    declined = httpx.post(session.url, data={"action": "decline"})

    assert declined.status_code == 402
    assert '<p class="alert" role="alert">Your card was declined.</p>' in declined.text
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert "checkout.session.completed" not in receiver.types()
    # Paying afterwards still works, for the session's own customer (none is created).
    assert pay_checkout(session.url).status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.customer) == ("complete", customer.id)
    assert [e["type"] for e in _events_about(receiver, customer.id)].count("customer.created") == 1


def test_a_trial_starts_trialing_with_a_zero_invoice_and_renews_paid(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    subscription = subscribe(client, email="trial@example.com", trial_days=14)

    assert subscription.status == "trialing"
    assert subscription.trial_start is not None and subscription.trial_end is not None
    assert subscription.trial_end - subscription.trial_start == 14 * 86_400
    assert subscription["items"].data[0].current_period_end == subscription.trial_end
    first = client.v1.invoices.list(params={"subscription": subscription.id}).data
    assert [(i.status, i.amount_due) for i in first] == [("paid", 0)]

    warned = server.emulator.trial_will_end(subscription.id)
    assert warned["type"] == "customer.subscription.trial_will_end"
    assert receiver.types()[-1] == "customer.subscription.trial_will_end"

    server.emulator.advance_period(subscription.id)

    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert renewed.status == "active"
    assert renewed["items"].data[0].current_period_start == subscription.trial_end
    invoices = client.v1.invoices.list(params={"subscription": subscription.id}).data
    newest = invoices[0]  # lists are newest first
    assert (newest.status, newest.amount_paid, newest.billing_reason) == ("paid", 2900, "subscription_cycle")


# ------------------------------------------------------------------------------- webhooks
def test_webhooks_are_signed_and_sent_in_order(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    subscription = subscribe(client, email="hooks@example.com", metadata={"orgId": "org_hooks"})
    customer = str(subscription.customer)

    assert [e["type"] for e in _events_about(receiver, customer, subscription.id)] == [
        "customer.created",
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "checkout.session.completed",
    ]
    for delivery in receiver.received:
        assert delivery.headers["content-type"] == "application/json; charset=utf-8"
        assert delivery.headers["user-agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
        event = stripe.Webhook.construct_event(delivery.body, delivery.headers["stripe-signature"], WEBHOOK_SECRET)
        assert event.id.startswith("evt_")
        assert (event.object, event.api_version, event.livemode) == ("event", API_VERSION, False)
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(
                delivery.body, delivery.headers["stripe-signature"], "whsec_someoneelsessecret"
            )
    completed = next(e for e in receiver.events() if e["type"] == "checkout.session.completed")
    session = completed["data"]["object"]
    assert (session["object"], session["status"], session["subscription"]) == (
        "checkout.session",
        "complete",
        subscription.id,
    )
    created = next(e for e in receiver.events() if e["type"] == "customer.subscription.created")
    assert created["data"]["object"]["metadata"] == {"orgId": "org_hooks"}
    assert created["data"]["object"]["latest_invoice"] == subscription.latest_invoice
    # The events are in the API too, delivered (no webhook pending).
    stored = client.v1.events.retrieve(completed["id"])
    assert stored.type == "checkout.session.completed" and stored.pending_webhooks == 0
    listed = client.v1.events.list(params={"type": "invoice.paid", "limit": 100})
    assert any(e.data.object["id"] == subscription.latest_invoice for e in listed.data)


def test_a_webhook_handler_may_call_the_api_back(client: stripe.StripeClient, server: StripeServer) -> None:
    """A receiver that reads and changes Stripe while its delivery is in flight (as a billing handler does)
    neither deadlocks the emulator nor reorders the events: its own change is delivered after the rest."""
    seen: list[str] = []

    def handler(event: dict[str, Any]) -> None:
        seen.append(event["type"])
        if event["type"] == "checkout.session.completed":
            subscription_id = event["data"]["object"]["subscription"]
            assert client.v1.subscriptions.retrieve(subscription_id).status == "active"
            client.v1.subscriptions.update(subscription_id, params={"metadata": {"synced": "yes"}})

    calling_back = WebhookReceiver(on_event=handler).start()
    try:
        server.emulator.configure_webhook(calling_back.url)

        subscription = subscribe(client, email="callback@example.com")

        assert seen[-2:] == ["checkout.session.completed", "customer.subscription.updated"]
        assert calling_back.events()[-1]["data"]["object"]["metadata"] == {"orgId": "org_1", "synced": "yes"}
        assert client.v1.subscriptions.retrieve(subscription.id).metadata.to_dict()["synced"] == "yes"
    finally:
        calling_back.stop()


def test_the_signature_is_the_hmac_of_the_exact_bytes() -> None:
    header = sign_payload(b'{"id": "evt_1"}', "whsec_abc", 1_700_000_000)

    assert header == "t=1700000000,v1=" + (
        __import__("hmac").new(b"whsec_abc", b'1700000000.{"id": "evt_1"}', "sha256").hexdigest()
    )


def test_a_failed_delivery_stays_pending_until_retried(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    receiver.answer_next(500)

    customer = client.v1.customers.create(params={"email": "retry@example.com", "metadata": {"orgId": "org_r"}})

    emulator = server.emulator
    [event] = [e for e in emulator.events_of("customer.created") if e["data"]["object"]["id"] == customer.id]
    attempts = [(d.attempt, d.status) for d in emulator.deliveries if d.event_id == event["id"]]
    assert attempts == [(1, 500)]
    assert emulator.pending_deliveries() == [event["id"]]
    assert client.v1.events.retrieve(event["id"]).pending_webhooks == 1

    emulator.deliver_pending()

    attempts = [(d.attempt, d.status) for d in emulator.deliveries if d.event_id == event["id"]]
    assert attempts == [(1, 500), (2, 200)]
    assert emulator.pending_deliveries() == []
    assert [item.answered for item in receiver.received] == [500, 200]
    assert [item.event["id"] for item in receiver.received] == [event["id"], event["id"]]
    assert client.v1.events.retrieve(event["id"]).pending_webhooks == 0


def test_an_unreachable_endpoint_is_a_failed_delivery(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    closed = WebhookReceiver()
    closed_url = closed.url
    closed.stop()  # bound, never served, now closed: connections are refused
    server.emulator.configure_webhook(closed_url)

    customer = client.v1.customers.create(params={"email": "down@example.com"})

    [failure] = [d for d in server.emulator.deliveries if d.url == closed_url]
    assert failure.status is None and failure.error and not failure.ok
    server.emulator.configure_webhook(receiver.url)
    server.emulator.deliver_pending()
    assert [e["data"]["object"]["id"] for e in receiver.events()] == [customer.id]


def test_resend_delivers_an_event_again(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    customer = client.v1.customers.create(params={"email": "resend@example.com"})
    [event] = [e for e in receiver.events() if e["data"]["object"]["id"] == customer.id]

    server.emulator.resend(event["id"])

    assert [e["id"] for e in receiver.events()] == [event["id"], event["id"]]
    assert [d.attempt for d in server.emulator.deliveries if d.event_id == event["id"]] == [1, 2]


def test_background_delivery_retries_with_backoff(receiver: WebhookReceiver) -> None:
    background = start_stripe(webhook_url=receiver.url, delivery="background", retry_base_s=0.01)
    try:
        sdk = stripe_client(background)
        receiver.answer_next(503)

        customer = sdk.v1.customers.create(params={"email": "background@example.com"})

        done = False
        for _ in range(20):  # each wait ends when a delivery arrives, not on a timer
            assert receiver.arrived.wait(timeout=10), "no delivery arrived"
            receiver.arrived.clear()
            done = [item.answered for item in receiver.received] == [503, 200]
            if done:
                break
        assert done
        assert [item.event["data"]["object"]["id"] for item in receiver.received] == [customer.id, customer.id]
    finally:
        background.stop()  # joins the delivery thread: its last attempt is recorded
    attempts = [(d.attempt, d.status) for d in background.emulator.deliveries]
    assert attempts == [(1, 503), (2, 200)]
    assert background.emulator.pending_deliveries() == []


def test_a_transport_replaces_http_for_deliveries() -> None:
    sent: list[tuple[str, bytes, dict[str, str]]] = []

    def transport(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> int:
        sent.append((url, body, dict(headers)))
        return 500 if len(sent) == 1 else 204

    in_process = start_stripe(webhook_url="inproc://billing/webhook", transport=transport)
    try:
        customer = stripe_client(in_process).v1.customers.create(params={"email": "transport@example.com"})
        in_process.emulator.deliver_pending()
    finally:
        in_process.stop()

    assert [url for url, _, _ in sent] == ["inproc://billing/webhook"] * 2
    event = stripe.Webhook.construct_event(sent[1][1], sent[1][2]["Stripe-Signature"], WEBHOOK_SECRET)
    assert event.type == "customer.created" and event.data.object["id"] == customer.id
    assert [(d.attempt, d.status) for d in in_process.emulator.deliveries] == [(1, 500), (2, 204)]


def test_an_idempotency_key_replays_the_first_answer(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    key = "idem-create-customer-1"
    first = client.v1.customers.create(params={"email": "idem@example.com"}, options={"idempotency_key": key})
    second = client.v1.customers.create(params={"email": "idem@example.com"}, options={"idempotency_key": key})

    assert second.id == first.id
    assert second.last_response is not None
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response is not None and "Idempotent-Replayed" not in first.last_response.headers
    assert [e["data"]["object"]["id"] for e in receiver.events()] == [first.id]
    with pytest.raises(stripe.IdempotencyError) as reused:
        client.v1.customers.create(params={"email": "other@example.com"}, options={"idempotency_key": key})
    assert reused.value.http_status == 400
    created = [e for e in server.emulator.events_of("customer.created") if e["request"]["idempotency_key"] == key]
    assert len(created) == 1 and created[0]["request"]["id"].startswith("req_")


# ------------------------------------------------------------------------------- portal and lifecycle
def test_cancel_in_the_portal_then_the_period_ends(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    subscription = subscribe(client, email="portal@example.com")
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": str(subscription.customer), "return_url": "https://app.example.test/billing"}
    )
    assert portal.id.startswith("bps_")
    assert portal.url == f"{server.url}/portal/{portal.id}"
    page = httpx.get(portal.url)
    assert page.status_code == 200
    assert ">Cancel plan</button>" in page.text and ">Switch to yearly</button>" in page.text
    assert '<a href="https://app.example.test/billing">Return</a>' in page.text
    receiver.clear()

    cancelled = httpx.post(portal.url, data={"action": "cancel", "subscription": subscription.id})

    assert cancelled.status_code == 303
    after = client.v1.subscriptions.retrieve(subscription.id)
    assert after.cancel_at_period_end is True and after.status == "active"
    assert after.cancel_at == after["items"].data[0].current_period_end
    [updated] = receiver.events()
    assert updated["type"] == "customer.subscription.updated"
    assert updated["data"]["object"]["cancel_at_period_end"] is True
    assert updated["data"]["previous_attributes"]["cancel_at_period_end"] is False
    assert ">Renew plan</button>" in httpx.get(portal.url).text
    receiver.clear()

    server.emulator.advance_period(subscription.id)

    ended = client.v1.subscriptions.retrieve(subscription.id)
    assert ended.status == "canceled" and ended.ended_at is not None
    assert receiver.types() == ["customer.subscription.deleted"]
    assert client.v1.invoices.list(params={"subscription": subscription.id}).data[0].billing_reason == (
        "subscription_create"
    )  # no renewal invoice
    listed = client.v1.subscriptions.list(params={"customer": str(subscription.customer)})
    assert listed.data == []  # canceled ones only when asked, as Stripe lists
    every = client.v1.subscriptions.list(params={"customer": str(subscription.customer), "status": "all"})
    assert [s.id for s in every.data] == [subscription.id]


def test_renew_and_switch_interval_in_the_portal(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    subscription = subscribe(client, email="switch@example.com")
    portal = client.v1.billing_portal.sessions.create(params={"customer": str(subscription.customer)})
    assert portal.url is not None
    httpx.post(portal.url, data={"action": "cancel", "subscription": subscription.id})
    httpx.post(portal.url, data={"action": "renew", "subscription": subscription.id})
    assert client.v1.subscriptions.retrieve(subscription.id).cancel_at_period_end is False
    receiver.clear()

    switched = httpx.post(portal.url, data={"action": "switch", "subscription": subscription.id})

    assert switched.status_code == 303
    after = client.v1.subscriptions.retrieve(subscription.id)
    item = after["items"].data[0]
    assert item.price.lookup_key == "pro_yearly"
    assert 365 * 86_400 <= item.current_period_end - item.current_period_start <= 366 * 86_400
    assert receiver.types()[-1] == "customer.subscription.updated"
    assert receiver.events()[-1]["data"]["object"]["items"]["data"][0]["price"]["lookup_key"] == "pro_yearly"
    assert ">Switch to monthly</button>" in httpx.get(portal.url).text


def test_a_failed_renewal_makes_the_subscription_past_due(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    subscription = subscribe(client, email="pastdue@example.com")
    receiver.clear()
    server.emulator.fail_next_payment(subscription.id)

    server.emulator.advance_period(subscription.id)

    assert client.v1.subscriptions.retrieve(subscription.id).status == "past_due"
    assert receiver.types() == [
        "invoice.created",
        "invoice.finalized",
        "invoice.payment_failed",
        "customer.subscription.updated",
    ]
    failed = receiver.events()[2]["data"]["object"]
    assert (failed["status"], failed["amount_paid"], failed["attempt_count"]) == ("open", 0, 1)
    assert failed["parent"]["subscription_details"]["subscription"] == subscription.id
    updated = receiver.events()[3]["data"]
    assert updated["previous_attributes"]["status"] == "active"

    server.emulator.pay_invoice(failed["id"])

    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"
    assert client.v1.invoices.retrieve(failed["id"]).status == "paid"


def test_a_renewal_that_needs_action_leaves_an_open_invoice(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    subscription = subscribe(client, email="sca@example.com")
    receiver.clear()
    server.emulator.require_action(subscription.id)

    server.emulator.advance_period(subscription.id)

    assert "invoice.payment_action_required" in receiver.types()
    open_invoices = client.v1.invoices.list(params={"subscription": subscription.id, "status": "open"}).data
    assert len(open_invoices) == 1
    assert open_invoices[0].hosted_invoice_url is not None
    assert ">Pay invoice</button>" in httpx.get(open_invoices[0].hosted_invoice_url).text


def test_subscription_changes_through_the_api(
    client: stripe.StripeClient, server: StripeServer, receiver: WebhookReceiver
) -> None:
    subscription = subscribe(client, email="api@example.com")
    receiver.clear()

    updated = client.v1.subscriptions.update(
        subscription.id, params={"cancel_at_period_end": True, "metadata": {"note": "leaving"}}
    )
    assert updated.cancel_at_period_end is True
    assert updated.metadata.to_dict() == {"orgId": "org_1", "note": "leaving"}
    yearly = client.v1.prices.list(params={"lookup_keys": ["pro_yearly"]}).data[0]
    item_id = updated["items"].data[0].id
    switched = client.v1.subscriptions.update(subscription.id, params={"items": [{"id": item_id, "price": yearly.id}]})
    assert switched["items"].data[0].price.id == yearly.id
    canceled = client.v1.subscriptions.cancel(subscription.id)

    assert canceled.status == "canceled"
    assert receiver.types()[0] == "customer.subscription.updated"
    assert receiver.types()[-1] == "customer.subscription.deleted"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.cancel(subscription.id)


# ------------------------------------------------------------------------------- errors
def test_a_wrong_api_key_is_401_with_the_key_masked(server: StripeServer) -> None:
    wrong = "sk_test_thisIsNotTheEmulatorsKey0000wxyz"

    with pytest.raises(stripe.AuthenticationError) as refused:
        stripe_client(server, api_key=wrong).v1.customers.create(params={"email": "x@example.com"})

    assert refused.value.http_status == 401
    body: Any = refused.value.json_body
    error = body["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"] == f"Invalid API Key provided: {mask_key(wrong)}"
    assert mask_key(wrong) == "sk_test_" + "*" * (len(wrong) - 12) + "wxyz"
    assert STRIPE_SECRET_KEY not in str(body)
    missing = httpx.get(f"{server.url}/v1/customers")
    assert missing.status_code == 401 and "did not provide an API key" in missing.json()["error"]["message"]


def test_missing_and_unknown_parameters_are_400_with_param(client: stripe.StripeClient) -> None:
    price = client.v1.prices.list(params={"lookup_keys": ["pro_monthly"]}).data[0]
    base = {"mode": "subscription", "line_items": [{"price": price.id, "quantity": 1}]}

    def create(params: Any) -> None:  # parameters the SDK's types refuse: the point is the API's answer
        client.v1.checkout.sessions.create(params=params)

    with pytest.raises(stripe.InvalidRequestError) as missing:
        create(base)
    assert (missing.value.http_status, missing.value.param, missing.value.code) == (
        400,
        "success_url",
        "parameter_missing",
    )

    with pytest.raises(stripe.InvalidRequestError) as bad_mode:
        create({**base, "mode": "setup", "success_url": "https://x.test"})
    assert (bad_mode.value.http_status, bad_mode.value.param) == (400, "mode")

    with pytest.raises(stripe.InvalidRequestError) as unknown:
        create({**base, "success_url": "https://x.test", "colour": "blue"})
    assert (unknown.value.param, unknown.value.code) == ("colour", "parameter_unknown")

    with pytest.raises(stripe.InvalidRequestError) as no_price:
        create({**base, "line_items": [{"price": "price_nope", "quantity": 1}], "success_url": "https://x.test"})
    assert (no_price.value.http_status, no_price.value.param, no_price.value.code) == (
        400,
        "line_items[0][price]",
        "resource_missing",
    )


def test_an_unknown_id_is_404_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.subscriptions.retrieve("sub_doesnotexist")

    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert missing.value.param == "id"
    assert missing.value.user_message == "No such subscription: 'sub_doesnotexist'"


def test_faults_surface_as_the_sdks_errors(client: stripe.StripeClient, server: StripeServer) -> None:
    server.emulator.faults.fail_next("GET", "/v1/prices", 500)

    with pytest.raises(stripe.APIError) as failed:
        client.v1.prices.list()
    assert failed.value.http_status == 500
    assert not isinstance(failed.value, stripe.InvalidRequestError)
    assert len(client.v1.prices.list().data) == 2  # only the next call

    server.emulator.faults.fail_next("POST", "/v1/customers", 429)
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.create(params={"email": "busy@example.com"})


def test_the_control_api(server: StripeServer, client: stripe.StripeClient, receiver: WebhookReceiver) -> None:
    subscription = subscribe(client, email="control@example.com")
    receiver.clear()

    answer = httpx.post(f"{server.url}/_emulator/subscriptions/{subscription.id}/advance_period")

    assert answer.status_code == 200
    assert answer.json()["result"]["id"] == subscription.id
    assert "invoice.paid" in receiver.types()
    events = httpx.get(f"{server.url}/_emulator/events", params={"type": "invoice.paid"}).json()["data"]
    assert events and all(e["type"] == "invoice.paid" for e in events)
    deliveries = httpx.get(f"{server.url}/_emulator/deliveries").json()
    assert deliveries["pending"] == [] and deliveries["data"][-1]["ok"] is True
    assert httpx.post(f"{server.url}/_emulator/subscriptions/sub_nope/advance_period").status_code == 404
