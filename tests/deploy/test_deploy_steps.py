"""The real deploy state machine (infra/statemachines/deploy.asl.json) run by the local stack's Step
Functions against the Gitea and Easypanel emulators: a blank project (a plain index.html) goes live behind
a generated nginx Dockerfile; a second deployment creates nothing twice; a 503 at a step is retried; a
failing build ends the deployment ``failed`` with the spec's message and the build log."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.aws import client as aws_client
from devstack.easypanel import EasypanelServer
from devstack.gitea import GiteaServer
from devstack.stack import LocalStack
from tests.deploy.blob_reads import BlobReads
from tests.deploy.gitea_fixtures import clone, files_of
from tests.projects.support import create_project, put
from tests.support.identity import Account

FAILED_MESSAGE = "Deployment failed. Please contact us."
HAPPY_STEPS = [
    "Prepare",
    "PushToGitea",
    "EnsureDatabase",
    "EnsureApp",
    "ConfigureEnv",
    "TriggerBuild",
    "WaitForBuild",
    "HealthCheck",
    "MarkLive",
]


@pytest.fixture
def panel(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[EasypanelServer]:
    assert stack.easypanel is not None and stack.gitea is not None
    # Builds advance on each look (poll mode): no waiting between looks.
    monkeypatch.setenv("DEPLOY_POLL_SECONDS", "0")
    stack.easypanel.emulator.faults.clear()
    stack.gitea.emulator.faults.clear()
    yield stack.easypanel
    stack.easypanel.emulator.faults.clear()
    stack.gitea.emulator.faults.clear()


@pytest.fixture
def gitea(stack: LocalStack) -> GiteaServer:
    assert stack.gitea is not None
    return stack.gitea


def start_deployment(db: psycopg.Connection[Any], project: dict[str, Any], owner: Account) -> uuid.UUID:
    """A pending deployment of the project's current version, as the deploy API creates it."""
    row = db.execute(
        """
        INSERT INTO deployment_logs (project_id, version_id, kind, database, triggered_by)
        SELECT id, current_version_id, 'deploy', 'postgres', %s FROM projects WHERE id = %s
        RETURNING id
        """,
        (owner.id, project["id"]),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def run_machine(stack: LocalStack, deployment_id: uuid.UUID, timeout_s: float = 120) -> dict[str, Any]:
    assert stack.moto is not None
    sfn = aws_client("stepfunctions", stack.moto.endpoint)
    arn = sfn.start_execution(
        stateMachineArn=stack.outputs["DeployStateMachine"],
        name=str(uuid.uuid4()),
        input=json.dumps({"deploymentId": str(deployment_id)}),
    )["executionArn"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return dict(execution)
        time.sleep(0.05)  # polling an observable state, bounded by the deadline
    raise AssertionError("the deploy execution did not finish")


def deployment(db: psycopg.Connection[Any], deployment_id: uuid.UUID) -> dict[str, Any]:
    with db.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        row = cursor.execute("SELECT * FROM deployment_logs WHERE id = %s", (deployment_id,)).fetchone()
    assert row is not None
    return row


def project_row(db: psycopg.Connection[Any], project: dict[str, Any]) -> dict[str, Any]:
    with db.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        row = cursor.execute("SELECT * FROM projects WHERE id = %s", (project["id"],)).fetchone()
    assert row is not None
    return row


def timeline(db: psycopg.Connection[Any], deployment_id: uuid.UUID) -> list[tuple[str, str, int]]:
    rows = db.execute(
        "SELECT step, status, attempts FROM deployment_steps WHERE deployment_id = %s ORDER BY started_at, step",
        (deployment_id,),
    ).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def log_text(db: psycopg.Connection[Any], deployment_id: uuid.UUID) -> str:
    rows = db.execute(
        "SELECT line FROM deployment_log_lines WHERE deployment_id = %s ORDER BY seq", (deployment_id,)
    ).fetchall()
    return "\n".join(row[0] for row in rows)


def services_of(panel: EasypanelServer, project: str) -> list[tuple[str, str]]:
    services = panel.emulator.services.items()
    return sorted((name, service.type) for (owner, name), service in services if owner == project)


def test_a_static_site_goes_live_and_a_second_deployment_creates_nothing_twice(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    panel: EasypanelServer,
    gitea: GiteaServer,
    tmp_path: Path,
) -> None:
    project = create_project(client, owner, org, "Site", template="blank")
    first = start_deployment(db, project, owner)

    execution = run_machine(stack, first)

    assert execution["status"] == "SUCCEEDED", execution
    done = deployment(db, first)
    assert done["status"] == "success" and done["error_message"] is None
    assert done["dockerfile_generated"] is True and done["commit_sha"]
    assert [(step, status) for step, status, _ in timeline(db, first)] == [(s, "succeeded") for s in HAPPY_STEPS]

    row = project_row(db, project)
    app, ep_project = row["easypanel_app_id"], row["easypanel_project_id"]
    assert app and ep_project and row["easypanel_database_id"] == f"{app}-db"
    assert row["status"] == "deployed" and row["last_deployed_at"] is not None
    # The local stack's APP_URL: the app's own host name on the emulator's port (*.localhost is loopback).
    assert row["deployment_url"] == done["url"] == f"http://{app}.localhost:{urlsplit(panel.url).port}"
    assert row["database_secret"] is not None and "password" not in json.dumps(row["database_secret"])
    assert row["gitea_repo_full_name"]

    # The deployed commit is the repository's deploy branch: the version's files plus the generated ones; main
    # holds the versions only (one commit each, nothing generated).
    owner_name, repo_name = row["gitea_repo_full_name"].split("/")
    secret = next(iter(gitea.emulator.tokens))
    checkout = clone(gitea, owner_name, repo_name, tmp_path / "clone", token=secret, branch="deploy")
    files = files_of(checkout)
    assert "index.html" in files and b"nginx" in files["Dockerfile"] and b"try_files" in files["nginx.conf"]
    assert panel.emulator.deployed_commit(ep_project, app) == done["commit_sha"]
    versions_only = files_of(clone(gitea, owner_name, repo_name, tmp_path / "main", token=secret))
    assert "index.html" in versions_only and "Dockerfile" not in versions_only
    assert files == {**versions_only, "Dockerfile": files["Dockerfile"], "nginx.conf": files["nginx.conf"]}
    # The panel builds the deploy branch: a version mirrored to main meanwhile cannot change what it builds.
    assert panel.emulator.calls_to("services.app.updateSourceGit")[-1].input["ref"] == "deploy"

    # The app's environment: the database URL and NODE_ENV; the app answers where the panel serves it.
    env = panel.emulator.service_env(ep_project, app)
    assert f"@{ep_project}_{app}-db:5432/" in env and "NODE_ENV=production" in env
    assert httpx.get(panel.emulator.app_url(f"{app}.localhost")).status_code == 200
    log = log_text(db, first)
    assert "generated Dockerfile, nginx.conf" in log and "Live at" in log
    assert next(iter(gitea.emulator.tokens)) not in log + (done["build_log"] or "")

    # Deploying again reuses the repository, the services and the commit.
    history = commits(gitea, owner_name, repo_name, tmp_path / "before", branch="deploy")
    assert history[-1] == done["commit_sha"]
    gitea.emulator.requests.clear()
    second = start_deployment(db, project, owner)
    assert run_machine(stack, second)["status"] == "SUCCEEDED"
    again = deployment(db, second)
    assert again["status"] == "success" and again["commit_sha"] == done["commit_sha"]
    assert commits(gitea, owner_name, repo_name, tmp_path / "after", branch="deploy") == history
    assert services_of(panel, ep_project) == sorted([(app, "app"), (f"{app}-db", "postgres")])
    created = [c for c in panel.emulator.calls if c.procedure.endswith("createService")]
    assert len([c for c in created if c.input.get("serviceName") in (app, f"{app}-db")]) == 2
    # No repository created, no commit made: the recorded repository already holds the files.
    writes = [r.path for r in gitea.emulator.requests if r.method == "POST" and r.path.startswith("/api/")]
    assert writes == []


def commits(gitea: GiteaServer, owner: str, name: str, into: Path, *, branch: str = "main") -> list[str]:
    """The shas of ``branch``, oldest first, from a fresh clone."""
    checkout = clone(gitea, owner, name, into, token=next(iter(gitea.emulator.tokens)), branch=branch)
    out = subprocess.run(
        ["git", "-C", str(checkout), "log", "--reverse", "--format=%H"], check=True, capture_output=True, text=True
    ).stdout
    return out.split()


def test_a_503_at_a_step_is_retried_and_the_deployment_succeeds(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    panel: EasypanelServer,
    gitea: GiteaServer,
) -> None:
    project = create_project(client, owner, org, "Flaky", template="blank")
    deployment_id = start_deployment(db, project, owner)
    panel.emulator.faults.fail_next("services.app.updateEnv", status=503, body="<html>502 Bad Gateway</html>")
    gitea.emulator.faults.fail_next("POST", r"/contents$", status=503)

    execution = run_machine(stack, deployment_id)

    assert execution["status"] == "SUCCEEDED", execution
    steps = {step: (status, attempts) for step, status, attempts in timeline(db, deployment_id)}
    assert steps["ConfigureEnv"] == ("succeeded", 2)
    assert steps["PushToGitea"] == ("succeeded", 2)
    assert deployment(db, deployment_id)["status"] == "success"
    assert "Bad Gateway" not in log_text(db, deployment_id)


def test_a_failing_build_ends_failed_with_the_message_and_the_build_log(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    panel: EasypanelServer,
) -> None:
    project = create_project(client, owner, org, "Broken", template="blank")
    deployment_id = start_deployment(db, project, owner)
    panel.emulator.faults.fail_next_build("npm ERR! the build broke")

    execution = run_machine(stack, deployment_id)

    assert execution["status"] == "FAILED" and execution.get("error") == "DeploymentFailed"
    failed = deployment(db, deployment_id)
    assert failed["status"] == "failed" and failed["error_message"] == FAILED_MESSAGE
    assert "npm ERR! the build broke" in (failed["build_log"] or "")
    steps = {step: status for step, status, _ in timeline(db, deployment_id)}
    assert steps["WaitForBuild"] == "failed" and steps["MarkFailed"] == "succeeded" and "HealthCheck" not in steps
    assert project_row(db, project)["status"] == "error"

    # A re-deploy after the failure reuses what exists and goes live.
    retry = start_deployment(db, project, owner)
    assert run_machine(stack, retry)["status"] == "SUCCEEDED"
    row = project_row(db, project)
    assert row["status"] == "deployed"
    assert services_of(panel, row["easypanel_project_id"]).count((row["easypanel_app_id"], "app")) == 1


def test_a_permanent_refusal_ends_failed_at_its_step_without_retrying(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    panel: EasypanelServer,
) -> None:
    project = create_project(client, owner, org, "Refused", template="blank")
    deployment_id = start_deployment(db, project, owner)
    panel.emulator.faults.fail_next("services.app.updateBuild", "BAD_REQUEST", message="secret-ish panel answer")

    execution = run_machine(stack, deployment_id)

    assert execution["status"] == "FAILED" and execution.get("error") == "DeploymentFailed"
    failed = deployment(db, deployment_id)
    assert failed["status"] == "failed" and failed["error_message"] == FAILED_MESSAGE
    steps = {step: (status, attempts) for step, status, attempts in timeline(db, deployment_id)}
    assert steps["EnsureApp"] == ("failed", 1) and "TriggerBuild" not in steps
    log = log_text(db, deployment_id)
    assert "The deployment failed at EnsureApp." in log and "secret-ish panel answer" not in log
    assert project_row(db, project)["status"] == "error"


def test_a_database_that_does_not_answer_is_a_transient_error_the_machine_retries(
    stack: LocalStack, client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    from deploy_steps_fn import service as steps

    from mm_common.deploy.errors import TransientError

    project = create_project(client, owner, org, "Blip", template="blank")
    deployment_id = start_deployment(db, project, owner)

    def database_gone(step: Any) -> Any:
        raise psycopg.OperationalError("connection to server failed: Connection refused")

    assert stack.runtime is not None
    with pytest.raises(TransientError) as raised:
        stack.runtime.run_in_environment(
            lambda: steps.run("Prepare", database_gone, {"deploymentId": str(deployment_id)})
        )
    assert type(raised.value).__name__ == "TransientError"  # the name the machine's Retry matches
    assert timeline(db, deployment_id) == [("Prepare", "failed", 1)]


def test_an_update_after_a_one_file_edit_reads_only_that_file(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    panel: EasypanelServer,
    gitea: GiteaServer,
    tmp_path: Path,
) -> None:
    project = create_project(client, owner, org, "Many files", template="blank")
    for number in range(30):
        assert put(client, owner, project, f"pages/p{number:02}.html", f"<p>{number}</p>\n").status_code == 201
    assert client.post(f"/api/projects/{project['id']}/versions", headers=owner.headers).status_code == 201
    assert run_machine(stack, start_deployment(db, project, owner))["status"] == "SUCCEEDED"
    assert put(client, owner, project, "pages/p07.html", "<p>seven</p>\n").status_code == 200
    edited = client.post(f"/api/projects/{project['id']}/versions", headers=owner.headers)
    assert edited.status_code == 201

    reads = BlobReads()
    try:
        update = start_deployment(db, project, owner)
        assert run_machine(stack, update)["status"] == "SUCCEEDED"
    finally:
        reads.close()

    changed = client.get(f"/api/projects/{project['id']}/files/pages/p07.html", headers=owner.headers).json()
    assert {key.rsplit("/", 1)[-1] for key in reads.blobs()} == {changed["sha256"]}, reads.blobs()
    row = project_row(db, project)
    owner_name, repo_name = row["gitea_repo_full_name"].split("/")
    secret = next(iter(gitea.emulator.tokens))
    deployed = files_of(clone(gitea, owner_name, repo_name, tmp_path / "deploy", token=secret, branch="deploy"))
    assert deployed["pages/p07.html"] == b"<p>seven</p>\n" and deployed["pages/p08.html"] == b"<p>8</p>\n"
    assert (
        "Dockerfile" in deployed
        and deployment(db, update)["commit_sha"]
        == commits(gitea, owner_name, repo_name, tmp_path / "log", branch="deploy")[-1]
    )
