"""A deployed app's lifecycle: its state, stop and start, destroy, and its custom domain."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter

from deploy_fn import service
from deploy_fn.routes.deployments import IN_PROJECT, Deployer, ProjectId, Viewer, project_uuid
from deploy_fn.schemas import DeployState, DeployStateEnvelope, DomainBody
from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.db import Connection
from mm_common.permissions import Action

Manager = Annotated[Caller, require(Action.PROJECT_MANAGE, organization=IN_PROJECT)]

router = APIRouter()


def _answer(
    change: Callable[[Connection, Caller, uuid.UUID], dict[str, Any]], caller: Caller, id: str
) -> DeployStateEnvelope:
    with db.transaction() as conn:
        state = change(conn, caller, project_uuid(id))
    return DeployStateEnvelope(deploy=DeployState.model_validate(state))


@router.get("/api/projects/{id}/deploy", response_model=DeployStateEnvelope, summary="The project's deployed app")
def get_state(id: ProjectId, caller: Viewer) -> DeployStateEnvelope:
    return _answer(service.deploy_state, caller, id)


@router.post(
    "/api/projects/{id}/deploy/stop",
    response_model=DeployStateEnvelope,
    summary="Stop the app (its database is disabled; nothing is deleted)",
    responses=errors(409, 503),  # not_deployed, deployment_in_progress; the deploy server did not answer
)
def stop(id: ProjectId, caller: Deployer) -> DeployStateEnvelope:
    return _answer(service.stop_app, caller, id)


@router.post(
    "/api/projects/{id}/deploy/start",
    response_model=DeployStateEnvelope,
    summary="Start the stopped app again",
    responses=errors(409, 503),  # not_deployed, deployment_in_progress; the deploy server did not answer
)
def start(id: ProjectId, caller: Deployer) -> DeployStateEnvelope:
    return _answer(service.start_app, caller, id)


@router.delete(
    "/api/projects/{id}/deploy",
    response_model=DeployStateEnvelope,
    summary="Destroy the app and its database (the history and the repository stay)",
    responses=errors(409, 503),  # deployment_in_progress; the deploy server did not answer
)
def destroy(id: ProjectId, caller: Manager) -> DeployStateEnvelope:
    return _answer(service.destroy_app, caller, id)


@router.put(
    "/api/projects/{id}/deploy/domain",
    response_model=DeployStateEnvelope,
    summary="Serve the app at a custom domain too (Pro and Enterprise); answers the DNS record to create",
    responses=errors(402, 409, 503),  # plan_limit_reached; not_deployed, domain_taken, deployment_in_progress
)
def set_domain(id: ProjectId, caller: Deployer, body: DomainBody) -> DeployStateEnvelope:
    with db.transaction() as conn:
        state = service.set_custom_domain(conn, caller, project_uuid(id), body.host)
    return DeployStateEnvelope(deploy=DeployState.model_validate(state))


@router.delete(
    "/api/projects/{id}/deploy/domain",
    response_model=DeployStateEnvelope,
    summary="Stop serving the app at its custom domain",
    responses=errors(503),
)
def remove_domain(id: ProjectId, caller: Deployer) -> DeployStateEnvelope:
    return _answer(service.remove_custom_domain, caller, id)
