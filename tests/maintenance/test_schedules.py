"""The maintenance function's two schedules, as the template declares them and the local stack fires them: the hourly
set of tasks, and the daily full blob sweep (its schedule's constant Input is the event, as EventBridge sends it)."""

from __future__ import annotations

from devstack.stack import LocalStack


def test_the_hourly_schedule_runs_the_hourly_tasks_and_the_daily_one_the_blob_sweep(stack: LocalStack) -> None:
    assert stack.scheduler is not None
    hourly = stack.scheduler.run_now("MaintenanceFunction", "Hourly")
    assert "blob_sweep" not in hourly["tasks"] and {"expired", "deployments", "retention"} <= set(hourly["tasks"])
    daily = stack.scheduler.run_now("MaintenanceFunction", "DailyBlobSweep")
    assert set(daily["tasks"]) == {"blob_sweep"} and daily["failed"] == {}
