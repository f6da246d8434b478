"""The deploy function's rules: accepting a deployment (version, database, one at a time, the tier's
limit), starting the state machine that carries it out, and reading deployments back.

Accepting runs in the route's transaction; the state machine is started after it commits (its first
step reads the deployment), and the execution is recorded in a transaction of its own.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from deploy_fn import queries
from mm_common import audit, deployments, plans, snapshots, versions
from mm_common.auth import Caller, parse_uuid
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.deploy import services as deploy_services
from mm_common.deploy.errors import DeployServiceError, TransientError
from mm_common.deploy.services import ProjectServices
from mm_common.deployments import Database, Kind
from mm_common.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from mm_common.observability import count, for_service, traced

if TYPE_CHECKING:
    from mm_common.deploy.easypanel import EasypanelClient

SERVICE = "deploy"
obs = for_service(SERVICE)
NO_SUCH_PROJECT = "There is no such project, or you cannot see it."
NO_SUCH_DEPLOYMENT = "There is no such deployment, or you cannot see it."
IN_PROGRESS = "This project is being deployed right now. Wait until that deployment ends, then try again."
NOT_DEPLOYED = "This project has not been deployed yet: deploy it first."
NO_SUCH_ROLLBACK = "There is no successful deployment of this project with that id to roll back to."
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
    """The tier's number of deployed projects per organization; a project deployed already may always redeploy."""
    if project["id"] in queries.deployed_projects(conn, project["organization_id"]):
        return
    plans.check(conn, project["organization_id"], "deployments")


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


# --------------------------------------------------------------------------------------------- lifecycle
NOT_RUNNING = "This project has no deployed app: deploy it first."
DEPLOY_SERVER_BUSY = "The deploy server did not answer. Please try again in a moment."
DEPLOY_SERVER_REFUSED = "The deploy server refused the change. Please contact us."
DOMAIN_TAKEN = "Another project uses this domain already."
NO_CUSTOM_DOMAIN = "This project has no custom domain."
HOST_NAME = re.compile(r"(?=.{4,253}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})")


def _state(row: Mapping[str, Any]) -> str:
    if row["active_deployment_id"] is not None:
        return "deploying"
    if row["deployment_url"] is None:
        return "failed" if row["status"] == "error" else "not_deployed"
    if row["status"] == "error":
        return "failed"
    return "stopped" if row["deployment_stopped"] else "live"


def _state_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The project's deploy state as the API answers it; the custom domain with the DNS record to create."""
    custom: dict[str, Any] | None = None
    app = row["easypanel_app_id"]
    apps_domain = get_settings().apps_domain
    if row["custom_domain"] and app:
        host = row["custom_domain"]
        custom = {
            "host": host,
            "url": f"https://{host}",
            "record": {"type": "CNAME", "name": host, "value": f"{app}.{apps_domain}"},
        }
    return {
        "project_id": row["id"],
        "state": _state(row),
        "url": row["deployment_url"],
        "service_name": app,
        "database": row["deploy_database"],
        "last_deployed_at": row["last_deployed_at"],
        "active_deployment_id": row["active_deployment_id"],
        "custom_domain": custom,
    }


def _deploy_row(conn: Connection, project_id: uuid.UUID, *, lock: bool = False) -> dict[str, Any]:
    row = queries.deploy_row(conn, project_id, lock=lock)
    if row is None:
        raise NotFound(NO_SUCH_PROJECT)
    return row


def _running_app(row: Mapping[str, Any]) -> ProjectServices:
    """The project's services, when it has a deployed app and no deployment is changing it now."""
    if row["active_deployment_id"] is not None:
        raise Conflict(IN_PROGRESS, code="deployment_in_progress")
    found = ProjectServices.of(row)
    if found is None or row["deployment_url"] is None:
        raise Conflict(NOT_RUNNING, code="not_deployed")
    return found


@contextmanager
def _deploy_server() -> Iterator[EasypanelClient]:
    """The panel, its failures answered as 503 (the raw answer goes to the internal log only)."""
    try:
        with deploy_services.easypanel(get_settings()) as panel:
            yield panel
    except DeployServiceError as error:
        transient = isinstance(error, TransientError)
        obs.logger.warning(
            "deploy server call failed",
            extra={"error": error.message, "status": error.status, "detail": error.detail, "transient": transient},
        )
        count(SERVICE, "DeployServerFailure")
        raise ServiceUnavailable(DEPLOY_SERVER_BUSY if transient else DEPLOY_SERVER_REFUSED) from None


@traced(SERVICE)
def deploy_state(conn: Connection, caller: Caller, project_id: uuid.UUID) -> dict[str, Any]:
    return _state_of(_deploy_row(conn, project_id))


