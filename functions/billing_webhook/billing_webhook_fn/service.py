"""Stripe's events: verified, recorded once, applied in the transaction that records them.

* **Verified** over the exact raw body with the endpoint's signing secret (tolerance 300 s); a missing, forged or
  stale signature is 400 and nothing is stored.
* **Idempotent**: the event's id is inserted into ``subscription_events`` in the transaction that applies it; a
  replay finds it there and changes nothing. A failure rolls everything back and answers 5xx: Stripe retries.
* **Order-proof**: subscription and invoice events re-read the object from Stripe and write its current state
  (``mm_common.billing``), so an ``updated`` before ``checkout.session.completed``, or a stale ``updated`` after
  ``deleted``, ends in Stripe's state.
* Unknown types are recorded and otherwise ignored (200).

E-mails (payment failed, action required, trial ending) go after the commit: a failed send never re-applies an
event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from billing_webhook_fn import queries
from mm_common import audit, billing, db, emails
from mm_common.config import get_settings, stripe_webhook_secret
from mm_common.db import Connection
from mm_common.errors import ApiError, BadRequest
from mm_common.observability import count, for_service, traced

if TYPE_CHECKING:
    from stripe import Event, StripeClient

SERVICE = "billing-webhook"
obs = for_service(SERVICE)
TOLERANCE_S = 300
INVALID_SIGNATURE = "The Stripe-Signature header does not match this body."
NOT_APPLIED = "The event could not be applied now; send it again later."

Outcome = Literal["applied", "duplicate", "ignored"]


@dataclass
class Effects:
    """What an event did: the organization it concerned, what changed, the e-mails to send after the commit."""

    organization_id: Any = None
    changes: dict[str, Any] = field(default_factory=dict)
    mails: list[Callable[[], None]] = field(default_factory=list)


def verify(payload: bytes, signature: str | None) -> Event:
    """The event, when ``signature`` signs ``payload`` with the endpoint's secret within the tolerance; else 400."""
    import stripe

    if not signature:
        raise BadRequest(INVALID_SIGNATURE, code="invalid_signature")
    try:
        event: Event = stripe.Webhook.construct_event(
            payload.decode("utf-8"), signature, stripe_webhook_secret(get_settings()), tolerance=TOLERANCE_S
        )
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError):
        count(SERVICE, "InvalidSignature")
        raise BadRequest(INVALID_SIGNATURE, code="invalid_signature") from None
    return event


async def process_in_thread(event: Event) -> Outcome:
    """:func:`process` off the event loop (it blocks on the database and on Stripe)."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(process, event)


@traced(SERVICE)
def process(event: Event) -> Outcome:
    """Record and apply the event in one transaction; then send its e-mails. Whatever stops it (the database,
    Stripe not answering a re-read) rolls it back whole and answers 5xx, so Stripe sends it again."""
    import psycopg
    import stripe

    try:
        return _process(event)
    except (psycopg.Error, stripe.StripeError) as error:
        obs.logger.exception("a Stripe event was not applied", extra={"event_id": event.id, "type": event.type})
        count(SERVICE, "EventFailed")
        raise ApiError(NOT_APPLIED, status=500, code="event_not_applied") from error


def _process(event: Event) -> Outcome:
    created = datetime.fromtimestamp(int(event.created), UTC)
    data_object = event.data.object
    details = {"objectId": billing.value_of(data_object, "id"), "objectType": billing.value_of(data_object, "object")}
    settings = get_settings()
    with db.transaction() as conn:
        row_id = queries.record_event(conn, event.id, event.type, created, details)
        if row_id is None:
            count(SERVICE, "DuplicateEvent")
            return "duplicate"
        handler = HANDLERS.get(event.type)
        if handler is None:
            count(SERVICE, "IgnoredEvent")
            return "ignored"
        effects = handler(conn, billing.client(settings), event, created)
        if effects.organization_id is not None:
            queries.set_event_organization(conn, row_id, effects.organization_id)
            audit.record(
                conn,
                f"billing.{event.type}",
                meta=None,
                organization_id=effects.organization_id,
                resource_type="organization",
                resource_id=effects.organization_id,
                details={"eventId": event.id, "changes": _printable(effects.changes)},
            )
    for send in effects.mails:
        try:
            send()
        except Exception:  # the event is applied whether or not the e-mail goes
            obs.logger.exception("a billing e-mail was not sent", extra={"event_id": event.id})
    count(SERVICE, "AppliedEvent")
    return "applied"


def _printable(changes: dict[str, Any]) -> dict[str, Any]:
    return {
        key: [value.isoformat() if isinstance(value, datetime) else value for value in pair]
        for key, pair in changes.items()
    }


# --------------------------------------------------------------------------------------------- handlers
def _sync_subscription(
    conn: Connection,
    stripe: StripeClient,
    subscription_id: str | None,
    created: datetime,
    *,
    organization_id: Any = None,
) -> Effects:
    """Write the subscription's state as Stripe has it now on its organization."""
    if not subscription_id:
        return Effects(organization_id)
    subscription = stripe.v1.subscriptions.retrieve(subscription_id, {"expand": ["items.data.price", "latest_invoice"]})
    organization_id = organization_id or billing.organization_of(
        conn, metadata=billing.value_of(subscription, "metadata"), customer=billing.value_of(subscription, "customer")
    )
    if organization_id is None:
        obs.logger.warning("a subscription of no organization of ours", extra={"subscription": subscription_id})
        return Effects()
    customer = billing.object_id(billing.value_of(subscription, "customer"))
    if customer:
        billing.link_customer(conn, organization_id, customer)
    changes = billing.apply_subscription(conn, get_settings(), organization_id, subscription, created)
    return Effects(organization_id, changes)


