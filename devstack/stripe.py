"""A Stripe emulator: the v1 endpoints our billing code calls, on Stripe's real wire format.

Stripe's servers are not reachable from these machines; the local stack and the tests point the
official ``stripe`` SDK at this instead::

    stripe.StripeClient(emulator.secret_key, base_addresses={"api": server.url}, stripe_version=API_VERSION)

Wire format (API version ``2026-10-28.endive``, "basil" shapes and later):

* requests are ``application/x-www-form-urlencoded`` with Stripe's bracket encoding
  (``line_items[0][price]``, ``metadata[orgId]``, ``expand[]`` or ``expand[0]``), in the query string
  for GET and DELETE; ``"true"``/``"false"`` are booleans, an empty value unsets (``metadata[k]=``);
* ``Authorization: Bearer <secret key>`` (or Basic with the key as user name), else 401 with the key
  masked as Stripe masks it; a ``Stripe-Version`` other than :data:`API_VERSION` is refused (400), so
  a client pinned to another version's shapes is caught here rather than in production;
* answers are Stripe's JSON objects (``object``, prefixed ids, unix timestamps), lists are
  ``{"object": "list", "data", "has_more", "url"}`` (newest first, ``limit`` / ``starting_after`` /
  ``ending_before``), ``expand[]`` works on any path that ends in an id (``data.product``,
  ``subscription``, ``latest_invoice``, ``items.data.price.product``; ``items.data.price`` is
  already a full object, as in Stripe), and every answer carries ``Request-Id`` and ``Stripe-Version``;
* errors: 400 ``invalid_request_error`` with ``param`` and ``code`` (``parameter_missing``,
  ``parameter_unknown``, ``resource_missing`` for a referenced object), 404 ``resource_missing`` for
  the object in the path, 401 for the key, ``idempotency_error`` when an ``Idempotency-Key`` is reused
  with other parameters (the same key and body replay the first answer with ``Idempotent-Replayed:
  true``; only successful answers are kept, as Stripe keeps none for a request that failed validation).

Endpoints: ``POST /v1/customers``, ``GET /v1/customers``, ``GET|POST /v1/customers/{id}``,
``GET /v1/products/{id}``, ``GET /v1/prices`` (``lookup_keys[]``, ``active``, ``product``, ``type``),
``GET /v1/prices/{id}``, ``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions/{id}``,
``POST /v1/checkout/sessions/{id}/expire``, ``POST /v1/billing_portal/sessions``,
``GET /v1/subscriptions`` (``customer``, ``price``, ``status``; canceled ones only when asked, as
Stripe), ``GET|POST|DELETE /v1/subscriptions/{id}``, ``GET /v1/invoices`` (``customer``,
``subscription``, ``status``), ``GET /v1/invoices/{id}``, ``GET /v1/events`` (``type``),
``GET /v1/events/{id}``.

Products and prices are seeded at construction from ``prices`` (lookup key → :class:`PriceSeed`).
Changing a subscription's price (the portal's switch, ``items[0][id]`` + ``items[0][price]``) starts a
new period now and bills the new price in full (no proration arithmetic). A subscription invoice's
``period_start``/``period_end`` are Stripe's: the period *before* the invoice (equal on the first
invoice); the service period billed is on ``lines.data[0].period``.

Hosted pages (plain HTML, no external assets; forms post to themselves):

* ``/checkout/{id}``: the product, price and interval, an e-mail field when the session has neither
  customer nor e-mail, buttons **Pay** and **Decline**. Pay completes the session (customer created
  if needed, subscription ``trialing`` with ``subscription_data[trial_period_days]`` else ``active``,
  a paid invoice, $0 during a trial) and redirects (303) to ``success_url`` with
  ``{CHECKOUT_SESSION_ID}`` filled in; Decline says "Your card was declined." and keeps it open.
* ``/portal/{id}``: the customer's subscriptions with **Cancel plan** / **Renew plan**
  (``cancel_at_period_end``), **Switch to yearly** / **Switch to monthly**, and a **Return** link.
* ``/invoices/{id}`` (with **Pay invoice** while it is open) and ``/invoices/{id}.pdf``.

Events: every change records an ``evt_`` Event (``data.object`` as it was then, ``previous_attributes``
on ``*.updated``), and when a webhook endpoint is configured it is POSTed there as Stripe does it:
``Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.payload")``, JSON, Stripe's User-Agent, redirects
not followed, anything but 2xx (or no answer) is a failure kept pending with a growing backoff.
``delivery`` picks who delivers:

* ``"sync"`` (the default): the thread that made the change, right after it (outside the lock, so
  the receiver may call back), in event order; failed deliveries wait for :meth:`deliver_pending`.
* ``"background"``: a thread delivers and retries after 1 s, 2 s, 4 s … (capped at ``retry_cap_s``).

``transport`` replaces the HTTP POST (e.g. a stack whose functions are reached in-process). Every attempt
is in ``deliveries`` (:class:`Delivery`). Controls (methods, and the JSON API under
``/_emulator``, no key needed — for the dev stack and browser tests):

===============================================  ==================================================
``advance_period(sub)``                           ``POST /_emulator/subscriptions/{id}/advance_period``
``fail_next_payment(sub)``                        ``POST /_emulator/subscriptions/{id}/fail_next_payment``
``require_action(sub)``                           ``POST /_emulator/subscriptions/{id}/require_action``
``trial_will_end(sub)``                           ``POST /_emulator/subscriptions/{id}/trial_will_end``
``pay_invoice(invoice)``                          ``POST /_emulator/invoices/{id}/pay``
``expire_checkout_session(cs)``                   ``POST /_emulator/checkout_sessions/{id}/expire``
``resend(event)``                                 ``POST /_emulator/events/{id}/resend``
``deliver_pending()``                             ``POST /_emulator/deliver_pending``
``events_of(type)``                               ``GET /_emulator/events?type=``
``deliveries``                                    ``GET /_emulator/deliveries``
``configure_webhook(url, secret)``                ``POST /_emulator/webhook`` ``{"url", "secret"}``
``pay_checkout(cs, email)``                       ``POST /_emulator/checkout_sessions/{id}/pay`` ``{"email"?}``
(prices by lookup key, the webhook URL)           ``GET /_emulator/config``
``faults.fail_next(...)`` / ``faults.clear()``    ``POST|DELETE /_emulator/faults``
===============================================  ==================================================

Controls answer ``{"ok": true, "result": …}``, or a Stripe error body (404 for an unknown id, 400 for a
state that does not allow it). ``advance_period`` moves the emulator's clock (``now()``, used for every
timestamp; webhook signatures use real time) to the end of that subscription's period, like a Stripe
test clock, without renewing any other subscription. A subscription set to cancel at period end is
then canceled (``customer.subscription.deleted``); otherwise it renews: a new period on its items and
an invoice, paid, or failed after ``fail_next_payment`` (``past_due``), or open after
``require_action`` (``invoice.payment_action_required``, ``past_due``); then
``customer.subscription.updated``.

Event types sent: ``customer.created`` / ``.updated``, ``customer.subscription.created`` / ``.updated`` /
``.deleted`` / ``.trial_will_end``, ``invoice.created``, ``.finalized``, ``.paid``, ``.payment_succeeded``,
``.payment_failed``, ``.payment_action_required``, ``checkout.session.completed`` / ``.expired``. A paid
checkout sends, in order: customer.created (when it made the customer), customer.subscription.created,
invoice.created, invoice.finalized, invoice.paid, invoice.payment_succeeded, checkout.session.completed.

Faults (``emulator.faults``): ``fail_next(method, path_prefix, status, error_type, message, times)``
answers the next matching API calls with that Stripe error (a 500 ``api_error``, a 429 …).

:class:`StripeServer` serves an emulator on a free port in a thread: ``.url``, ``.stop()``.
The local stack and the tests only: Lambda code never imports this module.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from devstack.serving import LoopbackServer

API_VERSION = "2026-10-28.endive"
WEBHOOK_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
DAY_S = 86_400

Json = dict[str, Any]
DeliveryMode = Literal["sync", "background"]


class PriceSeed(NamedTuple):
    """A recurring price to seed, with its product (prices naming the same product share it)."""

    product: str
    metadata: Mapping[str, str]
    unit_amount: int
    currency: str
    interval: Literal["month", "year"]


DEFAULT_PRICES: dict[str, PriceSeed] = {
    "pro_monthly": PriceSeed("Pro", {"tier": "pro"}, 2900, "usd", "month"),
    "pro_yearly": PriceSeed("Pro", {"tier": "pro"}, 29000, "usd", "year"),
}

_ALNUM = string.ascii_letters + string.digits
_KEY_PART = re.compile(r"\[([^\[\]]*)\]")
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}"
    "button{font-size:1rem;padding:.5rem 1rem;margin:.25rem .5rem .25rem 0}"
    ".alert{color:#b00020;font-weight:600}section{border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}"
)


# ------------------------------------------------------------------------------- errors
class StripeError(Exception):
    """An error answer, shaped as Stripe's ``{"error": {...}}``."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self, request_id: str | None = None) -> Json:
        error: Json = {"message": self.message, "type": self.error_type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        if request_id:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def _invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, "invalid_request_error", message, param=param, code=code)


def _missing(param: str) -> StripeError:
    return _invalid(f"Missing required param: {param}.", param, "parameter_missing")


def _unknown(param: str) -> StripeError:
    return _invalid(f"Received unknown parameter: {param}", param, "parameter_unknown")


def _no_such(kind: str, object_id: str, *, param: str = "id", status: int = 404) -> StripeError:
    return StripeError(
        status, "invalid_request_error", f"No such {kind}: '{object_id}'", param=param, code="resource_missing"
    )


def mask_key(key: str) -> str:
    """A key as Stripe's "Invalid API Key provided" shows it: the first 8 and last 4 characters."""
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


