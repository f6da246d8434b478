"""Scheduled clean-up (EventBridge): the handler; the work is in service.py."""

from __future__ import annotations

from typing import Any

from maintenance_fn.service import run_cleanup
from mm_common.observability import for_service, traced_handler

obs = for_service("maintenance")


@obs.logger.inject_lambda_context(clear_state=True)
@traced_handler(obs.service)
@obs.metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deleted = run_cleanup()
    for name, count in deleted.items():
        obs.metrics.add_metric(name=f"CleanupDeleted_{name}", unit="Count", value=count)
    obs.logger.info("cleanup finished", extra={"deleted": deleted})
    return {"deleted": deleted}
