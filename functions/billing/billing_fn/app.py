"""Billing: plans and their limits, Checkout and the Billing Portal, the subscription with usage, invoices.

Wiring only: the routes are in ``routes/``, the rules in ``service.py``, the SQL in ``queries.py``. The Stripe
webhook is its own function (``functions/billing_webhook``), so a flood of events cannot starve this API.
"""

from __future__ import annotations

from billing_fn.routes import billing, plans
from mm_common.api import create_app, lambda_handler

app = create_app("billing")
app.include_router(plans.router)
app.include_router(billing.router)

handler = lambda_handler(app)
