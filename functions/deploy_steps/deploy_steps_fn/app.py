"""The deploy state machine's task Lambda: ``{"step": "<State>", "deploymentId", …}`` runs that step (see
service.py and infra/statemachines/deploy.asl.json)."""

from __future__ import annotations

from typing import Any

from deploy_steps_fn import service
from deploy_steps_fn.service import obs
from mm_common.config import require_settings
from mm_common.observability import traced_handler

STEPS: dict[str, service.StepFunction] = {
    "Prepare": service.prepare,
    "PushToGitea": service.push_to_gitea,
    "EnsureDatabase": service.ensure_database,
    "EnsureApp": service.ensure_app,
    "ConfigureEnv": service.configure_env,
    "TriggerBuild": service.trigger_build,
    "WaitForBuild": service.wait_for_build,
    "HealthCheck": service.health_check,
    "MarkLive": service.mark_live,
    "MarkFailed": service.mark_failed,
}

# Versions are read from the snapshots bucket: without it, fail at cold start.
require_settings("snapshots_bucket")


@obs.logger.inject_lambda_context(clear_state=True)
@traced_handler(obs.service)
@obs.metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    step = str(event.get("step", ""))
    if step not in STEPS:
        raise ValueError(f"unknown deploy step {step!r}")
    return service.run(step, STEPS[step], event)
