"""An organization's billing: Checkout, the Billing Portal, the subscription with usage, invoices."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from billing_fn import service
from billing_fn.schemas import (
    CheckoutBody,
    InvoicePage,
    PortalBody,
    RedirectEnvelope,
    Subscription,
    SubscriptionEnvelope,
    invoice_model,
)
from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, organization_from_body, organization_from_query, require
from mm_common.pagination import Cursor, Limit
from mm_common.permissions import Action

BillingManager = Annotated[Caller, require(Action.BILLING_MANAGE, organization=organization_from_body())]
InvoiceReader = Annotated[Caller, require(Action.BILLING_MANAGE, organization=organization_from_query())]
Member = Annotated[Caller, require(Action.ORGANIZATION_VIEW, organization=organization_from_query())]
OrganizationId = Annotated[uuid.UUID, Query(alias="organizationId", description="The organization's id.")]

router = APIRouter()


@router.post(
    "/api/billing/checkout",
    response_model=RedirectEnvelope,
    summary="Start a Checkout for a plan: where to send the browser",
    responses=errors(409, 503),  # already_subscribed; the payment service did not answer
)
def checkout(body: CheckoutBody, caller: BillingManager) -> RedirectEnvelope:
    with db.transaction() as conn:
        url = service.checkout(conn, caller, body)
    return RedirectEnvelope(url=url)


@router.post(
    "/api/billing/portal",
    response_model=RedirectEnvelope,
    summary="Open the Billing Portal (change or cancel the plan, payment methods): where to send the browser",
    responses=errors(409, 503),  # no_subscription; the payment service did not answer
)
def portal(body: PortalBody, caller: BillingManager) -> RedirectEnvelope:
    with db.transaction() as conn:
        url = service.portal(conn, caller, body.organization_id)
    return RedirectEnvelope(url=url)


@router.get(
    "/api/billing/subscription",
    response_model=SubscriptionEnvelope,
    summary="The plan that applies now, its limits and the usage against them",
)
def subscription(organization_id: OrganizationId, caller: Member) -> SubscriptionEnvelope:
    with db.transaction() as conn:
        row = service.subscription(conn, caller, organization_id)
    return SubscriptionEnvelope(subscription=Subscription.model_validate(row))


@router.get("/api/billing/invoices", response_model=InvoicePage, summary="Invoices, newest first")
def invoices(
    organization_id: OrganizationId, caller: InvoiceReader, limit: Limit = 50, cursor: Cursor = None
) -> InvoicePage:
    with db.transaction() as conn:
        rows, next_cursor = service.invoices(conn, caller, organization_id, limit=limit, cursor=cursor)
    return InvoicePage(items=[invoice_model(row) for row in rows], next_cursor=next_cursor)
