"""Accounts and sessions: register, verify, log in, refresh, log out, reset; users (admin)."""

from __future__ import annotations

from auth_fn.routes import account, me, users
from mm_common.api import create_app, lambda_handler
from mm_common.config import require_settings

# Signing access tokens and sending account e-mails: without them, fail the cold start.
REQUIRED_SETTINGS = ("jwt_secret_arn", "mail_from")
require_settings(*REQUIRED_SETTINGS)

app = create_app("auth")
# In this order: /api/users/me must match before /api/users/{id}.
app.include_router(account.router)
app.include_router(me.router)
app.include_router(users.router)

handler = lambda_handler(app)