@traced(SERVICE)
def stop_app(conn: Connection, caller: Caller, project_id: uuid.UUID) -> dict[str, Any]:
    """The app stops answering and its database is disabled; nothing is deleted."""
    row = _deploy_row(conn, project_id, lock=True)
    found = _running_app(row)
    with _deploy_server() as panel:
        deploy_services.stop(panel, found)
    deployments.set_stopped(conn, project_id, True)
    audit.log(conn, caller, "deployment.stop", resource_type="project", resource_id=project_id)
    return _state_of(_deploy_row(conn, project_id))


@traced(SERVICE)
def start_app(conn: Connection, caller: Caller, project_id: uuid.UUID) -> dict[str, Any]:
    """The database is enabled again, then the app starts."""
    row = _deploy_row(conn, project_id, lock=True)
    found = _running_app(row)
    with _deploy_server() as panel:
        deploy_services.start(panel, found)
    deployments.set_stopped(conn, project_id, False)
    audit.log(conn, caller, "deployment.start", resource_type="project", resource_id=project_id)
    return _state_of(_deploy_row(conn, project_id))


@traced(SERVICE)
def destroy_app(conn: Connection, caller: Caller, project_id: uuid.UUID) -> dict[str, Any]:
    """The app and its database are destroyed on the deploy server; the history and the repository stay, and
    a later deploy creates them again under the same names."""
    row = _deploy_row(conn, project_id, lock=True)
    if row["active_deployment_id"] is not None:
        raise Conflict(IN_PROGRESS, code="deployment_in_progress")
    found = ProjectServices.of(row)
    destroyed: list[str] = []
    if found is not None:
        with _deploy_server() as panel:
            destroyed = deploy_services.destroy(panel, found)
    deployments.record_destroyed(conn, project_id)
    audit.log(
        conn,
        caller,
        "deployment.destroy",
        resource_type="project",
        resource_id=project_id,
        details={"services": destroyed},
    )
    return _state_of(_deploy_row(conn, project_id))


def _custom_host(value: str) -> str:
    """A host name the app may answer at: lowercase, a real public-looking name, not under the apps' domain."""
    host = value.strip().rstrip(".").lower()
    apps_domain = get_settings().apps_domain
    problem = None
    if not HOST_NAME.fullmatch(host):
        problem = "is not a host name like app.example.com"
    elif apps_domain and (host == apps_domain or host.endswith(f".{apps_domain}")):
        problem = f"is under {apps_domain}, where the platform names apps itself"
    if problem is not None:
        message = f"The host {problem}."
        raise Unprocessable(
            f"The request is not valid: {message[0].lower()}{message[1:]}",
            details=[{"field": "host", "in": "body", "message": message, "type": "invalid_host"}],
        )
    return host


@contextmanager
def _one_project_per_host() -> Iterator[None]:
    from psycopg.errors import UniqueViolation

    try:
        yield
    except UniqueViolation:
        raise Conflict(DOMAIN_TAKEN, code="domain_taken") from None


@traced(SERVICE)
def set_custom_domain(conn: Connection, caller: Caller, project_id: uuid.UUID, value: str) -> dict[str, Any]:
    """The app also answers at ``host`` (Pro and Enterprise); the answer says which DNS record to create.
    A previous custom domain is replaced."""
    host = _custom_host(value)
    row = _deploy_row(conn, project_id, lock=True)
    if not row["custom_domain"]:  # replacing a custom domain adds none
        plans.check(conn, row["organization_id"], "custom_domains")
    holder = queries.custom_domain_holder(conn, host)
    if holder is not None and holder != project_id:
        raise Conflict(DOMAIN_TAKEN, code="domain_taken")
    found = _running_app(row)
    previous = row["custom_domain"]
    with _deploy_server() as panel:
        if previous and previous != host:
            deploy_services.remove_domain(panel, found, previous)
        port = deploy_services.app_port(panel, found, f"{found.app}.{get_settings().apps_domain}")
        deploy_services.add_domain(panel, found, host=host, port=port)
    with _one_project_per_host():
        deployments.set_custom_domain(conn, project_id, host)
    audit.log(
        conn,
        caller,
        "deployment.domain.set",
        resource_type="project",
        resource_id=project_id,
        details={"host": host, "previous": previous},
    )
    return _state_of(_deploy_row(conn, project_id))


@traced(SERVICE)
def remove_custom_domain(conn: Connection, caller: Caller, project_id: uuid.UUID) -> dict[str, Any]:
    row = _deploy_row(conn, project_id, lock=True)
    host = row["custom_domain"]
    if not host:
        raise NotFound(NO_CUSTOM_DOMAIN)
    found = ProjectServices.of(row)
    if found is not None:
        with _deploy_server() as panel:
            deploy_services.remove_domain(panel, found, host)
    deployments.set_custom_domain(conn, project_id, None)
    audit.log(
        conn,
        caller,
        "deployment.domain.remove",
        resource_type="project",
        resource_id=project_id,
        details={"host": host},
    )
    return _state_of(_deploy_row(conn, project_id))
