"""Billing's rules: plans (read by anyone, changed by admins and co-admins), Checkout and the Billing Portal
(the organization's owner), the subscription with its limits and usage, invoices.

Stripe is called through ``mm_common.billing.client``; a Stripe failure answers 503 (its details go to the
internal log only). Checkout creates the organization's Stripe customer once, with the organization's id in its
metadata, and names the organization on the session and on the subscription it creates, so the webhook ties
every event back to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from billing_fn import queries
from billing_fn.schemas import CheckoutBody, PlanBody
from mm_common import audit, billing, plans
from mm_common.auth import Caller
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from mm_common.observability import count, for_service, traced

if TYPE_CHECKING:
    from stripe import StripeClient

SERVICE = "billing"
obs = for_service(SERVICE)

NO_SUCH_ORGANIZATION = "There is no such organization, or you cannot see it."
NO_SUCH_PLAN = "There is no such plan."
ALREADY_SUBSCRIBED = "This organization has a subscription already: change or cancel it in the billing portal."
NO_CUSTOMER = "This organization has never subscribed: there is nothing to manage yet. Upgrade first."
NOT_SOLD = "That plan cannot be bought online right now. Please contact us."
STRIPE_DOWN = "The payment service did not answer. Please try again in a moment."


@contextmanager
def _stripe() -> Iterator[StripeClient]:
    """The Stripe client; its failures are 503 (their details go to the internal log only)."""
    import stripe

    try:
        yield billing.client(get_settings())
    except stripe.StripeError as error:
        obs.logger.warning(
            "stripe call failed",
            extra={"error_type": type(error).__name__, "status": error.http_status, "code": error.code},
        )
        count(SERVICE, "StripeFailure")
        raise ServiceUnavailable(STRIPE_DOWN) from None


# --------------------------------------------------------------------------------------------- plans
@traced(SERVICE)
def list_plans(conn: Connection) -> list[dict[str, Any]]:
    return plans.all_plans(conn)


@traced(SERVICE)
def update_plan(conn: Connection, caller: Caller, tier: str, body: PlanBody) -> dict[str, Any]:
    if tier not in plans.TIERS:
        raise NotFound(NO_SUCH_PLAN)
    changes = body.model_dump(exclude_unset=True)
    row = queries.update_plan(conn, tier, changes, caller.user_id)
    if row is None:
        raise NotFound(NO_SUCH_PLAN)
    audit.log(conn, caller, "plan.update", resource_type="plan", details={"tier": tier, "changes": changes})
    return row


# --------------------------------------------------------------------------------------------- subscription
def _organization(conn: Connection, organization_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any]:
    row = billing.organization_billing(conn, organization_id, lock=lock)
    if row is None:
        raise NotFound(NO_SUCH_ORGANIZATION)
    return row


@traced(SERVICE)
def subscription(conn: Connection, caller: Caller, organization_id: uuid.UUID) -> dict[str, Any]:
    """The subscription as the organization lives it: the tier that applies now, its limits and the usage."""
    row = _organization(conn, organization_id)
    snapshot = plans.snapshot(conn, organization_id)
    grace_ends_at = None
    if row["subscription_status"] == "past_due" and row["past_due_since"] is not None:
        grace_ends_at = row["past_due_since"] + timedelta(days=get_settings().billing_grace_days)
    return {
        "organization_id": organization_id,
        "tier": snapshot["tier"],
        "subscribed_tier": row["subscription_tier"],
        "status": row["subscription_status"],
        "interval": row["subscription_interval"],
        "current_period_end": row["current_period_end"],
        "cancel_at_period_end": row["cancel_at_period_end"],
        "trial_ends_at": row["trial_ends_at"],
        "grace_ends_at": grace_ends_at,
        "has_customer": row["stripe_customer_id"] is not None,
        "limits": snapshot["limits"],
        "usage": snapshot["usage"],
    }


@traced(SERVICE)
def invoices(
    conn: Connection, caller: Caller, organization_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    _organization(conn, organization_id)
    return queries.invoice_page(conn, organization_id, limit=limit, cursor=cursor)


# --------------------------------------------------------------------------------------------- Stripe pages
def _customer(conn: Connection, stripe: StripeClient, caller: Caller, organization: dict[str, Any]) -> str:
    """The organization's Stripe customer, created at its first Checkout (once: the idempotency key is the
    organization's)."""
    if organization["stripe_customer_id"]:
        return str(organization["stripe_customer_id"])
    params: dict[str, Any] = {
        "name": organization["name"],
        "metadata": {billing.ORGANIZATION_KEY: str(organization["id"])},
    }
    if caller.email:
        params["email"] = caller.email
    customer = stripe.v1.customers.create(cast(Any, params), {"idempotency_key": f"customer:{organization['id']}"})
    billing.link_customer(conn, organization["id"], customer.id)
    return str(customer.id)


