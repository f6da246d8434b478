"""Platform administration: the system-wide audit log (admins and co-admins)."""

from __future__ import annotations

from admin_fn.routes import audit_logs
from mm_common.api import create_app, lambda_handler
from mm_common.config import require_settings

# Verifying access tokens: without the key, fail the cold start.
REQUIRED_SETTINGS = ("jwt_secret_arn",)
require_settings(*REQUIRED_SETTINGS)

app = create_app("admin")
app.include_router(audit_logs.router)

handler = lambda_handler(app)
