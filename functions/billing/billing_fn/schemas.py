"""Request and response bodies of the billing function."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from mm_common.models import ApiModel, RequestModel, UtcDatetime

Tier = Literal["free", "pro", "enterprise"]
Interval = Literal["month", "year"]


class PlanLimits(ApiModel):
    projects: int | None = Field(description="Projects (null: unlimited).")
    members: int | None = Field(description="Members, pending invitations included (null: unlimited).")
    deployments: int | None = Field(description="Deployed projects (null: unlimited).")
    ai_tokens: int | None = Field(description="AI tokens a month on the platform's keys (null: unlimited).")
    custom_domains: bool


class Plan(ApiModel):
    tier: Tier
    name: str
    description: str
    limits: PlanLimits
    monthly_price_cents: int | None = Field(description="Display price a month, minor units (null: contact us).")
    yearly_price_cents: int | None
    currency: str
    updated_at: UtcDatetime


class PlanList(ApiModel):
    items: list[Plan]
    next_cursor: str | None = None


class PlanEnvelope(ApiModel):
    plan: Plan


class PlanBody(RequestModel):
    """What an admin or co-admin changes of a tier; fields left out stay as they are. null: unlimited."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    max_projects: int | None = Field(default=None, ge=0, le=1_000_000)
    max_members: int | None = Field(default=None, ge=1, le=1_000_000)
    max_deployments: int | None = Field(default=None, ge=0, le=1_000_000)
    monthly_ai_tokens: int | None = Field(default=None, ge=0, le=10**15)
    custom_domains: bool | None = None
    monthly_price_cents: int | None = Field(default=None, ge=0, le=10**9)
    yearly_price_cents: int | None = Field(default=None, ge=0, le=10**9)


class CheckoutBody(RequestModel):
    organization_id: uuid.UUID
    tier: Literal["pro"] = Field(description="The tier to subscribe to (Enterprise: contact us).")
    interval: Interval = "month"


class PortalBody(RequestModel):
    organization_id: uuid.UUID


class RedirectEnvelope(ApiModel):
    url: str = Field(description="Where to send the browser (Stripe's hosted page).")


class Usage(ApiModel):
    projects: int
    members: int
    deployments: int
    ai_tokens: int = Field(description="This month, on the platform's keys.")
    custom_domains: int


class Subscription(ApiModel):
    organization_id: uuid.UUID
    tier: Tier = Field(description="The tier whose limits apply now.")
    subscribed_tier: Tier = Field(description="The tier subscribed to (differs while past due beyond the grace).")
    status: str = Field(description="Stripe's subscription status (active, trialing, past_due, canceled, …).")
    interval: Interval | None
    current_period_end: UtcDatetime | None
    cancel_at_period_end: bool
    trial_ends_at: UtcDatetime | None
    grace_ends_at: UtcDatetime | None = Field(description="While past due: when the tier stops applying.")
    has_customer: bool = Field(description="Whether the Billing Portal can open (a Stripe customer exists).")
    limits: PlanLimits
    usage: Usage


class SubscriptionEnvelope(ApiModel):
    subscription: Subscription


class Invoice(ApiModel):
    id: uuid.UUID
    number: str | None
    amount_due: int = Field(description="Minor units of `currency`.")
    amount_paid: int
    currency: str
    status: Literal["draft", "open", "paid", "void", "uncollectible"]
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    period_start: UtcDatetime | None
    period_end: UtcDatetime | None
    paid_at: UtcDatetime | None
    created_at: UtcDatetime


class InvoicePage(ApiModel):
    items: list[Invoice]
    next_cursor: str | None = None


def plan_model(row: Mapping[str, Any]) -> Plan:
    return Plan.model_validate(
        {
            **{k: row[k] for k in ("tier", "name", "description", "currency", "updated_at")},
            "monthly_price_cents": row["monthly_price_cents"],
            "yearly_price_cents": row["yearly_price_cents"],
            "limits": {
                "projects": row["max_projects"],
                "members": row["max_members"],
                "deployments": row["max_deployments"],
                "ai_tokens": row["monthly_ai_tokens"],
                "custom_domains": row["custom_domains"],
            },
        }
    )


def invoice_model(row: Mapping[str, Any]) -> Invoice:
    return Invoice.model_validate({k: row[k] for k in Invoice.model_fields})
