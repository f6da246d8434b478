"""The deploy API (deploy, update, roll back; history, step timeline, logs; stop, start, destroy, custom
domain): the function's wiring."""

from __future__ import annotations

from deploy_fn.routes import deployments, lifecycle
from mm_common.api import create_app, lambda_handler
from mm_common.config import require_settings

# A deploy without a version snapshots the working copy into the snapshots bucket, and every
# accepted deployment starts an execution of the deploy state machine. Without them, fail the
# cold start.
REQUIRED_SETTINGS = ("snapshots_bucket", "deploy_state_machine_arn")

require_settings(*REQUIRED_SETTINGS)


app = create_app("deploy")
app.include_router(deployments.router)
app.include_router(lifecycle.router)

handler = lambda_handler(app)
