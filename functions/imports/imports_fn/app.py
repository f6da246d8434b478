"""Imports from the desktop app: the function's wiring."""

from __future__ import annotations

from imports_fn.routes import imports
from mm_common.api import create_app, lambda_handler
from mm_common.config import require_settings

# Uploads go to the imports bucket and the work to the imports queue: without them, fail the cold start.
require_settings("imports_bucket", "imports_queue_url")

app = create_app("imports")
app.include_router(imports.router)

handler = lambda_handler(app)