# ------------------------------------------------------------------------------- form parameters
def parse_form(pairs: list[tuple[str, str]]) -> Json:
    """Stripe's bracket encoding into nested dicts and lists (``a[0][b]=1&c[]=2`` → ``{"a": [{"b": "1"}],
    "c": ["2"]}``). Indexed keys become lists in index order, except the keys of ``metadata``."""
    root: Json = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if match is None:
            raise _invalid(f"Invalid parameter name: {raw_key}", raw_key)
        parts = [match.group(1), *_KEY_PART.findall(match.group(2))]
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":
                if not last:
                    raise _invalid(f"Invalid array parameter: {raw_key}", raw_key)
                node[str(len(node))] = value
                break
            if last:
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise _invalid(f"Invalid hash parameter: {raw_key}", raw_key)
                node = child
    return _listify(root)


def _listify(node: Json) -> Json:
    out: Json = {}
    for key, value in node.items():
        if isinstance(value, dict):
            converted = _listify(value)
            if key != "metadata" and converted and all(k.isdigit() for k in converted):
                out[key] = [converted[k] for k in sorted(converted, key=int)]
            else:
                out[key] = converted
        else:
            out[key] = value
    return out


def _check_known(params: Mapping[str, Any], allowed: set[str], prefix: str = "") -> None:
    for key in params:
        if key not in allowed:
            raise _unknown(f"{prefix}[{key}]" if prefix else key)


def _str(params: Mapping[str, Any], name: str, *, required: bool = False, param: str | None = None) -> str | None:
    value = params.get(name)
    label = param or name
    if value is None or value == "":
        if required:
            raise _missing(label)
        return None
    if not isinstance(value, str):
        raise _invalid(f"Invalid string: {label}", label)
    return value


def _bool(params: Mapping[str, Any], name: str, param: str | None = None) -> bool | None:
    value = params.get(name)
    label = param or name
    if value is None or value == "":
        return None
    if value not in ("true", "false"):
        raise _invalid(f"Invalid boolean: {value}", label)
    return bool(value == "true")


def _int(params: Mapping[str, Any], name: str, *, low: int, high: int, param: str | None = None) -> int | None:
    value = params.get(name)
    label = param or name
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
        raise _invalid(f"Invalid integer: {value}", label)
    number = int(value)
    if not low <= number <= high:
        raise _invalid(f"Invalid {label}: must be between {low} and {high}", label)
    return number


def _hash(params: Mapping[str, Any], name: str) -> Json | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise _invalid(f"Invalid object: {name}", name)
    return value


def _list(params: Mapping[str, Any], name: str) -> list[Any]:
    value = params.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise _invalid(f"Invalid array: {name}", name)
    return value


def _metadata(value: Any, current: Mapping[str, str] | None = None) -> dict[str, str]:
    """``metadata`` as given, merged into ``current`` (an empty value deletes a key; ``metadata=`` all)."""
    merged = dict(current or {})
    if value is None:
        return merged
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise _invalid("Invalid object: metadata", "metadata")
    for key, item in value.items():
        if not isinstance(item, str):
            raise _invalid(f"Invalid value for metadata[{key}]", f"metadata[{key}]")
        if len(key) > 40:
            raise _invalid(f"Metadata keys can have up to 40 characters; '{key}' has {len(key)}.", "metadata")
        if len(item) > 500:
            raise _invalid(f"Metadata values can have up to 500 characters; {key}'s has {len(item)}.", "metadata")
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = item
    if len(merged) > 50:
        raise _invalid("Metadata can have up to 50 keys.", "metadata")
    return merged


# ------------------------------------------------------------------------------- webhooks
def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header for ``payload`` sent at ``timestamp``."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver an event: ``status`` is the HTTP status, None when no answer came."""

    event_id: str
    event_type: str
    attempt: int
    status: int | None
    error: str | None
    url: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class _Outgoing:
    event_id: str
    attempts: int = 0
    next_at: float = 0.0
    forced: bool = False


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # Stripe treats a redirect as a failed delivery; it does not follow it.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())

WebhookTransport = Callable[[str, bytes, Mapping[str, str], float], int]
"""How a delivery is sent: (url, body, headers, timeout_s) → the HTTP status; OSError when no answer came."""


