"""Helpers for tests that talk to Stripe: the emulator (devstack/stripe.py) on a real port, the official SDK
pointed at it, a webhook receiver, and the hosted checkout page driven over HTTP.

Plain functions and classes, not fixtures (imported fixtures trip ruff's F811): a test module, or a conftest,
wraps them in fixtures as tests/billing/test_stripe_emulator.py does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import stripe
from stripe.params.checkout import SessionCreateParamsSubscriptionData

from devstack.stripe import API_VERSION, StripeEmulator, StripeServer

STRIPE_SECRET_KEY = "sk_test_51MoreMinimoreEmulatorKey0000000000000000000000000000000000000000000000000000000000000"
WEBHOOK_SECRET = "whsec_moreminimoretestsecret0123456789abcdef"


def start_stripe(**options: Any) -> StripeServer:
    """The emulator with the test key and webhook secret on a free loopback port; ``options`` go to
    :class:`StripeEmulator` (webhook_url, delivery, prices, …)."""
    options.setdefault("secret_key", STRIPE_SECRET_KEY)
    options.setdefault("webhook_secret", WEBHOOK_SECRET)
    return StripeServer(StripeEmulator(**options)).start()


def stripe_client(server: StripeServer, *, api_key: str = STRIPE_SECRET_KEY, **options: Any) -> stripe.StripeClient:
    """The official SDK pointed at the emulator, pinned to the API version it speaks."""
    return stripe.StripeClient(api_key, base_addresses={"api": server.url}, stripe_version=API_VERSION, **options)


@dataclass(frozen=True)
class ReceivedWebhook:
    headers: dict[str, str]  # names lower-cased
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class WebhookReceiver:
    """A webhook endpoint on a free loopback port (the stdlib's HTTP server, in a thread): records every
    request, answers 200 unless told otherwise by :meth:`answer_next`; ``arrived`` is set on each request.
    ``on_event`` runs on each parsed event before the answer (a handler that calls the API back)."""

    def __init__(self, on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.on_event = on_event
        self.received: list[ReceivedWebhook] = []
        self.arrived = threading.Event()
        self._answers: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.on_event is not None:
                    receiver.on_event(json.loads(body))
                with receiver._lock:
                    status = receiver._answers.pop(0) if receiver._answers else 200
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    receiver.received.append(ReceivedWebhook(headers, body, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                receiver.arrived.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/webhooks/stripe"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def answer_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (then 200 again)."""
        with self._lock:
            self._answers.extend(statuses)

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self._answers.clear()
        self.arrived.clear()

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [item.event for item in self.received]

    def types(self) -> list[str]:
        return [str(event["type"]) for event in self.events()]


def pay_checkout(session_url: str, **form: str) -> httpx.Response:
    """Press Pay on the hosted checkout page (the redirect is not followed)."""
    return httpx.post(session_url, data={"action": "pay", **form}, follow_redirects=False)


def subscribe(
    client: stripe.StripeClient,
    lookup_key: str = "pro_monthly",
    *,
    email: str = "owner@example.com",
    trial_days: int | None = None,
    metadata: dict[str, str] | None = None,
) -> stripe.Subscription:
    """A checkout for ``lookup_key`` paid on the hosted page: the subscription it made."""
    price = client.v1.prices.list(params={"lookup_keys": [lookup_key]}).data[0]
    subscription_data: SessionCreateParamsSubscriptionData = {"metadata": metadata or {"orgId": "org_1"}}
    if trial_days:
        subscription_data["trial_period_days"] = trial_days
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "customer_email": email,
            "success_url": "https://app.example.test/billing?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.example.test/billing",
            "subscription_data": subscription_data,
        }
    )
    assert session.url is not None
    answer = pay_checkout(session.url)
    assert answer.status_code == 303, answer.text
    completed = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["subscription"]})
    subscription = completed.subscription
    assert isinstance(subscription, stripe.Subscription)
    return subscription
