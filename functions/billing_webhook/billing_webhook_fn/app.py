"""The Stripe webhook (its own function: its own least-privilege policy and reserved concurrency, so a flood of
events cannot starve the API): the function's wiring."""

from __future__ import annotations

from billing_webhook_fn.routes import webhook
from mm_common.api import create_app, lambda_handler

app = create_app("billing-webhook")
app.include_router(webhook.router)

handler = lambda_handler(app)
