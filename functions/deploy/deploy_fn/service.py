"""The deploy function's rules: accepting a deployment (version, database, one at a time, the tier's
limit), starting the state machine that carries it out, and reading deployments back.

Accepting runs in the route's transaction; the state machine is started after it commits (its first
step reads the deployment), and the execution is recorded in a transaction of its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from deploy_fn import queries
from mm_common import audit, deployments, snapshots, versions
from mm_common.auth import Caller, parse_uuid
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.deployments import Database, Kind
from mm_common.errors import Conflict, NotFound, PaymentRequired, ServiceUnavailable
from mm_common.observability import count, traced

SERVICE = "deploy"
NO_SUCH_PROJECT = "There is no such project, or you cannot see it."
NO_SUCH_DEPLOYMENT = "There is no such deployment, or you cannot see it."
IN_PROGRESS = "This project is being deployed right now. Wait until that deployment ends, then try again."
NOT_DEPLOYED = "This project has not been deployed yet: deploy it first."
NO_SUCH_ROLLBACK = "There is no successful deployment of this project with that id to roll back to."
LIMIT_REACHED = (
    "Your plan allows {limit} deployed project(s) per organization, and that many are deployed already. "
    "Upgrade the plan to deploy another one."
)
START_FAILED = "The deployment could not be started. Please try again in a moment."
VERSION_MESSAGE = "Snapshot for deployment"
LOG_PAGE = 1000


@contextmanager
def _one_active_deployment() -> Iterator[None]:
    """A second active deployment of a project, slipped past the check (the partial unique index
    ``uq_deployment_logs_one_active`` refused it): 409 ``deployment_in_progress``."""
    from psycopg.errors import UniqueViolation

    try:
        yield
    except UniqueViolation:
        raise Conflict(IN_PROGRESS, code="deployment_in_progress") from None


def _check_limit(conn: Connection, project: dict[str, Any]) -> None:
    """The tier's number of deployed projects per organization; the project itself may always redeploy."""
    tier = queries.lock_organization(conn, project["organization_id"])
    limits = get_settings().deploy_limits
    limit = limits.get(tier, limits.get("free"))
    if limit is None:
        return
    deployed = queries.deployed_projects(conn, project["organization_id"])
    if project["id"] not in deployed and len(deployed) >= limit:
        raise PaymentRequired(LIMIT_REACHED.format(limit=limit), details={"limit": limit})


def _version_to_deploy(conn: Connection, caller: Caller, project: dict[str, Any], version_id: Any) -> Any:
    """The version named, else the latest one when the working copy still equals it, else a new
    version snapshotting the working copy."""
    if version_id is not None:
        return versions.get_version(conn, project["id"], version_id)["id"]
    current_id = project["current_version_id"]
    if current_id is not None:
        current = versions.get_version(conn, project["id"], current_id)
        if snapshots.get_manifest(current["manifest_key"]) == queries.working_copy_manifest(conn, project["id"]):
            return current_id
    row = versions.create_version(
        conn, project["id"], source="user", message=VERSION_MESSAGE, created_by=caller.user_id
    )
    return row["id"]


@traced(SERVICE)
def accept(
    conn: Connection,
    caller: Caller,
    project_id: uuid.UUID,
    *,
    kind: Kind,
    version_id: uuid.UUID | None = None,
    database: Database | None = None,
    rollback_of: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A new ``pending`` deployment of the project (409 while another one is active, 402 over the
    tier's limit of deployed projects); its state machine is started by :func:`start`."""
    project = queries.lock_project(conn, project_id)
    if project is None:
        raise NotFound(NO_SUCH_PROJECT)
    if queries.active_deployment(conn, project_id) is not None:
        raise Conflict(IN_PROGRESS, code="deployment_in_progress")
    if kind == "update" and not queries.has_succeeded(conn, project_id):
        raise Conflict(NOT_DEPLOYED, code="not_deployed")
    if rollback_of is not None:
        past = queries.successful_deployment(conn, project_id, rollback_of)
        if past is None or past["version_id"] is None:
            raise NotFound(NO_SUCH_ROLLBACK)
        version_id = past["version_id"]
    _check_limit(conn, project)
    if database is not None and database != project["deploy_database"]:
        queries.set_deploy_database(conn, project_id, database)
    chosen = _version_to_deploy(conn, caller, project, version_id)
    with _one_active_deployment():
        row = deployments.create_deployment(
            conn,
            project_id=project_id,
            version_id=chosen,
            kind=kind,
            database=database or project["deploy_database"],
            triggered_by=caller.user_id,
        )
    audit.log(
        conn,
        caller,
        f"deployment.{kind}",
        resource_type="project",
        resource_id=project_id,
        details={"deploymentId": str(row["id"]), "versionId": str(chosen), "database": row["database"]},
    )
    count(SERVICE, "DeploymentAccepted")
    return row


@traced(SERVICE)
def start(caller: Caller, deployment: dict[str, Any]) -> str | None:
    """Start the state machine's execution of an accepted (committed) deployment; its ARN, or None
    when it could not be started. Named after the deployment, so a repeated start starts nothing twice."""
    from botocore.exceptions import BotoCoreError, ClientError

    from mm_common.aws import client

    try:
        started = client("stepfunctions").start_execution(
            stateMachineArn=get_settings().deploy_state_machine_arn,
            name=str(deployment["id"]),
            input=json.dumps({"deploymentId": str(deployment["id"])}),
        )
    except (BotoCoreError, ClientError):
        return None
    arn: str = started["executionArn"]
    return arn


@traced(SERVICE)
def record_start(conn: Connection, caller: Caller, deployment: dict[str, Any], arn: str | None) -> dict[str, Any]:
    """Record the execution started; a deployment whose execution could not start failed (503)."""
    if arn is None:
        deployments.mark_failed(conn, deployment["id"])
        count(SERVICE, "DeploymentNotStarted")
        raise ServiceUnavailable(START_FAILED)
    deployments.record_execution(conn, deployment["id"], arn)
    row = deployments.get_deployment(conn, deployment["id"])
    assert row is not None
    return row


@traced(SERVICE)
def list_deployments(
    conn: Connection, caller: Caller, project_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return queries.deployment_page(conn, project_id, limit=limit, cursor=cursor)


def _deployment(conn: Connection, raw_id: str) -> dict[str, Any]:
    deployment_id = parse_uuid(raw_id)
    row = deployments.get_deployment(conn, deployment_id) if deployment_id is not None else None
    if row is None:
        raise NotFound(NO_SUCH_DEPLOYMENT)
    return row


@traced(SERVICE)
def get_deployment(conn: Connection, caller: Caller, deployment_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A deployment and its step timeline."""
    row = _deployment(conn, deployment_id)
    return row, deployments.steps(conn, row["id"])


@traced(SERVICE)
def deployment_logs(
    conn: Connection, caller: Caller, deployment_id: str, since: int
) -> tuple[list[dict[str, Any]], str | None, int]:
    """Our log lines after ``since``, the build log, and the ``since`` of the next call."""
    row = _deployment(conn, deployment_id)
    lines = deployments.log_lines(conn, row["id"], since=since, limit=LOG_PAGE)
    return lines, row["build_log"], lines[-1]["seq"] if lines else since
