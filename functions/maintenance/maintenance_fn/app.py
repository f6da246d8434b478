"""Scheduled clean-up (EventBridge): the handler; the tasks are in service.py.

The event is EventBridge's scheduled event (the hourly tasks), or a schedule's constant input naming tasks:
``{"tasks": ["blob_sweep"]}``."""

from __future__ import annotations

from typing import Any

from maintenance_fn.service import Budget, obs, run_cleanup
from mm_common.observability import traced_handler

# Left of the Lambda's timeout when the run stops starting new work (a batch in flight still ends).
SAFETY_MARGIN_S = 30.0


def requested_tasks(event: Any) -> list[str] | None:
    """The tasks the event names, or None (a scheduled event: the hourly set)."""
    tasks = event.get("tasks") if isinstance(event, dict) else None
    if tasks is None:
        return None
    if not isinstance(tasks, list) or not all(isinstance(task, str) for task in tasks):
        raise ValueError('the event\'s "tasks" must be a list of task names')
    return tasks


@obs.logger.inject_lambda_context(clear_state=True)
@traced_handler(obs.service)
@obs.metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining_s = context.get_remaining_time_in_millis() / 1000 if context is not None else 240.0
    report = run_cleanup(requested_tasks(event), budget=Budget.seconds(max(1.0, remaining_s - SAFETY_MARGIN_S)))
    for task, counts in report.counts.items():
        for name, value in counts.items():
            obs.metrics.add_metric(name=f"Cleanup_{task}_{name}", unit="Count", value=value)
    for task in report.failed:
        obs.metrics.add_metric(name=f"CleanupFailed_{task}", unit="Count", value=1)
    obs.logger.info("cleanup finished", extra={"counts": report.counts, "failed": report.failed})
    return {"tasks": report.counts, "failed": report.failed}
