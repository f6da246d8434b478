"""/api/admin/analytics (platform numbers and health) and the failure logs /api/admin/failed-jobs and
/api/admin/failed-deployments, for admins and co-admins."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from admin_fn.service import analytics as service
from mm_common.auth import Caller, require
from mm_common.models import ApiModel, UtcDatetime
from mm_common.pagination import Cursor, Limit
from mm_common.permissions import Action

router = APIRouter()


# ------------------------------------------------------------------------------------------- analytics


class Totals(ApiModel):
    users: int
    verified_users: int
    organizations: int
    projects: int = Field(description="Projects not deleted.")
    active_projects_7d: int = Field(
        alias="activeProjects7d", description="Projects with a message or a version in the last 7 days."
    )
    active_projects_30d: int = Field(
        alias="activeProjects30d", description="Projects with a message or a version in the last 30 days."
    )
    live_deployments: int = Field(description="Projects deployed and not stopped.")


class DayCount(ApiModel):
    day: date
    count: int


class DayTokens(ApiModel):
    day: date
    provider: str | None = Field(description="The provider's slug; null for a model since deleted.")
    model: str | None = Field(description="The model's API name; null for a model since deleted.")
    tokens: int


class DayDeployments(ApiModel):
    day: date
    succeeded: int
    failed: int


class Series(ApiModel):
    """One entry per UTC day of the range (zero days included), but aiTokens: one per day and model that used
    tokens on it (a day without an entry for a model: none)."""

    signups: list[DayCount]
    messages: list[DayCount]
    ai_tokens: list[DayTokens]
    deployments: list[DayDeployments] = Field(description="Deployments by the day they ended.")
    failed_jobs: list[DayCount] = Field(description="Generation jobs failed, by the day they ended.")


class PaidInvoices(ApiModel):
    count: int
    amount_by_currency: dict[str, int] = Field(description="Minor units per lower-case ISO currency.")


class Revenue(ApiModel):
    mrr_by_tier: dict[str, int] = Field(
        description="Monthly recurring revenue per tier in minor units of the plan's currency, from the current"
        " (active, trialing, past due) subscriptions at the plans' display prices; yearly ones count a twelfth."
    )
    paid_invoices: PaidInvoices = Field(description="Invoices paid in the range.")


class QueueHealth(ApiModel):
    name: str
    depth: int | None = Field(description="Messages waiting; null when the queue could not be read.")
    dlq_depth: int | None = Field(description="Messages in its dead-letter queue; null when none or unreadable.")


class PlatformHealth(ApiModel):
    queues: list[QueueHealth]
    stuck_jobs: int = Field(description="Generation jobs running past their lease, or queued and never claimed.")
    failed_jobs_24h: int = Field(alias="failedJobs24h")
    failed_deployments_24h: int = Field(alias="failedDeployments24h")


class Analytics(ApiModel):
    from_: date = Field(alias="from")
    to: date
    totals: Totals
    series: Series
    revenue: Revenue
    health: PlatformHealth


class AnalyticsEnvelope(ApiModel):
    analytics: Analytics


@router.get(
    "/api/admin/analytics",
    response_model=AnalyticsEnvelope,
    summary="Platform totals, daily series, revenue and health",
)
def analytics(
    caller: Annotated[Caller, require(Action.PLATFORM_ANALYTICS_VIEW)],
    from_: Annotated[
        date | None, Query(alias="from", description="First UTC day (ISO date); default 30 days ago.")
    ] = None,
    to: Annotated[date | None, Query(description="Last UTC day (ISO date); default today. At most 366 days.")] = None,
) -> Response:
    result = service.platform_analytics(service.window(from_, to))
    envelope = AnalyticsEnvelope(analytics=Analytics.model_validate(result))
    # A year's answer holds thousands of day entries: validated once here, it is sent as it is serialized
    # (FastAPI would check and encode the whole envelope a second time, about as long again).
    return Response(envelope.model_dump_json(by_alias=True), media_type="application/json")


# ---------------------------------------------------------------------------------------- failure logs


class FailedJob(ApiModel):
    id: uuid.UUID
    finished_at: UtcDatetime
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    mode: str
    attempts: int
    error_code: str | None
    error_message: str | None
    organization_id: uuid.UUID
    organization_name: str
    project_id: uuid.UUID
    project_name: str
    chat_id: uuid.UUID
    created_by: uuid.UUID | None
    created_by_email: str | None
    provider: str | None
    model: str | None


class FailedJobPage(ApiModel):
    items: list[FailedJob]
    next_cursor: str | None


class DeploymentLogLine(ApiModel):
    at: UtcDatetime
    step: str | None
    line: str


class FailedDeployment(ApiModel):
    id: uuid.UUID
    completed_at: UtcDatetime
    started_at: UtcDatetime
    kind: str
    error_message: str | None
    failed_step: str | None = Field(description="The step of the deploy state machine that failed.")
    failed_step_detail: str | None
    failed_step_attempts: int | None
    log_lines: list[DeploymentLogLine] = Field(description="The deployment's last log lines, oldest first.")
    build_log_tail: str | None = Field(description="The end of the build log, when the build ran.")
    easypanel_service: str | None
    commit_sha: str | None
    organization_id: uuid.UUID
    organization_name: str
    project_id: uuid.UUID
    project_name: str
    version_id: uuid.UUID | None
    version_number: int | None
    triggered_by: uuid.UUID | None
    triggered_by_email: str | None


class FailedDeploymentPage(ApiModel):
    items: list[FailedDeployment]
    next_cursor: str | None


def _items(model: type[ApiModel], rows: list[dict[str, Any]]) -> list[Any]:
    return [model.model_validate(row) for row in rows]


@router.get("/api/admin/failed-jobs", response_model=FailedJobPage, summary="Failed generation jobs, latest first")
def failed_jobs(
    caller: Annotated[Caller, require(Action.SYSTEM_LOGS_VIEW)], limit: Limit = 50, cursor: Cursor = None
) -> FailedJobPage:
    rows, next_cursor = service.failed_jobs(limit=limit, cursor=cursor)
    return FailedJobPage(items=_items(FailedJob, rows), next_cursor=next_cursor)


@router.get(
    "/api/admin/failed-deployments",
    response_model=FailedDeploymentPage,
    summary="Failed deployments with the step that failed, latest first",
)
def failed_deployments(
    caller: Annotated[Caller, require(Action.SYSTEM_LOGS_VIEW)], limit: Limit = 50, cursor: Cursor = None
) -> FailedDeploymentPage:
    rows, next_cursor = service.failed_deployments(limit=limit, cursor=cursor)
    return FailedDeploymentPage(items=_items(FailedDeployment, rows), next_cursor=next_cursor)
