"""``POST /api/billing/webhook``: Stripe's events, verified over the exact raw body."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from billing_webhook_fn import service
from billing_webhook_fn.schemas import WebhookAnswer
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.permissions import Action

Stripe = Annotated[Caller, require(Action.PUBLIC)]

router = APIRouter()


@router.post(
    "/api/billing/webhook",
    response_model=WebhookAnswer,
    summary="Stripe's webhook (signed with the endpoint's secret; replays change nothing)",
    responses=errors(400),  # invalid_signature (and 500 event_not_applied: Stripe retries)
)
async def webhook(
    request: Request,
    caller: Stripe,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> WebhookAnswer:
    # The exact bytes Stripe signed (Mangum has already undone API Gateway's base64), never re-serialized JSON.
    payload = await request.body()
    event = service.verify(payload, stripe_signature)
    outcome = await service.process_in_thread(event)
    return WebhookAnswer(received=True, duplicate=outcome == "duplicate")