def checkout_completed(conn: Connection, stripe: StripeClient, event: Event, created: datetime) -> Effects:
    session = event.data.object
    organization_id = billing.organization_of(
        conn,
        metadata=billing.value_of(session, "metadata"),
        customer=billing.value_of(session, "customer"),
        reference=billing.value_of(session, "client_reference_id"),
    )
    if organization_id is None:
        obs.logger.warning("a checkout of no organization of ours", extra={"session": billing.value_of(session, "id")})
        return Effects()
    customer = billing.object_id(billing.value_of(session, "customer"))
    if customer:
        billing.link_customer(conn, organization_id, customer)
    return _sync_subscription(
        conn,
        stripe,
        billing.object_id(billing.value_of(session, "subscription")),
        created,
        organization_id=organization_id,
    )


def subscription_changed(conn: Connection, stripe: StripeClient, event: Event, created: datetime) -> Effects:
    return _sync_subscription(conn, stripe, billing.value_of(event.data.object, "id"), created)


def trial_will_end(conn: Connection, stripe: StripeClient, event: Event, created: datetime) -> Effects:
    effects = _sync_subscription(conn, stripe, billing.value_of(event.data.object, "id"), created)
    if effects.organization_id is None:
        return effects
    organization = billing.organization_billing(conn, effects.organization_id)
    ends = organization["trial_ends_at"] if organization else None
    if ends is not None:
        name = queries.organization_name(conn, effects.organization_id)
        link = billing.billing_page_url(get_settings(), effects.organization_id)
        when = ends.strftime("%d %B %Y")
        for email, _ in queries.owner_emails(conn, effects.organization_id):
            effects.mails.append(partial(emails.send_trial_ending, email, name, when, link))
    return effects


def _invoice_event(conn: Connection, stripe: StripeClient, event: Event, created: datetime) -> tuple[Effects, Any]:
    """The invoice re-read and recorded, its subscription synced; (effects, the invoice)."""
    invoice = stripe.v1.invoices.retrieve(str(billing.value_of(event.data.object, "id")))
    organization_id = billing.organization_of(
        conn, metadata=billing.invoice_metadata(invoice), customer=billing.value_of(invoice, "customer")
    )
    if organization_id is None:
        obs.logger.warning("an invoice of no organization of ours", extra={"invoice": billing.value_of(invoice, "id")})
        return Effects(), invoice
    billing.upsert_invoice(conn, organization_id, invoice)
    effects = _sync_subscription(
        conn, stripe, billing.subscription_of_invoice(invoice), created, organization_id=organization_id
    )
    return effects, invoice


def invoice_paid(conn: Connection, stripe: StripeClient, event: Event, created: datetime) -> Effects:
    return _invoice_event(conn, stripe, event, created)[0]


def _mail_owners(conn: Connection, effects: Effects, invoice: Any, send: Callable[[str, str, str], None]) -> Effects:
    link = billing.value_of(invoice, "hosted_invoice_url")
    if effects.organization_id is None or not link:
        return effects
    name = queries.organization_name(conn, effects.organization_id)
    for email, _ in queries.owner_emails(conn, effects.organization_id):
        effects.mails.append(partial(send, email, name, str(link)))
    return effects


def payment_failed(conn: Connection, stripe: StripeClient, event: Event, created: datetime) -> Effects:
    effects, invoice = _invoice_event(conn, stripe, event, created)
    return _mail_owners(conn, effects, invoice, emails.send_payment_failed)


def payment_action_required(conn: Connection, stripe: StripeClient, event: Event, created: datetime) -> Effects:
    effects, invoice = _invoice_event(conn, stripe, event, created)
    return _mail_owners(conn, effects, invoice, emails.send_payment_action_required)


Handler = Callable[[Connection, "StripeClient", "Event", datetime], Effects]
HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_changed,
    "customer.subscription.trial_will_end": trial_will_end,
    "invoice.paid": invoice_paid,
    "invoice.payment_failed": payment_failed,
    "invoice.payment_action_required": payment_action_required,
}
