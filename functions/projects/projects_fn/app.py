"""Projects, their working copy (files) and versions (S3 snapshots): the function's wiring."""

from __future__ import annotations

from mm_common.api import create_app, lambda_handler
from mm_common.config import require_settings
from projects_fn.routes import files, previews, projects, templates, versions

# Files and versions live in the snapshots bucket, deleting a project queues its clean-up, and
# environment variables are sealed with the key. Without them, fail the cold start.
REQUIRED_SETTINGS = ("snapshots_bucket", "project_cleanup_queue_url", "kms_key_id")

require_settings(*REQUIRED_SETTINGS)


app = create_app("projects")
# In this order: FastAPI matches routes in the order they were registered.
for resource in (templates, projects, files, versions, previews):
    app.include_router(resource.router)

handler = lambda_handler(app)
