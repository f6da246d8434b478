"""Design systems: generate from a description, read (page over master), edit, history and restore.

Wiring only: the routes are in ``routes/``, the rules in ``service.py``; the tables, the rendered files and
the versions are written by ``mm_common.design_systems``.
"""

from __future__ import annotations

from design_fn.routes import design_system
from mm_common.api import create_app, lambda_handler
from mm_common.config import require_settings

# The rendered files' versions go to the snapshots bucket.
require_settings("snapshots_bucket")

app = create_app("design")
app.include_router(design_system.router)

handler = lambda_handler(app)
