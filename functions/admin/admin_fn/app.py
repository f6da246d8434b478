"""Platform administration: users, organizations, analytics and health, system settings, the system-wide audit
log. Wiring only: routes in ``routes/``, rules in ``service/``."""

from __future__ import annotations

from admin_fn.routes import analytics, audit_logs, organizations, settings, users
from mm_common.api import create_app, lambda_handler
from mm_common.config import require_settings

# Verifying access tokens: without the key, fail the cold start.
REQUIRED_SETTINGS = ("jwt_secret_arn",)
require_settings(*REQUIRED_SETTINGS)

app = create_app("admin")
app.include_router(audit_logs.router)
app.include_router(users.router)
app.include_router(organizations.router)
app.include_router(analytics.router)
app.include_router(settings.router)

handler = lambda_handler(app)
