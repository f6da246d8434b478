"""Platform routes: health, the API's OpenAPI document, and answers for unknown routes."""

from __future__ import annotations

from mm_common.api import create_app, lambda_handler
from system_fn.routes import platform

app = create_app("system")
app.include_router(platform.router)

handler = lambda_handler(app)