@traced(SERVICE)
def checkout(conn: Connection, caller: Caller, body: CheckoutBody) -> str:
    """A Checkout Session (subscription mode) for the tier's price; its hosted page's URL."""
    organization = _organization(conn, body.organization_id, lock=True)
    if organization["subscription_tier"] == "enterprise":
        raise Conflict("This organization is on the Enterprise plan already.", code="already_subscribed")
    if organization["stripe_subscription_id"] and organization["subscription_status"] not in billing.ENDED_STATUSES:
        raise Conflict(ALREADY_SUBSCRIBED, code="already_subscribed")
    settings = get_settings()
    key = billing.lookup_key(settings, body.tier, body.interval)
    if key is None:
        raise Unprocessable(
            f"The {body.tier} plan is not sold by the {body.interval}.",
            details=[{"field": "interval", "in": "body", "message": "No price for this interval."}],
        )
    with _stripe() as stripe:
        prices = stripe.v1.prices.list({"lookup_keys": [key], "active": True, "limit": 1})
        if not prices.data:
            obs.logger.error("no active Stripe price has the lookup key", extra={"lookup_key": key})
            raise ServiceUnavailable(NOT_SOLD)
        price = prices.data[0]
        customer = _customer(conn, stripe, caller, organization)
        reference = str(organization["id"])
        subscription_data: dict[str, Any] = {"metadata": {billing.ORGANIZATION_KEY: reference}}
        if settings.billing_trial_days > 0 and not queries.had_subscription(conn, organization["id"]):
            subscription_data["trial_period_days"] = settings.billing_trial_days
        session = stripe.v1.checkout.sessions.create(
            cast(
                Any,
                {
                    "mode": "subscription",
                    "customer": customer,
                    "line_items": [{"price": price.id, "quantity": 1}],
                    "client_reference_id": reference,
                    "metadata": {billing.ORGANIZATION_KEY: reference},
                    "subscription_data": subscription_data,
                    "success_url": billing.billing_page_url(
                        settings, organization["id"], "&checkout=success&session_id={CHECKOUT_SESSION_ID}"
                    ),
                    "cancel_url": billing.billing_page_url(settings, organization["id"], "&checkout=canceled"),
                    "allow_promotion_codes": True,
                },
            ),
            # One key per attempt: the SDK's own retries of this call reuse it, a new click makes a new session.
            {"idempotency_key": f"checkout:{reference}:{price.id}:{uuid.uuid4()}"},
        )
    audit.log(
        conn,
        caller,
        "billing.checkout",
        resource_type="organization",
        resource_id=organization["id"],
        details={"tier": body.tier, "interval": body.interval},
    )
    count(SERVICE, "CheckoutStarted")
    return str(session.url)


@traced(SERVICE)
def portal(conn: Connection, caller: Caller, organization_id: uuid.UUID) -> str:
    """A Billing Portal session for the organization's customer; its page's URL."""
    organization = _organization(conn, organization_id)
    if not organization["stripe_customer_id"]:
        raise Conflict(NO_CUSTOMER, code="no_subscription")
    with _stripe() as stripe:
        session = stripe.v1.billing_portal.sessions.create(
            {
                "customer": organization["stripe_customer_id"],
                "return_url": billing.billing_page_url(get_settings(), organization_id),
            }
        )
    audit.log(conn, caller, "billing.portal", resource_type="organization", resource_id=organization_id)
    return str(session.url)
