"""Request and response bodies of the deploy function."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from mm_common.deployments import FAILED_MESSAGE
from mm_common.models import ApiModel, RequestModel, UtcDatetime

Database = Literal["postgres", "mariadb", "none"]
DeploymentStatus = Literal["pending", "running", "success", "failed", "canceled"]
DeploymentKind = Literal["deploy", "update", "redeploy", "rollback"]
StepName = Literal[
    "Prepare",
    "PushToGitea",
    "EnsureDatabase",
    "EnsureApp",
    "ConfigureEnv",
    "TriggerBuild",
    "WaitForBuild",
    "HealthCheck",
    "MarkLive",
    "MarkFailed",
]


class DeployBody(RequestModel):
    version_id: uuid.UUID | None = Field(
        default=None,
        description="The version to deploy; without it, the working copy (snapshotted into a new version "
        "when it differs from the latest one).",
    )
    database: Database | None = Field(
        default=None,
        description="The database the app gets (remembered for the project; default: the project's choice, "
        "postgres at first).",
    )


class RollbackBody(RequestModel):
    deployment_id: uuid.UUID = Field(description="A past successful deployment of this project, whose version to run.")


class Deployment(ApiModel):
    id: uuid.UUID
    project_id: uuid.UUID
    version_id: uuid.UUID | None
    status: DeploymentStatus
    kind: DeploymentKind
    database: Database
    commit_sha: str | None = Field(description="The Gitea commit deployed, once pushed.")
    url: str | None = Field(description="Where the app answers, once live.")
    dockerfile_generated: bool = Field(description="Whether a Dockerfile was generated for the deployed commit.")
    error_message: str | None = Field(description="What went wrong, when it failed (the same message every time).")
    started_at: UtcDatetime
    completed_at: UtcDatetime | None
    triggered_by: uuid.UUID | None


class DeploymentEnvelope(ApiModel):
    deployment: Deployment


class DeploymentPage(ApiModel):
    items: list[Deployment]
    next_cursor: str | None = None


class DeploymentStep(ApiModel):
    step: StepName
    status: Literal["running", "succeeded", "failed"]
    started_at: UtcDatetime
    ended_at: UtcDatetime | None
    attempts: int = Field(description="Invocations of the step, retries included.")
    detail: str | None


class DeploymentDetail(ApiModel):
    deployment: Deployment
    steps: list[DeploymentStep] = Field(description="The step timeline, in the order the steps started.")


class LogLine(ApiModel):
    seq: int
    step: str | None
    line: str
    created_at: UtcDatetime


class DeploymentLogs(ApiModel):
    lines: list[LogLine] = Field(description="Our step log lines after `since`, oldest first.")
    build_log: str | None = Field(description="The build's log as last read from the build server.")
    next: int = Field(description="Pass as `since` to get the lines that follow.")


class DomainBody(RequestModel):
    host: str = Field(
        min_length=1,
        max_length=253,
        description="The host name the app should also answer at, e.g. app.example.com (lowercased).",
    )


DeployStateName = Literal["not_deployed", "deploying", "live", "stopped", "failed"]


class DnsRecord(ApiModel):
    type: Literal["CNAME"]
    name: str = Field(description="The record's name: the custom host.")
    value: str = Field(description="What it points at: the app's own host.")


class CustomDomain(ApiModel):
    host: str
    url: str = Field(description="Where the app answers once the DNS record exists.")
    record: DnsRecord = Field(description="The DNS record to create at the domain's DNS provider.")


class DeployState(ApiModel):
    project_id: uuid.UUID
    state: DeployStateName = Field(
        description="not_deployed (never, or destroyed), deploying (a deployment is running), live, stopped, or "
        "failed (the last deployment failed; an earlier one may still be serving at `url`)."
    )
    url: str | None = Field(description="Where the app answers (its own host).")
    service_name: str | None = Field(description="The app's service name on the deploy server.")
    database: Database = Field(description="The database the project deploys with.")
    last_deployed_at: UtcDatetime | None
    active_deployment_id: uuid.UUID | None = Field(description="The deployment running now, if any.")
    custom_domain: CustomDomain | None


class DeployStateEnvelope(ApiModel):
    deploy: DeployState


def deployment_model(row: Mapping[str, Any]) -> Deployment:
    """A deployment as its project's members see it: a failure always reads the same message (what went
    wrong in detail is in the internal log, never shown)."""
    data = {k: row[k] for k in Deployment.model_fields if k != "error_message"}
    return Deployment.model_validate({**data, "error_message": FAILED_MESSAGE if row["status"] == "failed" else None})


def step_model(row: Mapping[str, Any]) -> DeploymentStep:
    return DeploymentStep.model_validate({k: row[k] for k in DeploymentStep.model_fields})


def log_line_model(row: Mapping[str, Any]) -> LogLine:
    return LogLine.model_validate({k: row[k] for k in LogLine.model_fields})