def http_post(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> int:
    """The default transport: a real HTTP POST, no proxy, redirects not followed."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as failure:
        failure.close()
        return int(failure.code)


# ------------------------------------------------------------------------------- faults
@dataclass
class _Fault:
    method: str
    path_prefix: str
    status: int
    error_type: str
    message: str
    code: str | None
    times: int
    should_retry: bool | None


class Faults:
    """Stripe errors to answer instead of the next matching API calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []

    def fail_next(
        self,
        method: str = "*",
        path_prefix: str = "/v1/",
        status: int = 500,
        error_type: str | None = None,
        message: str | None = None,
        *,
        times: int = 1,
        code: str | None = None,
        should_retry: bool | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` ("*" any) under ``path_prefix`` answer ``status`` with a
        Stripe error: ``error_type`` defaults to ``api_error`` (5xx), ``invalid_request_error`` with code
        ``rate_limit`` (429, as Stripe answers) or ``invalid_request_error``. ``should_retry`` sends
        ``Stripe-Should-Retry`` (the SDK's retry hint)."""
        if error_type is None:
            error_type = "api_error" if status >= 500 else "invalid_request_error"
        if status == 429 and code is None:
            code = "rate_limit"
        if message is None:
            message = {
                429: "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
            }.get(status, "An unknown error occurred" if status >= 500 else f"Emulated error ({status})")
        fault = _Fault(method.upper(), path_prefix, status, error_type, message, code, times, should_retry)
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, path: str) -> StripeError | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in ("*", method) and path.startswith(fault.path_prefix):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    headers = {}
                    if fault.should_retry is not None:
                        headers["Stripe-Should-Retry"] = "true" if fault.should_retry else "false"
                    return StripeError(fault.status, fault.error_type, fault.message, code=fault.code, headers=headers)
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


# ------------------------------------------------------------------------------- helpers
def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def add_interval(timestamp: int, interval: str, count: int = 1) -> int:
    """``timestamp`` moved by calendar months or years (the day clamped to the month's end), as Stripe bills."""
    if interval == "day":
        return timestamp + count * DAY_S
    if interval == "week":
        return timestamp + count * 7 * DAY_S
    moment = datetime.fromtimestamp(timestamp, UTC)
    months = moment.month - 1 + count * (12 if interval == "year" else 1)
    year, month = moment.year + months // 12, months % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def _money(amount: int, currency: str) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency.lower())
    value = f"{amount / 100:,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"


def _date(timestamp: int | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%B %-d, %Y")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_PAGE_CSS}</style></head>'
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status)


def _list_object(items: list[Json], url: str, params: Mapping[str, Any]) -> Json:
    """A page of ``items`` (newest first), honouring limit / starting_after / ending_before."""
    limit = _int(params, "limit", low=1, high=100) or 10
    after = _str(params, "starting_after")
    before = _str(params, "ending_before")
    ids = [item["id"] for item in items]
    if after is not None:
        if after not in ids:
            raise _no_such("object", after, param="starting_after", status=400)
        window = items[ids.index(after) + 1 :]
        page, has_more = window[:limit], len(window) > limit
    elif before is not None:
        if before not in ids:
            raise _no_such("object", before, param="ending_before", status=400)
        window = items[: ids.index(before)]
        page, has_more = window[-limit:], len(window) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


_LIST_PARAMS = {"limit", "starting_after", "ending_before", "expand", "created"}
_CHECKOUT_PARAMS = {
    "mode", "line_items", "customer", "customer_email", "client_reference_id", "metadata", "subscription_data",
    "success_url", "cancel_url", "allow_promotion_codes", "expand", "automatic_tax", "billing_address_collection",
    "consent_collection", "currency", "custom_fields", "custom_text", "customer_creation", "customer_update",
    "discounts", "expires_at", "locale", "payment_method_collection", "payment_method_types",
    "phone_number_collection", "tax_id_collection", "ui_mode", "invoice_creation", "payment_intent_data",
}  # fmt: skip
_SUBSCRIPTION_DATA_PARAMS = {
    "metadata", "trial_period_days", "description", "trial_settings", "default_tax_rates", "proration_behavior",
    "billing_cycle_anchor", "invoice_settings", "missing_payment_method",
}  # fmt: skip
_SUBSCRIPTION_UPDATE_PARAMS = {
    "cancel_at_period_end", "items", "metadata", "proration_behavior", "payment_behavior", "expand",
    "cancellation_details", "description", "default_payment_method",
}  # fmt: skip


# ------------------------------------------------------------------------------- the emulator
class StripeEmulator:
    """Stripe's state and API; :meth:`asgi_app` serves it (see the module docstring)."""

    def __init__(
        self,
        *,
        secret_key: str | None = None,
        prices: Mapping[str, PriceSeed] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        delivery: DeliveryMode = "sync",
        public_url: str | None = None,
        retry_base_s: float = 1.0,
        retry_cap_s: float = 60.0,
        webhook_timeout_s: float = 10.0,
        transport: WebhookTransport = http_post,
    ) -> None:
        self.secret_key = secret_key or "sk_test_" + _new_id("", 40)
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret or "whsec_" + _new_id("", 32)
        self.delivery: DeliveryMode = delivery
        self.public_url = public_url  # where browsers reach the pages, when not at the server's own url
        self.base_url = "http://127.0.0.1"
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self.webhook_timeout_s = webhook_timeout_s
        self.transport = transport  # e.g. a test stack's in-process client instead of HTTP
        self.faults = Faults()
        self.customers: dict[str, Json] = {}
        self.products: dict[str, Json] = {}
        self.prices: dict[str, Json] = {}
        self.checkout_sessions: dict[str, Json] = {}
        self.portal_sessions: dict[str, Json] = {}
        self.subscriptions: dict[str, Json] = {}
        self.invoices: dict[str, Json] = {}
        self.events: dict[str, Json] = {}
        self.deliveries: list[Delivery] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every API call
        self._session_items: dict[str, list[tuple[str, int]]] = {}  # checkout session → (price id, quantity)
        self._session_subscription_data: dict[str, Json] = {}  # checkout session → metadata, trial days
        self._session_notice: dict[str, str] = {}  # checkout session → what its page says (a decline)
        self._armed: dict[str, str] = {}  # subscription → "fail" | "action" for its next renewal
        self._idempotent: dict[str, tuple[tuple[str, str, bytes], int, Json]] = {}
        self._invoice_counts: dict[str, int] = {}
        self._clock_offset = 0
        self._lock = threading.RLock()
        self._local = threading.local()
        self._outbox: list[_Outgoing] = []
        self._wake = threading.Condition(self._lock)
        self._pump_state = threading.Condition()
        self._delivering: threading.Thread | None = None
        self._pump_requested = False
        self._closing = False
        self._worker: threading.Thread | None = None
        self._seed(DEFAULT_PRICES if prices is None else prices)
        if delivery == "background":
            self._worker = threading.Thread(target=self._background_loop, name="stripe-webhooks", daemon=True)
            self._worker.start()

    # ------------------------------------------------------------------ seeding and clock
    def _seed(self, prices: Mapping[str, PriceSeed]) -> None:
        now = self.now()
        by_name: dict[str, str] = {}
        for lookup_key, seed in prices.items():
            product_id = by_name.get(seed.product)
            if product_id is None:
                product_id = _new_id("prod_", 14)
                by_name[seed.product] = product_id
                self.products[product_id] = {
                    "id": product_id, "object": "product", "active": True, "created": now, "default_price": None,
                    "description": None, "images": [], "livemode": False, "marketing_features": [],
                    "metadata": dict(seed.metadata), "name": seed.product, "package_dimensions": None,
                    "shippable": None, "statement_descriptor": None, "tax_code": None, "type": "service",
                    "unit_label": None, "updated": now, "url": None,
                }  # fmt: skip
            price_id = _new_id("price_")
            self.prices[price_id] = {
                "id": price_id, "object": "price", "active": True, "billing_scheme": "per_unit", "created": now,
                "currency": seed.currency, "custom_unit_amount": None, "livemode": False, "lookup_key": lookup_key,
                "metadata": {}, "nickname": None, "product": product_id,
                "recurring": {
                    "interval": seed.interval, "interval_count": 1, "meter": None, "trial_period_days": None,
                    "usage_type": "licensed",
                },
                "tax_behavior": "unspecified", "tiers_mode": None, "transform_quantity": None, "type": "recurring",
                "unit_amount": seed.unit_amount, "unit_amount_decimal": str(seed.unit_amount),
            }  # fmt: skip
            if self.products[product_id]["default_price"] is None:
                self.products[product_id]["default_price"] = price_id

    def now(self) -> int:
        """The emulator's clock: real time, moved forward by :meth:`advance_period`."""
        return int(time.time()) + self._clock_offset

    def price_id(self, lookup_key: str) -> str:
        """The id of the seeded price with ``lookup_key``."""
        with self._lock:
            for price in self.prices.values():
                if price["lookup_key"] == lookup_key:
                    return str(price["id"])
        raise KeyError(lookup_key)

    @property
    def page_base(self) -> str:
        return (self.public_url or self.base_url).rstrip("/")

    # ------------------------------------------------------------------ changes and events
    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the state lock for a change; once the outermost change is done (lock released), deliver."""
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            with self._lock:
                yield
        finally:
            self._local.depth = depth
        if depth == 0:
            self._kick()

    def _emit(self, event_type: str, obj: Json, previous: Json | None = None) -> Json:
        request = getattr(self._local, "request", None) or {"id": None, "idempotency_key": None}
        event_id = _new_id("evt_")
        data: Json = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = copy.deepcopy(previous)
        event: Json = {
            "id": event_id,
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1 if self.webhook_url else 0,
            "request": dict(request),
            "type": event_type,
        }
        self.events[event_id] = event
        if self.webhook_url:
            self._outbox.append(_Outgoing(event_id))
        return event

    def _emit_updated(self, subscription: Json, before: Json) -> None:
        previous = {key: value for key, value in before.items() if subscription.get(key) != value}
        self._emit("customer.subscription.updated", subscription, previous)

    def events_of(self, event_type: str) -> list[Json]:
        """Every event of ``event_type``, oldest first (copies)."""
        with self._lock:
            return [copy.deepcopy(e) for e in self.events.values() if e["type"] == event_type]

    def configure_webhook(self, url: str | None, secret: str | None = None) -> None:
        """Send later events to ``url`` (None: to nobody), signed with ``secret`` (kept when None)."""
        with self._lock:
            self.webhook_url = url
            if secret is not None:
                self.webhook_secret = secret

    # ------------------------------------------------------------------ delivery
    def _kick(self) -> None:
        if self.delivery == "sync":
            self._pump(retry_all=False)
        else:
            with self._lock:
                self._wake.notify_all()

    def deliver_pending(self) -> None:
        """Try every pending delivery now, in event order (and any event those deliveries cause)."""
        with self._pump_state:
            if self._delivering is threading.current_thread():
                return
            while self._delivering is not None:
                self._pump_state.wait(timeout=60)
            self._delivering = threading.current_thread()
            self._pump_requested = False
        self._run_passes(retry_all=True)

    def _pump(self, *, retry_all: bool) -> bool:
        """Deliver what is due in this thread; False when another thread is delivering (it will)."""
        with self._pump_state:
            if self._delivering is not None:
                # Another thread is delivering (perhaps waiting on the receiver that made this change):
                # it picks these events up when its current pass ends, keeping the order.
                self._pump_requested = True
                return False
            self._delivering = threading.current_thread()
            self._pump_requested = False
        self._run_passes(retry_all=retry_all)
        return True

    def _run_passes(self, *, retry_all: bool) -> None:
        try:
            while True:
                self._pass(retry_all=retry_all)
                retry_all = False
                with self._pump_state:
                    if not self._pump_requested:
                        return
                    self._pump_requested = False
        finally:
            with self._pump_state:
                self._delivering = None
                self._pump_state.notify_all()

    def _pass(self, *, retry_all: bool) -> None:
        now = time.monotonic()
        with self._lock:
            due = [
                entry
                for entry in self._outbox
                if retry_all
                or entry.attempts == 0
                or entry.forced
                or (self.delivery == "background" and entry.next_at <= now)
            ]
        for entry in due:
            self._attempt(entry)

    def _attempt(self, entry: _Outgoing) -> None:
        with self._lock:
            if entry not in self._outbox:
                return
            url, secret = self.webhook_url, self.webhook_secret
            event = self.events[entry.event_id]
            if url is None:
                self._outbox.remove(entry)
                event["pending_webhooks"] = 0
                return
            entry.attempts += 1
            entry.forced = False
            attempt = entry.attempts
            event_type = str(event["type"])
            payload = json.dumps(event, indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": WEBHOOK_USER_AGENT,
            "Cache-Control": "no-cache",
            "Stripe-Signature": sign_payload(payload, secret, int(time.time())),
        }
        status: int | None = None
        error: str | None = None
        try:
            status = self.transport(url, payload, headers, self.webhook_timeout_s)
        except (OSError, ValueError) as failure:  # refused, reset, timed out, a malformed URL
            error = f"{type(failure).__name__}: {failure}"
        delivery = Delivery(entry.event_id, event_type, attempt, status, error, url)
        with self._lock:
            self.deliveries.append(delivery)
            if delivery.ok:
                if entry in self._outbox:
                    self._outbox.remove(entry)
                event["pending_webhooks"] = 0
            else:
                entry.next_at = time.monotonic() + min(self.retry_cap_s, self.retry_base_s * 2 ** (attempt - 1))

    def pending_deliveries(self) -> list[str]:
        """The events still waiting for a successful delivery, oldest first."""
        with self._lock:
            return [entry.event_id for entry in self._outbox]

    def resend(self, event_id: str) -> None:
        """Deliver ``event_id`` again (Stripe's "Resend"), now in sync mode, next in background mode."""
        with self._changing():
            if event_id not in self.events:
                raise _no_such("event", event_id)
            entry = next((e for e in self._outbox if e.event_id == event_id), None)
            if entry is None:
                attempts = sum(1 for d in self.deliveries if d.event_id == event_id)
                entry = _Outgoing(event_id, attempts=attempts)
                self._outbox.append(entry)
                self._outbox.sort(key=lambda e: list(self.events).index(e.event_id))
            entry.forced = True

    def _background_loop(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
                now = time.monotonic()
                due = [e for e in self._outbox if e.attempts == 0 or e.forced or e.next_at <= now]
                if not due:
                    waits = [e.next_at - now for e in self._outbox]
                    self._wake.wait(timeout=min(waits) if waits else None)
                    continue
            if not self._pump(retry_all=False):
                with self._pump_state:  # deliver_pending has it: wait for that rather than spin
                    while self._delivering is not None and not self._closing:
                        self._pump_state.wait(timeout=1)

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._wake.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=self.webhook_timeout_s + 5)

    # ------------------------------------------------------------------ lookups and rendering
    def _get(self, table: dict[str, Json], kind: str, object_id: str, *, param: str = "id", status: int = 404) -> Json:
        found = table.get(object_id)
        if found is None:
            raise _no_such(kind, object_id, param=param, status=status)
        return found

    def _resolve(self, object_id: str) -> Json | None:
        tables: list[tuple[str, dict[str, Json]]] = [
            ("cus_", self.customers),
            ("prod_", self.products),
            ("price_", self.prices),
            ("sub_", self.subscriptions),
            ("in_", self.invoices),
            ("cs_", self.checkout_sessions),
        ]
        for prefix, table in tables:
            if object_id.startswith(prefix):
                return table.get(object_id)
        return None

    def _expand(self, obj: Json, expand: list[Any]) -> Json:
        out = copy.deepcopy(obj)
        for path in expand:
            if not isinstance(path, str) or not path:
                raise _invalid("Invalid expand path", "expand")
            if path.count(".") > 3:
                raise _invalid(f"You cannot expand more than 4 levels of a property ({path}).", "expand")
            out = self._expand_path(out, path.split("."), path)
        return out

    def _expand_path(self, node: Any, parts: list[str], full: str) -> Any:
        if isinstance(node, list):
            return [self._expand_path(item, parts, full) for item in node]
        if not isinstance(node, dict) or parts[0] not in node:
            raise _invalid(f"This property cannot be expanded ({full}).", "expand")
        value = node[parts[0]]
        if isinstance(value, str):
            target = self._resolve(value)
            if target is None:
                raise _invalid(f"This property cannot be expanded ({full}).", "expand")
            value = copy.deepcopy(target)
        elif value is not None and not isinstance(value, dict | list):
            raise _invalid(f"This property cannot be expanded ({full}).", "expand")
        if value is not None and len(parts) > 1:
            value = self._expand_path(value, parts[1:], full)
        node[parts[0]] = value
        return node

    # ------------------------------------------------------------------ API
    def handle_api(
        self, method: str, path: str, query: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, Json, dict[str, str]]:
        """One API call: (status, JSON body, extra headers)."""
        request_id = _new_id("req_", 14)
        out_headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
        idempotency_key = headers.get("idempotency-key") if method == "POST" else None
        if idempotency_key:
            out_headers["Idempotency-Key"] = idempotency_key
        try:
            self._authenticate(headers.get("authorization"))
            version = headers.get("stripe-version")
            if version and version != API_VERSION:
                raise _invalid(
                    f"This emulator speaks Stripe API version {API_VERSION} only; the request asked for {version}."
                )
            fault = self.faults.take(method, path)
            if fault is not None:
                raise fault
            try:
                raw = body.decode("utf-8") if method == "POST" else query
                pairs = parse_qsl(raw, keep_blank_values=True)
            except ValueError as error:
                raise _invalid(f"Invalid request body: {error}") from error
            params = parse_form(pairs)
            if idempotency_key:
                fingerprint = (method, path, body)
                with self._lock:
                    stored = self._idempotent.get(idempotency_key)
                if stored is not None:
                    if stored[0] != fingerprint:
                        raise StripeError(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they were "
                            f"first used with. Try using a key other than '{idempotency_key}' if you meant to "
                            "execute a different request.",
                        )
                    self._record(method, path, stored[1])
                    return stored[1], copy.deepcopy(stored[2]), {**out_headers, "Idempotent-Replayed": "true"}
            handler, args = self._route(method, path)
            self._local.request = {"id": request_id, "idempotency_key": idempotency_key}
            try:
                with self._changing():
                    result = handler(params, *args)
                    if idempotency_key:
                        self._idempotent[idempotency_key] = ((method, path, body), 200, copy.deepcopy(result))
            finally:
                self._local.request = None
            self._record(method, path, 200)
            return 200, result, out_headers
        except StripeError as error:
            self._record(method, path, error.status)
            return error.status, error.body(request_id), {**out_headers, **error.headers}

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    def _authenticate(self, authorization: str | None) -> None:
        key = ""
        if authorization:
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() == "bearer":
                key = credentials.strip()
            elif scheme.lower() == "basic":
                try:
                    key = base64.b64decode(credentials).decode().partition(":")[0]
                except ValueError:
                    key = credentials
        if not key:
            raise StripeError(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                "https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
            )
        if not hmac.compare_digest(key, self.secret_key):
            raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {mask_key(key)}")

    def _route(self, method: str, path: str) -> tuple[Callable[..., Json], tuple[str, ...]]:
        routes: list[tuple[str, str, Callable[..., Json]]] = [
            ("POST", r"/v1/customers", self._create_customer),
            ("GET", r"/v1/customers", self._list_customers),
            ("GET", r"/v1/customers/([^/]+)", self._retrieve_customer),
            ("POST", r"/v1/customers/([^/]+)", self._update_customer),
            ("GET", r"/v1/products/([^/]+)", self._retrieve_product),
            ("GET", r"/v1/prices", self._list_prices),
            ("GET", r"/v1/prices/([^/]+)", self._retrieve_price),
            ("POST", r"/v1/checkout/sessions", self._create_checkout_session),
            ("GET", r"/v1/checkout/sessions/([^/]+)", self._retrieve_checkout_session),
            ("POST", r"/v1/checkout/sessions/([^/]+)/expire", self._expire_checkout_session),
            ("POST", r"/v1/billing_portal/sessions", self._create_portal_session),
            ("GET", r"/v1/subscriptions", self._list_subscriptions),
            ("GET", r"/v1/subscriptions/([^/]+)", self._retrieve_subscription),
            ("POST", r"/v1/subscriptions/([^/]+)", self._update_subscription),
            ("DELETE", r"/v1/subscriptions/([^/]+)", self._cancel_subscription),
            ("GET", r"/v1/invoices", self._list_invoices),
            ("GET", r"/v1/invoices/([^/]+)", self._retrieve_invoice),
            ("GET", r"/v1/events", self._list_events),
            ("GET", r"/v1/events/([^/]+)", self._retrieve_event),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return handler, match.groups()
        raise StripeError(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at "
            "https://support.stripe.com/.",
        )

    @staticmethod
    def _retrieve_params(params: Json) -> list[Any]:
        _check_known(params, {"expand"})
        return _list(params, "expand")

    # customers
    def _create_customer(self, params: Json) -> Json:
        _check_known(
            params, {"email", "name", "metadata", "description", "phone", "expand", "preferred_locales", "address"}
        )
        customer = self._new_customer(_str(params, "email"), _str(params, "name"), _metadata(params.get("metadata")))
        customer["description"] = _str(params, "description")
        customer["phone"] = _str(params, "phone")
        return self._expand(customer, _list(params, "expand"))

    def _new_customer(self, email: str | None, name: str | None, metadata: dict[str, str]) -> Json:
        customer_id = _new_id("cus_", 14)
        prefix = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8))
        customer: Json = {
            "id": customer_id, "object": "customer", "address": None, "balance": 0, "created": self.now(),
            "currency": None, "default_source": None, "delinquent": False, "description": None, "email": email,
            "invoice_prefix": prefix,
            "invoice_settings": {
                "custom_fields": None, "default_payment_method": None, "footer": None, "rendering_options": None,
            },
            "livemode": False, "metadata": metadata, "name": name, "next_invoice_sequence": 1, "phone": None,
            "preferred_locales": [], "shipping": None, "tax_exempt": "none", "test_clock": None,
        }  # fmt: skip
        self.customers[customer_id] = customer
        self._emit("customer.created", customer)
        return customer

    def _list_customers(self, params: Json) -> Json:
        _check_known(params, _LIST_PARAMS | {"email"})
        email = _str(params, "email")
        items = [c for c in reversed(self.customers.values()) if email is None or c["email"] == email]
        return self._expand(_list_object(items, "/v1/customers", params), _list(params, "expand"))

    def _retrieve_customer(self, params: Json, customer_id: str) -> Json:
        expand = self._retrieve_params(params)
        return self._expand(self._get(self.customers, "customer", customer_id), expand)

    def _update_customer(self, params: Json, customer_id: str) -> Json:
        _check_known(params, {"email", "name", "metadata", "description", "phone", "expand", "preferred_locales"})
        customer = self._get(self.customers, "customer", customer_id)
        before = copy.deepcopy(customer)
        for name in ("email", "name", "description", "phone"):
            if name in params:
                customer[name] = _str(params, name)
        customer["metadata"] = _metadata(params.get("metadata"), customer["metadata"])
        previous = {key: value for key, value in before.items() if customer.get(key) != value}
        if previous:
            self._emit("customer.updated", customer, previous)
        return self._expand(customer, _list(params, "expand"))

    # products and prices
    def _retrieve_product(self, params: Json, product_id: str) -> Json:
        return self._expand(self._get(self.products, "product", product_id), self._retrieve_params(params))

    def _list_prices(self, params: Json) -> Json:
        _check_known(params, _LIST_PARAMS | {"active", "currency", "lookup_keys", "product", "type", "recurring"})
        active = _bool(params, "active")
        lookup_keys = _list(params, "lookup_keys")
        product = _str(params, "product")
        price_type = _str(params, "type")
        currency = _str(params, "currency")
        items = [
            price
            for price in reversed(self.prices.values())
            if (active is None or price["active"] == active)
            and (not lookup_keys or price["lookup_key"] in lookup_keys)
            and (product is None or price["product"] == product)
            and (price_type is None or price["type"] == price_type)
            and (currency is None or price["currency"] == currency)
        ]
        return self._expand(_list_object(items, "/v1/prices", params), _list(params, "expand"))

    def _retrieve_price(self, params: Json, price_id: str) -> Json:
        return self._expand(self._get(self.prices, "price", price_id), self._retrieve_params(params))

    # checkout
    def _create_checkout_session(self, params: Json) -> Json:
        _check_known(params, _CHECKOUT_PARAMS)
        mode = _str(params, "mode", required=True)
        if mode not in ("payment", "setup", "subscription"):
            raise _invalid(f"Invalid mode: must be one of payment, setup, or subscription (got {mode})", "mode")
        if mode == "setup":
            raise _invalid("The emulator implements mode=subscription and mode=payment only.", "mode")
        success_url = _str(params, "success_url", required=True)
        cancel_url = _str(params, "cancel_url")
        customer_id = _str(params, "customer")
        customer_email = _str(params, "customer_email")
        if customer_id and customer_email:
            raise _invalid("You may only specify one of these parameters: customer, customer_email.", "customer")
        if customer_id:
            self._get(self.customers, "customer", customer_id, param="customer", status=400)
        raw_items = _list(params, "line_items")
        if not raw_items:
            raise _missing("line_items")
        items: list[tuple[str, int]] = []
        for index, raw in enumerate(raw_items):
            label = f"line_items[{index}]"
            if not isinstance(raw, dict):
                raise _invalid(f"Invalid object: {label}", label)
            _check_known(raw, {"price", "quantity", "adjustable_quantity", "tax_rates", "dynamic_tax_rates"}, label)
            price_id = _str(raw, "price", required=True, param=f"{label}[price]")
            assert price_id is not None
            price = self._get(self.prices, "price", price_id, param=f"{label}[price]", status=400)
            if not price["active"]:
                raise _invalid(f"The price specified ({price_id}) is inactive.", f"{label}[price]")
            quantity = _int(raw, "quantity", low=1, high=999_999, param=f"{label}[quantity]")
            if quantity is None:
                raise _invalid(f"Quantity is required. Add `quantity` to `{label}`", f"{label}[quantity]")
            if mode == "payment" and price["type"] == "recurring":
                raise _invalid(
                    "You specified `payment` mode but passed a recurring price. Either switch to `subscription` "
                    "mode or use only one-time prices.",
                    f"{label}[price]",
                )
            items.append((price_id, quantity))
        if mode == "subscription" and not any(self.prices[p]["type"] == "recurring" for p, _ in items):
            raise _invalid(
                "You must provide at least one recurring price in `subscription` mode when using prices.", "line_items"
            )
        subscription_data = _hash(params, "subscription_data") or {}
        if subscription_data and mode != "subscription":
            raise _invalid("You can only specify `subscription_data` in `subscription` mode.", "subscription_data")
        _check_known(subscription_data, _SUBSCRIPTION_DATA_PARAMS, "subscription_data")
        trial_days = _int(
            subscription_data, "trial_period_days", low=1, high=730, param="subscription_data[trial_period_days]"
        )
        allow_promotion_codes = _bool(params, "allow_promotion_codes")
        client_reference_id = _str(params, "client_reference_id")
        if client_reference_id is not None and len(client_reference_id) > 200:
            raise _invalid("client_reference_id can be at most 200 characters.", "client_reference_id")
        currencies = {self.prices[p]["currency"] for p, _ in items}
        if len(currencies) > 1:
            raise _invalid("All prices must use the same currency.", "line_items")
        amount = sum(int(self.prices[p]["unit_amount"]) * q for p, q in items)
        session_id = _new_id("cs_test_a1", 58)
        now = self.now()
        session: Json = {
            "id": session_id, "object": "checkout.session", "allow_promotion_codes": allow_promotion_codes,
            "amount_subtotal": amount, "amount_total": amount, "billing_address_collection": None,
            "cancel_url": cancel_url, "client_reference_id": client_reference_id, "created": now,
            "currency": currencies.pop(), "customer": customer_id,
            "customer_creation": None if customer_id or mode == "subscription" else "if_required",
            "customer_details": None, "customer_email": customer_email, "expires_at": now + DAY_S, "invoice": None,
            "livemode": False, "locale": None, "metadata": _metadata(params.get("metadata")), "mode": mode,
            "payment_intent": None, "payment_method_types": ["card"], "payment_status": "unpaid",
            "status": "open", "subscription": None, "success_url": success_url, "ui_mode": "hosted",
            "url": f"{self.page_base}/checkout/{session_id}",
        }  # fmt: skip
        self.checkout_sessions[session_id] = session
        self._session_items[session_id] = items
        self._session_subscription_data[session_id] = {
            "metadata": _metadata(subscription_data.get("metadata")),
            "trial_period_days": trial_days,
        }
        return self._expand(session, _list(params, "expand"))

    def _retrieve_checkout_session(self, params: Json, session_id: str) -> Json:
        expand = self._retrieve_params(params)
        return self._expand(self._get(self.checkout_sessions, "checkout.session", session_id), expand)

    def _expire_checkout_session(self, params: Json, session_id: str) -> Json:
        expand = self._retrieve_params(params)
        session = self._get(self.checkout_sessions, "checkout.session", session_id)
        if session["status"] != "open":
            raise _invalid(
                f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a '
                f'status of "{session["status"]}".'
            )
        self._expire(session)
        return self._expand(session, expand)

    def _expire(self, session: Json) -> None:
        session["status"] = "expired"
        session["url"] = None
        self._emit("checkout.session.expired", session)

    def _complete_checkout(self, session: Json, email: str | None) -> None:
        customer = self.customers.get(session["customer"] or "")
        if customer is None and session["mode"] == "subscription":
            customer = self._new_customer(session["customer_email"] or email, None, {})
        contact = (customer or {}).get("email") or session["customer_email"] or email
        session["customer_details"] = {
            "address": None, "business_name": None, "email": contact, "individual_name": None, "name": None,
            "phone": None, "tax_exempt": "none", "tax_ids": [],
        }  # fmt: skip
        if customer is not None:
            session["customer"] = customer["id"]
        if session["mode"] == "subscription":
            assert customer is not None
            data = self._session_subscription_data[session["id"]]
            subscription = self._new_subscription(
                customer, self._session_items[session["id"]], data["metadata"], data["trial_period_days"]
            )
            session["subscription"] = subscription["id"]
            session["invoice"] = subscription["latest_invoice"]
            session["payment_status"] = "no_payment_required" if data["trial_period_days"] else "paid"
        else:
            session["payment_intent"] = _new_id("pi_")
            session["payment_status"] = "paid"
        session["status"] = "complete"
        session["url"] = None
        self._emit("checkout.session.completed", session)

    # subscriptions
    def _new_subscription(
        self, customer: Json, items: list[tuple[str, int]], metadata: dict[str, str], trial_days: int | None
    ) -> Json:
        now = self.now()
        subscription_id = _new_id("sub_")
        trial_end = now + trial_days * DAY_S if trial_days else None
        first_price = self.prices[items[0][0]]
        period_end = trial_end or add_interval(now, first_price["recurring"]["interval"])
        subscription: Json = {
            "id": subscription_id, "object": "subscription", "application": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": period_end if trial_end else now, "cancel_at": None,
            "cancel_at_period_end": False, "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically", "created": now, "currency": first_price["currency"],
            "customer": customer["id"], "days_until_due": None, "default_payment_method": None,
            "description": None, "discounts": [], "ended_at": None,
            "items": {
                "object": "list", "data": [], "has_more": False, "total_count": 0,
                "url": f"/v1/subscription_items?subscription={subscription_id}",
            },
            "latest_invoice": None, "livemode": False, "metadata": dict(metadata), "pending_update": None,
            "start_date": now, "status": "trialing" if trial_end else "active", "test_clock": None,
            "trial_end": trial_end, "trial_start": now if trial_end else None,
        }  # fmt: skip
        for price_id, quantity in items:
            subscription["items"]["data"].append(self._new_item(subscription_id, price_id, quantity, now, period_end))
        subscription["items"]["total_count"] = len(items)
        self.subscriptions[subscription_id] = subscription
        # As in Stripe, the created event already names the first invoice.
        subscription["latest_invoice"] = invoice_id = _new_id("in_")
        self._emit("customer.subscription.created", subscription)
        invoice = self._new_invoice(
            subscription, "subscription_create", now, now, free=bool(trial_end), preassigned_id=invoice_id
        )
        self._settle(invoice, "paid")
        return subscription

    def _new_item(self, subscription_id: str, price_id: str, quantity: int, start: int, end: int) -> Json:
        price = self.prices[price_id]
        return {
            "id": _new_id("si_", 14), "object": "subscription_item", "created": start,
            "current_period_end": end, "current_period_start": start, "discounts": [], "metadata": {},
            "plan": {
                "id": price_id, "object": "plan", "active": price["active"], "amount": price["unit_amount"],
                "amount_decimal": price["unit_amount_decimal"], "billing_scheme": "per_unit",
                "created": price["created"], "currency": price["currency"],
                "interval": price["recurring"]["interval"], "interval_count": 1, "livemode": False,
                "metadata": {}, "meter": None, "nickname": None, "product": price["product"], "tiers_mode": None,
                "transform_usage": None, "trial_period_days": None, "usage_type": "licensed",
            },
            "price": copy.deepcopy(price), "quantity": quantity, "subscription": subscription_id,
            "tax_rates": [],
        }  # fmt: skip

    def _new_invoice(
        self,
        subscription: Json,
        reason: str,
        period_start: int,
        period_end: int,
        *,
        free: bool = False,
        preassigned_id: str | None = None,
    ) -> Json:
        customer = self.customers[subscription["customer"]]
        count = self._invoice_counts.get(customer["id"], 0) + 1
        self._invoice_counts[customer["id"]] = count
        customer["next_invoice_sequence"] = count + 1
        invoice_id = preassigned_id or _new_id("in_")
        now = self.now()
        lines = []
        for item in subscription["items"]["data"]:
            price = item["price"]
            amount = 0 if free else int(price["unit_amount"]) * int(item["quantity"])
            product_name = self.products[price["product"]]["name"]
            description = (
                f"Trial period for {product_name}"
                if free
                else f"{item['quantity']} × {product_name} (at {_money(price['unit_amount'], price['currency'])}"
                f" / {price['recurring']['interval']})"
            )
            lines.append(
                {
                    "id": _new_id("il_"), "object": "line_item", "amount": amount, "currency": price["currency"],
                    "description": description, "discount_amounts": [], "discountable": True, "discounts": [],
                    "invoice": invoice_id, "livemode": False, "metadata": {},
                    "parent": {
                        "invoice_item_details": None,
                        "subscription_item_details": {
                            "invoice_item": None, "proration": False, "proration_details": {"credited_items": None},
                            "subscription": subscription["id"], "subscription_item": item["id"],
                        },
                        "type": "subscription_item_details",
                    },
                    "period": {"end": item["current_period_end"], "start": item["current_period_start"]},
                    "pretax_credit_amounts": [],
                    "pricing": {
                        "price_details": {"price": price["id"], "product": price["product"]},
                        "type": "price_details", "unit_amount_decimal": "0" if free else price["unit_amount_decimal"],
                    },
                    "quantity": item["quantity"], "taxes": [],
                }
            )  # fmt: skip
        total = sum(int(line["amount"]) for line in lines)
        page = f"{self.page_base}/invoices/{invoice_id}"
        invoice: Json = {
            "id": invoice_id, "object": "invoice", "account_country": "US", "account_name": "MoreMinimore",
            "amount_due": total, "amount_overpaid": 0, "amount_paid": 0, "amount_remaining": total,
            "amount_shipping": 0, "attempt_count": 0, "attempted": False, "auto_advance": False,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None, "status": None},
            "billing_reason": reason, "collection_method": "charge_automatically", "created": now,
            "currency": subscription["currency"], "customer": customer["id"],
            "customer_email": customer["email"], "customer_name": customer["name"], "description": None,
            "discounts": [], "due_date": None, "effective_at": now, "ending_balance": 0, "footer": None,
            "hosted_invoice_url": page, "invoice_pdf": f"{page}.pdf",
            "lines": {
                "object": "list", "data": lines, "has_more": False, "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False, "metadata": {}, "next_payment_attempt": None,
            "number": f"{customer['invoice_prefix']}-{count:04d}",
            "parent": {
                "quote_details": None,
                "subscription_details": {
                    "metadata": dict(subscription["metadata"]), "subscription": subscription["id"],
                },
                "type": "subscription_details",
            },
            "period_end": period_end, "period_start": period_start, "starting_balance": 0,
            "status": "open",
            "status_transitions": {
                "finalized_at": now, "marked_uncollectible_at": None, "paid_at": None, "voided_at": None,
            },
            "subtotal": total, "total": total, "total_discount_amounts": [], "total_taxes": [],
        }  # fmt: skip
        self.invoices[invoice_id] = invoice
        draft = {**invoice, "status": "draft", "number": None, "status_transitions": {**invoice["status_transitions"]}}
        draft["status_transitions"]["finalized_at"] = None
        self._emit("invoice.created", draft)
        self._emit("invoice.finalized", invoice)
        return invoice

    def _settle(self, invoice: Json, outcome: Literal["paid", "fail", "action"]) -> None:
        """Attempt to collect ``invoice``: it is paid, or it stays open (a decline, or 3-D Secure asked)."""
        now = self.now()
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        if outcome == "paid":
            invoice["status"] = "paid"
            invoice["amount_paid"] = invoice["amount_due"]
            invoice["amount_remaining"] = 0
            invoice["next_payment_attempt"] = None
            invoice["status_transitions"]["paid_at"] = now
            self._emit("invoice.paid", invoice)
            self._emit("invoice.payment_succeeded", invoice)
        elif outcome == "fail":
            invoice["next_payment_attempt"] = now + 3 * DAY_S
            self._emit("invoice.payment_failed", invoice)
        else:
            self._emit("invoice.payment_action_required", invoice)

    def _list_subscriptions(self, params: Json) -> Json:
        _check_known(params, _LIST_PARAMS | {"customer", "price", "status", "collection_method"})
        customer = _str(params, "customer")
        price = _str(params, "price")
        status = _str(params, "status")
        statuses = {"active", "all", "canceled", "ended", "incomplete", "incomplete_expired", "past_due", "paused"}
        statuses |= {"trialing", "unpaid"}
        if status is not None and status not in statuses:
            raise _invalid(f"Invalid status: must be one of {', '.join(sorted(statuses))}", "status")

        def wanted(sub: Json) -> bool:
            if status is None:
                return bool(sub["status"] not in ("canceled", "incomplete_expired"))
            if status == "ended":
                return bool(sub["status"] in ("canceled", "incomplete_expired"))
            return status == "all" or sub["status"] == status

        items = [
            sub
            for sub in reversed(self.subscriptions.values())
            if (customer is None or sub["customer"] == customer)
            and (price is None or any(i["price"]["id"] == price for i in sub["items"]["data"]))
            and wanted(sub)
        ]
        return self._expand(_list_object(items, "/v1/subscriptions", params), _list(params, "expand"))

    def _retrieve_subscription(self, params: Json, subscription_id: str) -> Json:
        expand = self._retrieve_params(params)
        return self._expand(self._get(self.subscriptions, "subscription", subscription_id), expand)

    def _update_subscription(self, params: Json, subscription_id: str) -> Json:
        _check_known(params, _SUBSCRIPTION_UPDATE_PARAMS)
        subscription = self._get(self.subscriptions, "subscription", subscription_id)
        if subscription["status"] == "canceled" and set(params) - {"metadata", "cancellation_details", "expand"}:
            raise _invalid("A canceled subscription can only update its cancellation_details and metadata.")
        before = copy.deepcopy(subscription)
        subscription["metadata"] = _metadata(params.get("metadata"), subscription["metadata"])
        cancel = _bool(params, "cancel_at_period_end")
        if cancel is not None:
            self._set_cancel_at_period_end(subscription, cancel)
        price_change: str | None = None
        for index, raw in enumerate(_list(params, "items")):
            label = f"items[{index}]"
            if not isinstance(raw, dict):
                raise _invalid(f"Invalid object: {label}", label)
            _check_known(raw, {"id", "price", "quantity", "metadata", "deleted"}, label)
            item_id = _str(raw, "id")
            item = next((i for i in subscription["items"]["data"] if i["id"] == item_id), None)
            if item_id is None:
                raise _invalid(
                    f"The emulator changes an existing item only: give `{label}[id]` (without it Stripe adds an item).",
                    f"{label}[id]",
                )
            if item is None:
                raise _no_such("subscription item", item_id, param=f"{label}[id]", status=400)
            price_id = _str(raw, "price")
            if price_id is not None:
                self._get(self.prices, "price", price_id, param=f"{label}[price]", status=400)
                price_change = price_id
            quantity = _int(raw, "quantity", low=1, high=999_999, param=f"{label}[quantity]")
            if quantity is not None:
                item["quantity"] = quantity
            item["metadata"] = _metadata(raw.get("metadata"), item["metadata"])
            if price_change is not None and price_change != item["price"]["id"]:
                self._change_price(subscription, item, price_change)
        self._emit_if_changed(subscription, before)
        return self._expand(subscription, _list(params, "expand"))

    def _emit_if_changed(self, subscription: Json, before: Json) -> None:
        if any(subscription.get(key) != value for key, value in before.items()):
            self._emit_updated(subscription, before)

    def _set_cancel_at_period_end(self, subscription: Json, cancel: bool) -> None:
        if cancel:
            subscription["cancel_at_period_end"] = True
            subscription["cancel_at"] = subscription["items"]["data"][0]["current_period_end"]
            subscription["canceled_at"] = self.now()
            subscription["cancellation_details"] = {
                "comment": None,
                "feedback": None,
                "reason": "cancellation_requested",
            }
        else:
            subscription["cancel_at_period_end"] = False
            subscription["cancel_at"] = None
            subscription["canceled_at"] = None
            subscription["cancellation_details"] = {"comment": None, "feedback": None, "reason": None}

    def _change_price(self, subscription: Json, item: Json, price_id: str) -> None:
        """A new price: the period restarts now and the new price is billed in full (no proration)."""
        now = self.now()
        fresh = self._new_item(subscription["id"], price_id, int(item["quantity"]), now, 0)
        fresh["id"], fresh["created"], fresh["metadata"] = item["id"], item["created"], item["metadata"]
        fresh["current_period_end"] = add_interval(now, fresh["price"]["recurring"]["interval"])
        item.clear()
        item.update(fresh)
        subscription["billing_cycle_anchor"] = now
        if subscription["status"] == "trialing":
            subscription["status"] = "active"
            subscription["trial_end"] = now
        if subscription["cancel_at_period_end"]:
            subscription["cancel_at"] = item["current_period_end"]
        invoice = self._new_invoice(subscription, "subscription_update", now, now)
        subscription["latest_invoice"] = invoice["id"]
        self._settle(invoice, "paid")

    def _cancel_subscription(self, params: Json, subscription_id: str) -> Json:
        _check_known(params, {"expand", "cancellation_details", "invoice_now", "prorate"})
        subscription = self._get(self.subscriptions, "subscription", subscription_id)
        if subscription["status"] == "canceled":
            raise _invalid(f"This subscription ({subscription_id}) has already been canceled.")
        self._end(subscription, "cancellation_requested")
        return self._expand(subscription, _list(params, "expand"))

    def _end(self, subscription: Json, reason: str) -> None:
        now = self.now()
        subscription["status"] = "canceled"
        subscription["ended_at"] = now
        subscription["canceled_at"] = subscription["canceled_at"] or now
        subscription["cancellation_details"] = {"comment": None, "feedback": None, "reason": reason}
        self._armed.pop(subscription["id"], None)
        self._emit("customer.subscription.deleted", subscription)

    # invoices
    def _list_invoices(self, params: Json) -> Json:
        _check_known(params, _LIST_PARAMS | {"customer", "subscription", "status", "collection_method", "due_date"})
        customer = _str(params, "customer")
        subscription = _str(params, "subscription")
        status = _str(params, "status")
        items = [
            invoice
            for invoice in reversed(self.invoices.values())
            if (customer is None or invoice["customer"] == customer)
            and (subscription is None or invoice["parent"]["subscription_details"]["subscription"] == subscription)
            and (status is None or invoice["status"] == status)
        ]
        return self._expand(_list_object(items, "/v1/invoices", params), _list(params, "expand"))

    def _retrieve_invoice(self, params: Json, invoice_id: str) -> Json:
        return self._expand(self._get(self.invoices, "invoice", invoice_id), self._retrieve_params(params))

    # events
    def _list_events(self, params: Json) -> Json:
        _check_known(params, _LIST_PARAMS | {"type", "types", "delivery_success"})
        event_type = _str(params, "type")
        types = _list(params, "types")

        def matches(event: Json) -> bool:
            if types:
                return event["type"] in types
            if event_type is None:
                return True
            return bool(re.fullmatch(re.escape(event_type).replace(r"\*", ".*"), event["type"]))

        items = [event for event in reversed(self.events.values()) if matches(event)]
        return self._expand(_list_object(items, "/v1/events", params), _list(params, "expand"))

    def _retrieve_event(self, params: Json, event_id: str) -> Json:
        return self._expand(self._get(self.events, "event", event_id), self._retrieve_params(params))

    # billing portal
    def _create_portal_session(self, params: Json) -> Json:
        _check_known(params, {"customer", "return_url", "configuration", "flow_data", "locale", "expand"})
        customer_id = _str(params, "customer", required=True)
        assert customer_id is not None
        self._get(self.customers, "customer", customer_id, param="customer", status=400)
        session_id = _new_id("bps_")
        session: Json = {
            "id": session_id, "object": "billing_portal.session", "configuration": "bpc_emulator",
            "created": self.now(), "customer": customer_id, "flow": None, "livemode": False, "locale": None,
            "on_behalf_of": None, "return_url": _str(params, "return_url"),
            "url": f"{self.page_base}/portal/{session_id}",
        }  # fmt: skip
        self.portal_sessions[session_id] = session
        return self._expand(session, _list(params, "expand"))

    # ------------------------------------------------------------------ controls
    def _subscription(self, subscription_id: str) -> Json:
        return self._get(self.subscriptions, "subscription", subscription_id)

    def advance_period(self, subscription_id: str) -> Json:
        """The current period ends (the clock moves to its end): cancel at period end, or renew."""
        with self._changing():
            subscription = self._subscription(subscription_id)
            if subscription["status"] == "canceled":
                raise _invalid(f"This subscription ({subscription_id}) has been canceled.")
            period_end = int(subscription["items"]["data"][0]["current_period_end"])
            self._clock_offset = max(self._clock_offset, period_end - int(time.time()))
            if subscription["cancel_at_period_end"]:
                self._end(subscription, "cancellation_requested")
                return copy.deepcopy(subscription)
            before = copy.deepcopy(subscription)
            period_start = int(subscription["items"]["data"][0]["current_period_start"])
            for item in subscription["items"]["data"]:
                start = int(item["current_period_end"])
                item["current_period_start"] = start
                item["current_period_end"] = add_interval(start, item["price"]["recurring"]["interval"])
            if subscription["status"] == "trialing":
                subscription["status"] = "active"
            invoice = self._new_invoice(subscription, "subscription_cycle", period_start, period_end)
            subscription["latest_invoice"] = invoice["id"]
            outcome = self._armed.pop(subscription_id, None)
            if outcome == "fail":
                self._settle(invoice, "fail")
                subscription["status"] = "past_due"
            elif outcome == "action":
                self._settle(invoice, "action")
                subscription["status"] = "past_due"
            else:
                self._settle(invoice, "paid")
                if subscription["status"] == "past_due" and not self._open_invoices(subscription_id):
                    subscription["status"] = "active"
            self._emit_updated(subscription, before)
            return copy.deepcopy(subscription)

    def _open_invoices(self, subscription_id: str) -> list[Json]:
        return [
            i
            for i in self.invoices.values()
            if i["status"] == "open" and i["parent"]["subscription_details"]["subscription"] == subscription_id
        ]

    def fail_next_payment(self, subscription_id: str) -> None:
        """The next renewal's payment is declined: ``invoice.payment_failed``, the subscription ``past_due``."""
        with self._lock:
            self._subscription(subscription_id)
            self._armed[subscription_id] = "fail"

    def require_action(self, subscription_id: str) -> None:
        """The next renewal's payment needs the customer (3-D Secure): an open invoice,
        ``invoice.payment_action_required``, the subscription ``past_due`` until :meth:`pay_invoice`."""
        with self._lock:
            self._subscription(subscription_id)
            self._armed[subscription_id] = "action"

    def trial_will_end(self, subscription_id: str) -> Json:
        """Send ``customer.subscription.trial_will_end`` (Stripe sends it three days before the trial ends)."""
        with self._changing():
            subscription = self._subscription(subscription_id)
            if subscription["status"] != "trialing":
                raise _invalid(f"This subscription ({subscription_id}) is not trialing.")
            return copy.deepcopy(self._emit("customer.subscription.trial_will_end", subscription))

    def pay_invoice(self, invoice_id: str) -> Json:
        """The customer pays an open invoice (the hosted invoice page's button); a ``past_due``
        subscription with nothing else open becomes ``active``."""
        with self._changing():
            invoice = self._get(self.invoices, "invoice", invoice_id)
            if invoice["status"] != "open":
                raise _invalid(f"Invoice is already {invoice['status']}.")
            self._settle(invoice, "paid")
            subscription = self.subscriptions.get(invoice["parent"]["subscription_details"]["subscription"])
            if subscription and subscription["status"] == "past_due" and not self._open_invoices(subscription["id"]):
                before = copy.deepcopy(subscription)
                subscription["status"] = "active"
                self._emit_updated(subscription, before)
            return copy.deepcopy(invoice)

    def expire_checkout_session(self, session_id: str) -> Json:
        """The session expires unpaid (``checkout.session.expired``)."""
        with self._changing():
            session = self._get(self.checkout_sessions, "checkout.session", session_id)
            if session["status"] != "open":
                raise _invalid(f"Checkout session {session_id} is {session['status']}.")
            self._expire(session)
            return copy.deepcopy(session)

    def pay_checkout(self, session_id: str, email: str | None = None) -> str:
        """What the hosted page's Pay does; the URL it redirects to."""
        with self._changing():
            session = self._get(self.checkout_sessions, "checkout.session", session_id)
            if session["status"] != "open":
                raise _invalid(f"Checkout session {session_id} is {session['status']}.")
            if not (session["customer"] or session["customer_email"] or email):
                raise _missing("email")
            self._complete_checkout(session, email)
            self._session_notice.pop(session_id, None)
            return str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)

    def portal_action(self, portal_session_id: str, action: str, subscription_id: str) -> None:
        """What a portal button does: ``cancel``, ``renew`` or ``switch`` (to the other interval)."""
        with self._changing():
            portal = self._get(self.portal_sessions, "billing_portal.session", portal_session_id)
            subscription = self._subscription(subscription_id)
            if subscription["customer"] != portal["customer"] or subscription["status"] == "canceled":
                raise _invalid("That subscription cannot be changed here.")
            before = copy.deepcopy(subscription)
            if action in ("cancel", "renew"):
                self._set_cancel_at_period_end(subscription, action == "cancel")
            elif action == "switch":
                item = subscription["items"]["data"][0]
                other = self._other_interval(item["price"])
                if other is None:
                    raise _invalid("There is no other interval to switch to.")
                self._change_price(subscription, item, other["id"])
            else:
                raise _invalid(f"Unknown portal action {action}.")
            self._emit_if_changed(subscription, before)

    def _other_interval(self, price: Json) -> Json | None:
        interval = price["recurring"]["interval"]
        for candidate in self.prices.values():
            if (
                candidate["product"] == price["product"]
                and candidate["active"]
                and candidate["type"] == "recurring"
                and candidate["currency"] == price["currency"]
                and candidate["recurring"]["interval"] != interval
            ):
                return candidate
        return None

    # ------------------------------------------------------------------ hosted pages
    def checkout_page(self, session_id: str) -> HTMLResponse:
        with self._lock:
            session = self.checkout_sessions.get(session_id)
            if session is None:
                return _page("Not found", "<h1>Checkout session not found</h1>", 404)
            if session["status"] != "open":
                state = "complete" if session["status"] == "complete" else "expired"
                return _page(
                    "Checkout", f'<h1>Checkout</h1><p role="status">This checkout session is {state}.</p>', 410
                )
            rows = []
            for price_id, quantity in self._session_items[session_id]:
                price = self.prices[price_id]
                product = self.products[price["product"]]
                interval = (price.get("recurring") or {}).get("interval")
                per = f" per {interval}" if interval else ""
                rows.append(
                    f"<li><strong>{html.escape(product['name'])}</strong>"
                    f"{f' × {quantity}' if quantity > 1 else ''}: "
                    f"{_money(price['unit_amount'], price['currency'])}{per}</li>"
                )
            trial = self._session_subscription_data[session_id]["trial_period_days"]
            notice = self._session_notice.get(session_id)
            email = session["customer_email"] or (self.customers.get(session["customer"] or "") or {}).get("email")
            cancel_url = session["cancel_url"]
        parts = ["<h1>Checkout</h1>", f'<ul aria-label="Order">{"".join(rows)}</ul>']
        if trial:
            parts.append(f"<p>{trial} days free, then billed as above.</p>")
        parts.append(f"<p>Total due today: {_money(0 if trial else session['amount_total'], session['currency'])}</p>")
        if notice:
            parts.append(f'<p class="alert" role="alert">{html.escape(notice)}</p>')
        form = [f'<form method="post" action="/checkout/{html.escape(session_id)}">']
        if email:
            form.append(f"<p>Paying as {html.escape(email)}</p>")
        else:
            form.append('<p><label for="email">Email</label> <input id="email" name="email" type="email" required></p>')
        form.append('<button type="submit" name="action" value="pay">Pay</button>')
        form.append('<button type="submit" name="action" value="decline" formnovalidate>Decline</button></form>')
        parts.append("".join(form))
        if cancel_url:
            parts.append(f'<p><a href="{html.escape(cancel_url)}">Back</a></p>')
        return _page("Checkout", "".join(parts))

    def checkout_submit(self, session_id: str, form: Mapping[str, str]) -> Response:
        action = form.get("action")
        if action == "decline":
            with self._lock:
                if session_id in self.checkout_sessions and self.checkout_sessions[session_id]["status"] == "open":
                    self._session_notice[session_id] = "Your card was declined."
            page = self.checkout_page(session_id)
            return page if page.status_code != 200 else self._with_status(page, 402)
        if action != "pay":
            return _page("Checkout", '<h1>Checkout</h1><p role="alert">Unknown action.</p>', 400)
        try:
            target = self.pay_checkout(session_id, form.get("email") or None)
        except StripeError as error:
            with self._lock:
                if error.param == "email" and session_id in self.checkout_sessions:
                    self._session_notice[session_id] = "Enter your email address."
            page = self.checkout_page(session_id)
            return page if page.status_code != 200 else self._with_status(page, 400)
        return RedirectResponse(target, status_code=303)

    @staticmethod
    def _with_status(response: HTMLResponse, status: int) -> HTMLResponse:
        return HTMLResponse(bytes(response.body), status_code=status)

    def portal_page(self, portal_session_id: str) -> HTMLResponse:
        with self._lock:
            portal = self.portal_sessions.get(portal_session_id)
            if portal is None:
                return _page("Not found", "<h1>Billing portal session not found</h1>", 404)
            customer = self.customers[portal["customer"]]
            subscriptions = [
                copy.deepcopy(s)
                for s in self.subscriptions.values()
                if s["customer"] == customer["id"] and s["status"] != "canceled"
            ]
            others = {s["id"]: self._other_interval(s["items"]["data"][0]["price"]) for s in subscriptions}
            names = {p["id"]: p["name"] for p in self.products.values()}
        parts = ["<h1>Billing</h1>", f"<p>{html.escape(customer['email'] or customer['id'])}</p>"]
        if not subscriptions:
            parts.append("<p>No current plan.</p>")
        for subscription in subscriptions:
            item = subscription["items"]["data"][0]
            price = item["price"]
            interval = price["recurring"]["interval"]
            name = names.get(price["product"], "Plan")
            end = _date(item["current_period_end"])
            if subscription["cancel_at_period_end"]:
                when = f"Cancels on {end}"
            elif subscription["status"] == "trialing":
                when = f"Trial ends on {_date(subscription['trial_end'])}"
            else:
                when = f"Renews on {end}"
            action = f"/portal/{html.escape(portal_session_id)}"
            hidden = f'<input type="hidden" name="subscription" value="{html.escape(subscription["id"])}">'
            buttons = []
            if subscription["cancel_at_period_end"]:
                buttons.append('<button type="submit" name="action" value="renew">Renew plan</button>')
            else:
                buttons.append('<button type="submit" name="action" value="cancel">Cancel plan</button>')
            other = others.get(subscription["id"])
            if other is not None:
                label = "Switch to yearly" if other["recurring"]["interval"] == "year" else "Switch to monthly"
                buttons.append(f'<button type="submit" name="action" value="switch">{label}</button>')
            parts.append(
                f'<section aria-label="{html.escape(name)} plan"><h2>{html.escape(name)}</h2>'
                f"<p>{_money(price['unit_amount'], price['currency'])} per {interval}</p>"
                f"<p>Status: {html.escape(subscription['status'])}</p><p>{when}</p>"
                f'<form method="post" action="{action}">{hidden}{"".join(buttons)}</form></section>'
            )
        if portal["return_url"]:
            parts.append(f'<p><a href="{html.escape(portal["return_url"])}">Return</a></p>')
        return _page("Billing", "".join(parts))

    def portal_submit(self, portal_session_id: str, form: Mapping[str, str]) -> Response:
        try:
            self.portal_action(portal_session_id, form.get("action", ""), form.get("subscription", ""))
        except StripeError as error:
            back = f'<p><a href="/portal/{html.escape(portal_session_id)}">Back</a></p>'
            return _page("Billing", f'<h1>Billing</h1><p role="alert">{html.escape(error.message)}</p>{back}', 400)
        return RedirectResponse(f"/portal/{quote(portal_session_id)}", status_code=303)

    def invoice_page(self, invoice_id: str) -> HTMLResponse:
        with self._lock:
            invoice = copy.deepcopy(self.invoices.get(invoice_id))
        if invoice is None:
            return _page("Not found", "<h1>Invoice not found</h1>", 404)
        rows = "".join(
            f"<tr><td>{html.escape(line['description'])}</td><td>{_money(line['amount'], line['currency'])}</td></tr>"
            for line in invoice["lines"]["data"]
        )
        parts = [
            f"<h1>Invoice {html.escape(invoice['number'] or invoice['id'])}</h1>",
            f"<p>Status: {html.escape(invoice['status'])}</p>",
            f"<p>Amount due: {_money(invoice['amount_due'], invoice['currency'])}</p>",
            f"<table><thead><tr><th>Description</th><th>Amount</th></tr></thead><tbody>{rows}</tbody></table>",
            f'<p><a href="/invoices/{html.escape(invoice_id)}.pdf">Download PDF</a></p>',
        ]
        if invoice["status"] == "open":
            parts.append(
                f'<form method="post" action="/invoices/{html.escape(invoice_id)}">'
                '<button type="submit" name="action" value="pay">Pay invoice</button></form>'
            )
        return _page(f"Invoice {invoice['number']}", "".join(parts))

    def invoice_pdf(self, invoice_id: str) -> Response:
        with self._lock:
            invoice = copy.deepcopy(self.invoices.get(invoice_id))
        if invoice is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        text = f"Invoice {invoice['number']} {_money(invoice['amount_due'], invoice['currency'])} {invoice['status']}"
        text = text.replace("\\", "").replace("(", "").replace(")", "")
        stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode("latin-1", "replace")
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        out = bytearray(b"%PDF-1.4\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
        out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
        out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
        return Response(
            bytes(out),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="Invoice-{invoice["number"]}.pdf"'},
        )

    # ------------------------------------------------------------------ the /_emulator API
    def control(self, method: str, path: str, body: Json, query: Mapping[str, str]) -> tuple[int, Any]:
        """The JSON control API (see the module docstring): (status, JSON)."""
        parts = [p for p in path.strip("/").split("/") if p]
        try:
            if method == "POST" and len(parts) == 3 and parts[0] == "subscriptions":
                operations: dict[str, Callable[[str], Any]] = {
                    "advance_period": self.advance_period,
                    "fail_next_payment": self.fail_next_payment,
                    "require_action": self.require_action,
                    "trial_will_end": self.trial_will_end,
                }
                if parts[2] in operations:
                    return 200, {"ok": True, "result": operations[parts[2]](parts[1])}
            if method == "POST" and parts[:1] == ["invoices"] and parts[2:] == ["pay"] and len(parts) == 3:
                return 200, {"ok": True, "result": self.pay_invoice(parts[1])}
            if method == "POST" and parts[:1] == ["checkout_sessions"] and parts[2:] == ["expire"] and len(parts) == 3:
                return 200, {"ok": True, "result": self.expire_checkout_session(parts[1])}
            if method == "POST" and parts[:1] == ["checkout_sessions"] and parts[2:] == ["pay"] and len(parts) == 3:
                return 200, {"ok": True, "result": self.pay_checkout(parts[1], body.get("email"))}
            if method == "POST" and parts[:1] == ["events"] and parts[2:] == ["resend"] and len(parts) == 3:
                self.resend(parts[1])
                return 200, {"ok": True}
            if method == "POST" and parts == ["deliver_pending"]:
                self.deliver_pending()
                return 200, {"ok": True, "pending": self.pending_deliveries()}
            if method == "GET" and parts == ["events"]:
                wanted = query.get("type")
                with self._lock:
                    events = [copy.deepcopy(e) for e in self.events.values() if wanted in (None, e["type"])]
                return 200, {"data": events}
            if method == "GET" and parts == ["deliveries"]:
                with self._lock:
                    rows = [{**d.__dict__, "ok": d.ok} for d in self.deliveries]
                return 200, {"data": rows, "pending": self.pending_deliveries()}
            if method == "GET" and parts == ["config"]:
                return 200, {
                    "api_version": API_VERSION,
                    "webhook_url": self.webhook_url,
                    "delivery": self.delivery,
                    "prices": {p["lookup_key"]: p["id"] for p in self.prices.values()},
                }
            if method == "POST" and parts == ["webhook"]:
                self.configure_webhook(body.get("url"), body.get("secret"))
                return 200, {"ok": True}
            if method == "POST" and parts == ["faults"]:
                self.faults.fail_next(
                    str(body.get("method", "*")),
                    str(body.get("path_prefix", "/v1/")),
                    int(body.get("status", 500)),
                    body.get("error_type"),
                    body.get("message"),
                    times=int(body.get("times", 1)),
                    code=body.get("code"),
                )
                return 200, {"ok": True}
            if method == "DELETE" and parts == ["faults"]:
                self.faults.clear()
                return 200, {"ok": True}
        except StripeError as error:
            return error.status, error.body()
        except (TypeError, ValueError) as error:
            return 400, {"error": {"type": "invalid_request_error", "message": str(error)}}
        return 404, {"error": {"type": "invalid_request_error", "message": f"No control {method} /_emulator/{path}"}}

    # ------------------------------------------------------------------ HTTP
    def asgi_app(self) -> Starlette:
        import anyio.to_thread

        async def api(request: Request) -> Response:
            body = await request.body()
            headers = {key.lower(): value for key, value in request.headers.items()}
            status, payload, extra = await anyio.to_thread.run_sync(
                self.handle_api, request.method, request.url.path, request.url.query, body, headers
            )
            return JSONResponse(payload, status_code=status, headers=extra)

        async def form_of(request: Request) -> dict[str, str]:
            return dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))

        async def checkout(request: Request) -> Response:
            session_id = request.path_params["session_id"]
            if request.method == "GET":
                return await anyio.to_thread.run_sync(self.checkout_page, session_id)
            form = await form_of(request)
            return await anyio.to_thread.run_sync(self.checkout_submit, session_id, form)

        async def portal(request: Request) -> Response:
            session_id = request.path_params["session_id"]
            if request.method == "GET":
                return await anyio.to_thread.run_sync(self.portal_page, session_id)
            form = await form_of(request)
            return await anyio.to_thread.run_sync(self.portal_submit, session_id, form)

        async def invoice(request: Request) -> Response:
            invoice_id = request.path_params["invoice_id"]
            if request.method == "POST":
                with contextlib.suppress(StripeError):  # already paid, or unknown: the page says which
                    await anyio.to_thread.run_sync(self.pay_invoice, invoice_id)
                return RedirectResponse(f"/invoices/{quote(invoice_id)}", status_code=303)
            return await anyio.to_thread.run_sync(self.invoice_page, invoice_id)

        async def invoice_pdf(request: Request) -> Response:
            return self.invoice_pdf(request.path_params["invoice_id"])

        async def control(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return JSONResponse({"error": {"type": "invalid_request_error", "message": "Invalid JSON"}}, 400)
            if not isinstance(body, dict):
                body = {}
            status, payload = await anyio.to_thread.run_sync(
                self.control, request.method, request.path_params["rest"], body, dict(request.query_params)
            )
            return JSONResponse(payload, status_code=status)

        return Starlette(
            routes=[
                Route("/v1/{rest:path}", api, methods=["GET", "POST", "DELETE"]),
                Route("/checkout/{session_id}", checkout, methods=["GET", "POST"]),
                Route("/portal/{session_id}", portal, methods=["GET", "POST"]),
                Route("/invoices/{invoice_id}.pdf", invoice_pdf, methods=["GET"]),
                Route("/invoices/{invoice_id}", invoice, methods=["GET", "POST"]),
                Route("/_emulator/{rest:path}", control, methods=["GET", "POST", "DELETE"]),
            ]
        )


# ------------------------------------------------------------------------------- the server
class StripeServer(LoopbackServer):
    """The emulator on a loopback port (0: a free one) in a thread: ``StripeServer(emulator).start()``, ``.url``,
    ``.stop()``."""

    thread_name = "stripe-emulator"

    def __init__(self, emulator: StripeEmulator | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator or StripeEmulator()
        super().__init__(self.emulator.asgi_app, host=host, port=port)
        self.emulator.base_url = self.url

    def stopping(self) -> None:
        self.emulator.faults.clear()

    def stopped(self) -> None:
        self.emulator.close()
