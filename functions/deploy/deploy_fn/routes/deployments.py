"""Deployments: deploy, update and roll back a project; its history, a deployment's step timeline and logs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from deploy_fn import service
from deploy_fn.schemas import (
    DeployBody,
    DeploymentDetail,
    DeploymentEnvelope,
    DeploymentLogs,
    DeploymentPage,
    RollbackBody,
    deployment_model,
    log_line_model,
    step_model,
)
from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, organization_from_deployment, organization_from_project, parse_uuid, require
from mm_common.deployments import Kind
from mm_common.pagination import Cursor, Limit
from mm_common.permissions import Action

IN_PROJECT = organization_from_project("id")
OF_DEPLOYMENT = organization_from_deployment("id")
Deployer = Annotated[Caller, require(Action.PROJECT_DEPLOY, organization=IN_PROJECT)]
Viewer = Annotated[Caller, require(Action.PROJECT_VIEW, organization=IN_PROJECT)]
DeploymentViewer = Annotated[Caller, require(Action.PROJECT_VIEW, organization=OF_DEPLOYMENT)]
ProjectId = Annotated[str, Path(description="The project's id.")]
DeploymentId = Annotated[str, Path(description="The deployment's id.")]
Since = Annotated[int, Query(ge=0, le=2**62, description="The `next` of the previous call (0: from the start).")]

router = APIRouter()


def project_uuid(value: str) -> uuid.UUID:
    """The project id of the path; require() has resolved the project, so it is well formed."""
    project_id = parse_uuid(value)
    assert project_id is not None
    return project_id


def _deploy(
    caller: Caller,
    project_id: uuid.UUID,
    kind: Kind,
    body: DeployBody | None = None,
    rollback_of: uuid.UUID | None = None,
) -> DeploymentEnvelope:
    with db.transaction() as conn:
        row = service.accept(
            conn,
            caller,
            project_id,
            kind=kind,
            version_id=body.version_id if body else None,
            database=body.database if body else None,
            rollback_of=rollback_of,
        )
    arn = service.start(caller, row)
    with db.transaction() as conn:
        row = service.record_start(conn, caller, row, arn)
    return DeploymentEnvelope(deployment=deployment_model(row))


@router.post(
    "/api/projects/{id}/deploy",
    status_code=202,
    response_model=DeploymentEnvelope,
    summary="Deploy a version (default: the working copy) to a live URL",
    responses=errors(402, 409, 503),  # plan_limit_reached, deployment_in_progress
)
def deploy(id: ProjectId, caller: Deployer, body: DeployBody | None = None) -> DeploymentEnvelope:
    return _deploy(caller, project_uuid(id), "deploy", body)


@router.post(
    "/api/projects/{id}/deploy/update",
    status_code=202,
    response_model=DeploymentEnvelope,
    summary="Update the live app to a version (default: the working copy)",
    responses=errors(402, 409, 503),  # plan_limit_reached, deployment_in_progress, not_deployed
)
def update(id: ProjectId, caller: Deployer, body: DeployBody | None = None) -> DeploymentEnvelope:
    return _deploy(caller, project_uuid(id), "update", body)


@router.post(
    "/api/projects/{id}/deploy/rollback",
    status_code=202,
    response_model=DeploymentEnvelope,
    summary="Redeploy the version a past successful deployment ran",
    responses=errors(402, 409, 503),  # plan_limit_reached, deployment_in_progress
)
def rollback(id: ProjectId, caller: Deployer, body: RollbackBody) -> DeploymentEnvelope:
    return _deploy(caller, project_uuid(id), "rollback", rollback_of=body.deployment_id)


@router.get("/api/projects/{id}/deployments", response_model=DeploymentPage, summary="Deployments, newest first")
def list_deployments(id: ProjectId, caller: Viewer, limit: Limit = 50, cursor: Cursor = None) -> DeploymentPage:
    with db.transaction() as conn:
        rows, next_cursor = service.list_deployments(conn, caller, project_uuid(id), limit=limit, cursor=cursor)
    return DeploymentPage(items=[deployment_model(row) for row in rows], next_cursor=next_cursor)


@router.get("/api/deployments/{id}", response_model=DeploymentDetail, summary="A deployment and its step timeline")
def get_deployment(id: DeploymentId, caller: DeploymentViewer) -> DeploymentDetail:
    with db.transaction() as conn:
        row, steps = service.get_deployment(conn, caller, id)
    return DeploymentDetail(deployment=deployment_model(row), steps=[step_model(step) for step in steps])


@router.get(
    "/api/deployments/{id}/logs",
    response_model=DeploymentLogs,
    summary="A deployment's log lines after `since`, and its build log",
)
def get_logs(id: DeploymentId, caller: DeploymentViewer, since: Since = 0) -> DeploymentLogs:
    with db.transaction() as conn:
        lines, build_log, following = service.deployment_logs(conn, caller, id, since)
    return DeploymentLogs(lines=[log_line_model(line) for line in lines], build_log=build_log, next=following)
