"""Chats of a project, their messages, generation jobs, AI turns and the prompt library."""

from __future__ import annotations

from chats_fn.routes import chats, jobs, messages, prompts, turns
from mm_common.api import create_app, lambda_handler
from mm_common.config import require_settings

# Posting a message queues a job; approving an answer writes files and snapshots a version.
# Without them, fail the cold start.
REQUIRED_SETTINGS = ("jobs_queue_url", "snapshots_bucket")

require_settings(*REQUIRED_SETTINGS)


app = create_app("chats")
# In this order: FastAPI matches routes in the order they were registered.
for resource in (chats, messages, jobs, turns, prompts):
    app.include_router(resource.router)

handler = lambda_handler(app)
