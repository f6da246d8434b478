"""The deploy state machine's steps (infra/statemachines/deploy.asl.json), one function each.

Every step is idempotent: it reads the deployment and its project afresh, reuses the names recorded on the
project (a name is recorded before the thing is created, so a crash in between never creates a second one),
and looks things up before creating them. Each invocation counts one attempt on the step's timeline row and
appends what the user may see to the deployment's log; raw Gitea/Easypanel answers go to the internal log
(CloudWatch) only, never secrets.

Errors: a `TransientError` (timeouts, 429, 5xx) leaves the Lambda with exactly that class name as its
errorType, so the machine's ``Retry: ["TransientError"]`` retries the step with backoff; anything else ends
in the machine's ``Catch`` → MarkFailed.

Git access for the panel: the app's source is the repository's HTTPS clone URL with the platform's Gitea
token as the password (not a per-service deploy key). The panel then reaches Gitea where this code does
(its web URL; no SSH port to open or expose), and nothing per service needs creating, rotating or cleaning
up; the token lives in the panel's service settings, which only operators see. An operator who wants
narrower access gives the platform a token of a Gitea user with read access to the organization's repos.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from deploy_steps_fn import queries
from mm_common import crypto, db, deployments, emails, snapshots, versions
from mm_common.config import Settings, get_settings, gitea_token
from mm_common.deploy import dockerfiles, repository, services
from mm_common.deploy.easypanel import (
    DatabaseService,
    EasypanelClient,
    database_identifier,
    derive_name,
    redact,
    unique_name,
    with_suffix,
)
from mm_common.deploy.errors import DeployServiceError, PermanentError, TransientError
from mm_common.deploy.gitea import GiteaClient
from mm_common.observability import count, for_service, traced

SERVICE = "deploy-steps"
obs = for_service(SERVICE)

HEALTHCHECK_TIMEOUT_S = 10.0
DATABASE_USER_SUFFIX = "_user"


def _env_int(name: str, default: int) -> int:
    try:
        return max(0, int(os.environ.get(name, "") or default))
    except ValueError:
        return default


def poll_seconds() -> int:
    """Seconds between two looks at a build or a health check (the local stack and tests use 0)."""
    return _env_int("DEPLOY_POLL_SECONDS", 5)


def max_build_polls() -> int:
    return _env_int("DEPLOY_MAX_BUILD_POLLS", 180)


def max_health_checks() -> int:
    return _env_int("DEPLOY_MAX_HEALTH_CHECKS", 24)


class DeploymentGone(Exception):
    """The deployment, its project or its version no longer exists: nothing to deploy."""


@dataclass
class Outcome:
    """What a step answers to the machine, and how its timeline row ends."""

    result: dict[str, Any] = field(default_factory=dict)
    status: deployments.StepStatus = "succeeded"
    detail: str | None = None


@dataclass
class Step:
    name: str
    deployment_id: uuid.UUID
    attempt: int
    context: dict[str, Any]
    event: Mapping[str, Any]
    settings: Settings

    def log(self, line: str) -> None:
        with db.transaction() as conn:
            deployments.append_log(conn, self.deployment_id, self.name, line)

    def record(self, **fields: Any) -> None:
        with db.transaction() as conn:
            deployments.record(conn, self.deployment_id, **fields)

    def record_project(self, **fields: Any) -> None:
        with db.transaction() as conn:
            deployments.record_project(conn, self.context["project_id"], **fields)
        self.context.update(fields)


StepFunction = Callable[[Step], Outcome]


# --------------------------------------------------------------------------------------------- running
@traced(SERVICE)
def run(name: str, function: StepFunction, event: Mapping[str, Any]) -> dict[str, Any]:
    """One invocation of step ``name``: counted on the timeline, ended there, errors logged and classified. The
    database not answering is transient too: the machine retries the step (every step is idempotent)."""
    from psycopg import OperationalError

    try:
        return _run(name, function, event)
    except OperationalError as error:
        obs.logger.warning("deploy step: the database did not answer", extra={"step": name, "error": str(error)})
        raise TransientError("the database did not answer", service="database") from error


def _run(name: str, function: StepFunction, event: Mapping[str, Any]) -> dict[str, Any]:
    deployment_id = uuid.UUID(str(event["deploymentId"]))
    with db.transaction() as conn:
        if deployments.get_deployment(conn, deployment_id) is None:
            raise DeploymentGone(f"deployment {deployment_id} does not exist")
        attempt = deployments.start_step(conn, deployment_id, name)
        context = queries.deployment_context(conn, deployment_id)
    assert context is not None
    step = Step(name, deployment_id, attempt, context, event, get_settings())
    try:
        outcome = function(step)
    except TransientError as error:
        _log_error(step, error, retrying=True)
        with db.transaction() as conn:
            deployments.end_step(conn, deployment_id, name, "running", "A service did not answer; trying again.")
        count(SERVICE, "TransientFailure")
        if type(error) is not TransientError:  # the machine retries on this exact error name
            raise TransientError(error.message, service=error.service, status=error.status) from error
        raise
    except Exception as error:
        _log_error(step, error, retrying=False)
        with db.transaction() as conn:
            deployments.end_step(conn, deployment_id, name, "failed", "This step failed.")
        raise
    with db.transaction() as conn:
        deployments.end_step(conn, deployment_id, name, outcome.status, outcome.detail)
    return outcome.result


def _log_error(step: Step, error: Exception, *, retrying: bool) -> None:
    extra: dict[str, Any] = {
        "deployment_id": str(step.deployment_id),
        "step": step.name,
        "attempt": step.attempt,
        "error_type": type(error).__name__,
        "error": str(error),
    }
    if isinstance(error, DeployServiceError):
        extra.update(deploy_service=error.service, status=error.status, detail=error.detail)
    if retrying:
        obs.logger.warning("deploy step failed; it will be retried", extra=extra)
    else:
        obs.logger.error("deploy step failed", extra=extra)


# --------------------------------------------------------------------------------------------- files
def _version_files(step: Step) -> repository.VersionFiles:
    context = step.context
    if context["version_id"] is None or context["manifest_key"] is None:
        raise DeploymentGone(f"the version of deployment {step.deployment_id} no longer exists")
    return repository.version_files(context["organization_id"], context["manifest_key"])


def prepare(step: Step) -> Outcome:
    """The version resolved; its build plan: the project's Dockerfile, or one generated for its type (added to
    the deployed commit only, and shown in the deployment)."""
    files = _version_files(step)
    plan = dockerfiles.plan(files)
    step.record(dockerfile_generated=plan.dockerfile_generated)
    step.log(f"Deploying version {step.context['version_number']} ({len(files)} files).")
    if plan.generated:
        step.log(
            f"The project has no Dockerfile: generated {', '.join(sorted(plan.generated))} for a {plan.type} app"
            " (added to the deployed commit only)."
        )
    else:
        step.log("Building with the project's own Dockerfile.")
    return Outcome({"pollSeconds": poll_seconds(), "port": plan.port, "appType": plan.type}, detail=plan.type)


def _repository(step: Step, gitea: GiteaClient) -> tuple[str, str]:
    context = step.context
    if context["gitea_repo_url"]:
        return repository.owner_and_name(context["gitea_repo_url"])
    ensured = repository.create_repository(
        gitea,
        step.settings.gitea_owner,
        {"id": context["project_id"], "slug": context["slug"], "organization_slug": context["organization_slug"]},
    )
    found = ensured.repository
    step.record_project(gitea_repo_id=found.id, gitea_repo_url=found.html_url, gitea_repo_full_name=found.full_name)
    step.log(f"{'Created' if ensured.created else 'Reusing'} the repository {found.full_name}.")
    return found.owner, found.name


def push_to_gitea(step: Step) -> Outcome:
    """The repository, every version up to this one not yet mirrored (the mirror's commits on main, in order),
    then the version with the generated files on the deploy branch; its head is the commit deployed."""
    context = step.context
    files = _version_files(step)
    plan = dockerfiles.plan(files)
    project_id = context["project_id"]
    with services.gitea(step.settings) as gitea:
        with db.transaction() as conn:
            queries.lock_repository(conn, project_id)
        try:
            owner, name = _repository(step, gitea)
            number = int(context["version_number"])
            with db.transaction() as conn:
                pending = versions.unmirrored_versions(conn, project_id, number)
                mirrored = repository.mirrored_baseline(conn, project_id, pending[0]["number"]) if pending else None
                previous = queries.previous_deployed_commit(conn, project_id, step.deployment_id)
            committed = repository.commit_versions(gitea, owner, name, context["organization_id"], pending, mirrored)
            version_commit = committed[-1].head if committed else context["gitea_commit_id"]
            message = f"Deploy version {context['version_number']}"
            if plan.generated:
                message += f": add the generated {', '.join(sorted(plan.generated))}"
            # Only what changed since the last deployment is read (or, for the first, since main's copy of the
            # version the new deploy branch starts from).
            baseline = (
                repository.Baseline(previous["commit_sha"], previous["manifest_key"])
                if previous is not None
                else repository.Baseline(version_commit, context["manifest_key"])
                if version_commit
                else None
            )
            deployed = files.with_extra(plan.generated)
            result = gitea.sync(
                owner,
                name,
                deployed,
                message=message,
                author=repository.author(context["author_name"], context["author_email"]),
                branch=repository.DEPLOY_BRANCH,
                base=repository.VERSIONS_BRANCH,
                unchanged=deployed.unchanged_since(snapshots.get_manifest(baseline.manifest_key)) if baseline else (),
                unchanged_since=baseline.commit if baseline else None,
            )
        finally:
            with db.transaction() as conn:
                queries.unlock_repository(conn, project_id)
    if result.head is None:
        raise PermanentError(f"Gitea repository {owner}/{name} has no commit", service="gitea")
    step.record(commit_sha=result.head)
    step.log(f"The repository's {repository.DEPLOY_BRANCH} branch is at {result.head[:12]}.")
    return Outcome({"commit": result.head}, detail=result.head[:12])


# --------------------------------------------------------------------------------------------- Easypanel
def _easypanel_project(step: Step, panel: EasypanelClient) -> str:
    """The organization's Easypanel project (one per organization), recorded on the project first."""
    context = step.context
    name = context["easypanel_project_id"]
    if not name:
        with db.transaction() as conn:
            name = queries.organization_easypanel_project(conn, context["organization_id"])
        name = name or derive_name(context["organization_slug"], fallback="org")
        step.record_project(easypanel_project_id=name)
    panel.ensure_project(name)
    return str(name)


def _app_name(step: Step, panel: EasypanelClient, project: str) -> str:
    """The app service's name: the recorded one, else ``<org>-<project>`` (-2, -3, … when taken), recorded
    before the service is created so a retry never makes a second one."""
    context = step.context
    if context["easypanel_app_id"]:
        return str(context["easypanel_app_id"])
    base = derive_name(context["organization_slug"], context["slug"])

    def taken(candidate: str) -> bool:
        with db.transaction() as conn:
            if queries.service_name_taken(conn, context["project_id"], candidate):
                return True
        return panel.find_service(project, candidate) is not None

    name = unique_name(base, taken)
    step.record_project(easypanel_app_id=name)
    return name


def _database_secret_context(project_id: Any) -> dict[str, str]:
    return {"projectId": str(project_id), "purpose": "database"}


def ensure_database(step: Step) -> Outcome:
    """Unless ``none``: the project's postgres/mariadb service, its effective credentials read back and kept
    sealed (KMS) on the project."""
    context = step.context
    kind = context["database"]
    if kind == "none":
        step.log("No database for this deployment.")
        return Outcome(detail="none")
    with services.easypanel(step.settings) as panel:
        project = _easypanel_project(step, panel)
        name = context["easypanel_database_id"]
        if not name:
            app = _app_name(step, panel, project)

            def taken(candidate: str) -> bool:
                with db.transaction() as conn:
                    if queries.service_name_taken(conn, context["project_id"], candidate):
                        return True
                return candidate == app or panel.find_service(project, candidate) is not None

            name = unique_name(with_suffix(app, "-db"), taken)
            step.record_project(easypanel_database_id=name)
        identifier = database_identifier(context["slug"])
        service = panel.ensure_database(
            kind, project, name, database_name=identifier, user=f"{identifier[:58]}{DATABASE_USER_SUFFIX}"
        )
        if not service.enabled:  # the project was stopped: deploying starts it again
            panel.enable_database(kind, project, name)
    credentials = {
        "type": service.type,
        "project": service.project_name,
        "service": service.name,
        "database": service.database_name,
        "user": service.user,
        "password": service.password,
    }
    sealed = crypto.seal(json.dumps(credentials), _database_secret_context(context["project_id"]))
    step.record_project(database_secret=sealed)
    step.log(f"The {kind} database {service.name} is ready.")
    return Outcome(detail=f"{kind} {service.name}")


def _clone_url(settings: Settings, repo_url: str) -> str:
    """The repository's HTTPS clone URL with the platform's token as the password (see the module docstring)."""
    parts = urlsplit(f"{repo_url.rstrip('/')}.git")
    netloc = f"git:{gitea_token(settings)}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _host(step: Step, app: str) -> str:
    if not step.settings.apps_domain:
        raise PermanentError("APPS_DOMAIN is not set: the app would have no address", service="easypanel")
    return f"{app}.{step.settings.apps_domain}"


def ensure_app(step: Step) -> Outcome:
    """The organization's Easypanel project, the app service building the repository's deploy branch with its
    Dockerfile, and its domain ``<service>.<APPS_DOMAIN>`` on the app's port."""
    context = step.context
    if not context["gitea_repo_url"]:
        raise PermanentError("the project has no repository yet", service="gitea")
    port = int(step.event.get("port") or 80)
    with services.easypanel(step.settings) as panel:
        project = _easypanel_project(step, panel)
        app = _app_name(step, panel, project)
        if not panel.ensure_app(project, app).enabled:  # the project was stopped: deploying starts it again
            panel.start_app(project, app)
        clone_url = _clone_url(step.settings, context["gitea_repo_url"])
        panel.update_source_git(project, app, repo=clone_url, ref=repository.DEPLOY_BRANCH)
        panel.update_build_dockerfile(project, app)
        host = _host(step, app)
        panel.ensure_domain(project, app, host=host, port=port, https=True)
    url = step.settings.deployed_app_url.replace("{host}", host)
    step.record(url=url, easypanel_service=app)
    step.log(f"The app {app} builds from the repository's {repository.DEPLOY_BRANCH} branch and answers at {url}.")
    return Outcome({"host": host}, detail=app)


def _names(step: Step) -> tuple[str, str]:
    context = step.context
    if not context["easypanel_project_id"] or not context["easypanel_app_id"]:
        raise PermanentError("the project has no Easypanel app yet", service="easypanel")
    return str(context["easypanel_project_id"]), str(context["easypanel_app_id"])


def _database_url(context: Mapping[str, Any]) -> str | None:
    if context["database"] == "none" or not context["database_secret"]:
        return None
    stored = json.loads(crypto.unseal(context["database_secret"], _database_secret_context(context["project_id"])))
    return DatabaseService(
        project_name=stored["project"],
        name=stored["service"],
        type=stored["type"],
        enabled=True,
        image="",
        database_name=stored["database"],
        user=stored["user"],
        password=stored["password"],
    ).connection_url()


def configure_env(step: Step) -> Outcome:
    """The app's environment: the project's variables (decrypted only here), DATABASE_URL, NODE_ENV."""
    context = step.context
    project, app = _names(step)
    sealed: Mapping[str, Any] = context["environment_variables"] or {}
    env = {
        name: crypto.unseal(value, crypto.variable_context(context["project_id"], name))
        for name, value in sealed.items()
    }
    database_url = _database_url(context)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env["NODE_ENV"] = "production"
    with services.easypanel(step.settings) as panel:
        panel.update_env(project, app, env)
    step.log(f"Set the app's environment: {', '.join(sorted(env))}.")
    return Outcome(detail=f"{len(env)} variables")


def trigger_build(step: Step) -> Outcome:
    """``deployService``, once per deployment: the action it started is recorded for WaitForBuild."""
    project, app = _names(step)
    if step.context["build_action_id"]:
        return Outcome(detail="started")
    with services.easypanel(step.settings) as panel:
        action = panel.deploy(project, app)
    step.record(build_action_id=action.id if action is not None else None)
    step.log("The build started.")
    return Outcome(detail="started")


def _secrets(step: Step) -> list[str]:
    return [value for value in (gitea_token(step.settings),) if value]


def wait_for_build(step: Step) -> Outcome:
    """One look at the build: ``{"done", "failed", "exhausted"}``; its log is kept on the deployment."""
    project, app = _names(step)
    with services.easypanel(step.settings) as panel:
        action_id = step.context["build_action_id"]
        if not action_id:
            latest = panel.latest_action(project, app, type="deploy")
            if latest is None:
                raise TransientError("the build is not listed yet", service="easypanel")
            action_id = latest.id
            step.record(build_action_id=action_id)
        action = panel.get_action(action_id)
    if action.log is not None:
        step.record(build_log=redact(action.log, _secrets(step)))
    if action.finished:
        if action.failed:
            step.log("The build failed.")
            return Outcome({"done": True, "failed": True, "exhausted": False}, "failed", "The build failed.")
        step.log("The build finished.")
        return Outcome({"done": True, "failed": False, "exhausted": False}, detail="built")
    exhausted = step.attempt >= max_build_polls()
    if exhausted:
        step.log("The build took too long.")
        return Outcome({"done": False, "failed": False, "exhausted": True}, "failed", "The build took too long.")
    return Outcome({"done": False, "failed": False, "exhausted": False}, "running", "Building…")


def health_check(step: Step) -> Outcome:
    """One look at the app: 2xx/3xx at APP_HEALTHCHECK_URL for its host → ``{"healthy": true}``."""
    url = step.context["url"] or ""
    host = urlsplit(url).hostname or ""
    target = step.settings.app_healthcheck_url.replace("{host}", host)
    status: int | None = None
    try:
        status = httpx.get(target, timeout=HEALTHCHECK_TIMEOUT_S, follow_redirects=False).status_code
    except httpx.HTTPError as error:
        obs.logger.info("health check did not connect", extra={"target": target, "error": type(error).__name__})
    if status is not None and 200 <= status < 400:
        step.log(f"The app answers at {url}.")
        return Outcome({"healthy": True, "exhausted": False}, detail=f"HTTP {status}")
    if step.attempt >= max_health_checks():
        step.log("The app did not answer in time.")
        return Outcome({"healthy": False, "exhausted": True}, "failed", "The app did not answer.")
    return Outcome({"healthy": False, "exhausted": False}, "running", "Waiting for the app to answer…")


def mark_live(step: Step) -> Outcome:
    """The deployment ``success``, the project ``deployed`` at its URL; the user who started it gets an e-mail."""
    context = step.context
    url = context["url"]
    with db.transaction() as conn:
        marked = deployments.mark_live(conn, step.deployment_id, url)
    if marked is None:
        return Outcome(detail="already ended")
    step.log(f"Live at {url}.")
    count(SERVICE, "DeploymentLive")
    if context["triggered_by_email"]:
        try:
            emails.send_deployment_live(context["triggered_by_email"], context["project_name"], url)
        except Exception:  # the deployment is live whether or not the e-mail goes
            obs.logger.exception("the deployment e-mail was not sent", extra={"deployment_id": str(step.deployment_id)})
    return Outcome({"url": url}, detail=url)


FailureKind = Literal["BuildFailed", "BuildTimedOut", "Unhealthy"]


def mark_failed(step: Step) -> Outcome:
    """From the machine's Catch (or a failed build): the deployment ``failed`` with the spec's message (and the
    build log when the build failed), the project ``error``. The error itself goes to the internal log only."""
    error = step.event.get("error") or {}
    name = str(error.get("Error") or "Unknown")
    obs.logger.error(
        "deployment failed",
        extra={"deployment_id": str(step.deployment_id), "error": name, "cause": str(error.get("Cause") or "")[:4000]},
    )
    with db.transaction() as conn:
        deployments.fail_running_steps(conn, step.deployment_id)
        timeline = deployments.steps(conn, step.deployment_id)
        marked = deployments.mark_failed(conn, step.deployment_id)
    failed_steps = [s["step"] for s in timeline if s["status"] == "failed" and s["step"] != step.name]
    if marked is not None:
        where = f" at {failed_steps[-1]}" if failed_steps else ""
        step.log(f"The deployment failed{where}. {deployments.FAILED_MESSAGE}")
        count(SERVICE, "DeploymentFailed")
    return Outcome({"failed": True}, detail=name if name in ("BuildFailed", "BuildTimedOut", "Unhealthy") else None)
