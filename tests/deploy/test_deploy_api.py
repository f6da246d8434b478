"""The deploy API through the gateway: accepting a deployment (which version, which database, one at
a time, the plan's limit) starts the deploy state machine; history, the step timeline and the logs read
back what the steps recorded. Who may do what follows the permission table; other tenants see nothing.

Deployments in other states than the one a request makes (live, failed, with steps and log lines) are
set up with SQL, as the state machine's steps would leave them."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.aws import client as aws_client
from devstack.stack import LocalStack
from tests.projects.support import create_project, put
from tests.support.identity import Account, add_member, make_organization, make_user

FAILED_MESSAGE = "Deployment failed. Please contact us."


def deploy(client: TestClient, user: Account, project: dict[str, Any], suffix: str = "", **body: Any) -> Any:
    return client.post(f"/api/projects/{project['id']}/deploy{suffix}", json=body or None, headers=user.headers)


def set_tier(db: psycopg.Connection[Any], org: Any, tier: str) -> None:
    db.execute("UPDATE organizations SET subscription_tier = %s WHERE id = %s", (tier, org))


def past_deployment(
    db: psycopg.Connection[Any],
    project: dict[str, Any],
    status: str = "success",
    *,
    started_at: datetime | None = None,
    version_id: Any = None,
    error_message: str | None = None,
) -> uuid.UUID:
    """A deployment as the state machine leaves it (ended, unless pending/running)."""
    started = started_at or datetime.now(UTC) - timedelta(hours=1)
    ended = None if status in ("pending", "running") else started + timedelta(minutes=2)
    row = db.execute(
        """
        INSERT INTO deployment_logs (project_id, version_id, status, started_at, completed_at, error_message, url)
        VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id
        """,
        (
            project["id"],
            version_id or project["currentVersionId"],
            status,
            started,
            ended,
            error_message,
            "https://app.example.test" if status == "success" else None,
        ),
    ).fetchone()
    assert row is not None
    if status == "success":  # as MarkLive leaves the project
        db.execute(
            "UPDATE projects SET status = 'deployed', deployment_url = %s WHERE id = %s",
            ("https://app.example.test", project["id"]),
        )
    return row[0]  # type: ignore[no-any-return]


def end(db: psycopg.Connection[Any], deployment_id: Any, status: str = "failed") -> None:
    """End a deployment (as MarkLive/MarkFailed would), so the project may deploy again."""
    db.execute("UPDATE deployment_logs SET status = %s, completed_at = now() WHERE id = %s", (status, deployment_id))


def counts(db: psycopg.Connection[Any], project: dict[str, Any]) -> Any:
    return db.execute(
        """
        SELECT (SELECT count(*) FROM deployment_logs WHERE project_id = %(p)s),
               (SELECT count(*) FROM project_versions WHERE project_id = %(p)s),
               (SELECT deploy_database FROM projects WHERE id = %(p)s)
        """,
        {"p": project["id"]},
    ).fetchone()


@pytest.fixture
def project(client: TestClient, owner: Account, org: Any) -> dict[str, Any]:
    return create_project(client, owner, org, template="blank")


# ------------------------------------------------------------------------------------ deploy
def test_deploy_answers_202_and_starts_the_state_machine(
    client: TestClient, stack: LocalStack, owner: Account, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    response = deploy(client, owner, project)
    assert response.status_code == 202, response.text
    deployment = response.json()["deployment"]
    assert deployment["projectId"] == project["id"]
    assert deployment["kind"] == "deploy" and deployment["database"] == "postgres"
    # The working copy is the template's version: deployed as it is, no new version.
    assert deployment["versionId"] == project["currentVersionId"]
    assert deployment["triggeredBy"] == str(owner.id)
    assert deployment["errorMessage"] is None and deployment["completedAt"] is None
    assert set(deployment) == {
        "id", "projectId", "versionId", "status", "kind", "database", "commitSha", "url",
        "dockerfileGenerated", "errorMessage", "startedAt", "completedAt", "triggeredBy",
    }  # fmt: skip

    arn = db.execute("SELECT execution_arn FROM deployment_logs WHERE id = %s", (deployment["id"],)).fetchone()
    assert arn is not None and arn[0]
    sfn = aws_client("stepfunctions", stack.moto.endpoint)
    execution = sfn.describe_execution(executionArn=arn[0])
    assert execution["stateMachineArn"] == stack.outputs["DeployStateMachine"]
    assert execution["name"] == deployment["id"]
    assert json.loads(execution["input"]) == {"deploymentId": deployment["id"]}


def test_deploy_snapshots_a_changed_working_copy_and_remembers_the_database(
    client: TestClient, owner: Account, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    assert put(client, owner, project, "src/new.txt", "hello\n").status_code == 201
    first = deploy(client, owner, project, database="mariadb")
    assert first.status_code == 202, first.text
    deployment = first.json()["deployment"]
    assert deployment["database"] == "mariadb"
    assert deployment["versionId"] != project["currentVersionId"]
    latest = client.get(f"/api/projects/{project['id']}/versions?limit=1", headers=owner.headers).json()["items"][0]
    assert latest["id"] == deployment["versionId"]
    files = client.get(f"/api/projects/{project['id']}/versions/{latest['id']}", headers=owner.headers).json()
    assert "src/new.txt" in {f["path"] for f in files["files"]}

    end(db, deployment["id"])
    again = deploy(client, owner, project)
    assert again.status_code == 202, again.text
    # Nothing changed since: the same version; the database as remembered.
    assert again.json()["deployment"]["versionId"] == deployment["versionId"]
    assert again.json()["deployment"]["database"] == "mariadb"


def test_deploy_of_a_named_version(
    client: TestClient, owner: Account, org: Any, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    put(client, owner, project, "a.txt", "a\n")
    response = deploy(client, owner, project, versionId=project["currentVersionId"], database="none")
    assert response.status_code == 202, response.text
    assert response.json()["deployment"]["versionId"] == project["currentVersionId"]
    assert response.json()["deployment"]["database"] == "none"
    end(db, response.json()["deployment"]["id"])

    set_tier(db, org, "enterprise")
    other = create_project(client, owner, org, name="Other", template="blank")
    before = counts(db, project)
    response = deploy(client, owner, project, versionId=other["currentVersionId"])
    assert response.status_code == 404, response.text
    assert counts(db, project) == before


def test_a_second_deploy_while_one_is_active_is_409(
    client: TestClient, owner: Account, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    active = past_deployment(db, project, "running")
    for suffix, body in (("", {}), ("/update", {}), ("/rollback", {"deploymentId": str(active)})):
        response = deploy(client, owner, project, suffix, **body)
        assert response.status_code == 409, (suffix, response.text)
        assert response.json()["error"]["code"] == "deployment_in_progress"
    assert counts(db, project)[0] == 1


def test_the_free_plan_deploys_one_project(
    client: TestClient, owner: Account, org: Any, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    set_tier(db, org, "pro")
    deployed = create_project(client, owner, org, name="Live", template="blank")
    past_deployment(db, deployed, "success")
    set_tier(db, org, "free")  # two projects from a time it was Pro; one deployed
    before = counts(db, project)
    response = deploy(client, owner, project)
    assert response.status_code == 402, response.text
    error = response.json()["error"]
    assert error["code"] == "plan_limit_reached"
    assert error["details"] == {"limit": 1, "used": 1, "tier": "free", "resource": "deployments"}
    assert counts(db, project) == before

    # The project already deployed may deploy again; a Pro organization may deploy more.
    assert deploy(client, owner, deployed).status_code == 202
    set_tier(db, org, "pro")
    assert deploy(client, owner, project).status_code == 202


def test_update_needs_an_earlier_successful_deployment(
    client: TestClient, owner: Account, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    past_deployment(db, project, "failed")
    response = deploy(client, owner, project, "/update")
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "not_deployed"

    past_deployment(db, project, "success")
    response = deploy(client, owner, project, "/update")
    assert response.status_code == 202, response.text
    assert response.json()["deployment"]["kind"] == "update"


def test_rollback_redeploys_the_version_of_a_past_successful_deployment(
    client: TestClient, owner: Account, org: Any, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    first_version = project["currentVersionId"]
    good = past_deployment(db, project, "success")
    put(client, owner, project, "b.txt", "b\n")
    newer = client.post(f"/api/projects/{project['id']}/versions", json={}, headers=owner.headers).json()["version"]
    failed = past_deployment(db, project, "failed", version_id=newer["id"])
    set_tier(db, org, "enterprise")
    other = create_project(client, owner, org, name="Other", template="blank")
    elsewhere = past_deployment(db, other, "success")

    for refused in (failed, elsewhere, uuid.uuid4()):
        response = deploy(client, owner, project, "/rollback", deploymentId=str(refused))
        assert response.status_code == 404, response.text
    response = deploy(client, owner, project, "/rollback", deploymentId=str(good))
    assert response.status_code == 202, response.text
    assert response.json()["deployment"]["kind"] == "rollback"
    assert response.json()["deployment"]["versionId"] == first_version


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        ("", {"database": "oracle"}),
        ("", {"versionId": "not-a-version"}),
        ("", {"unknown": 1}),
        ("/update", {"database": "sqlite"}),
        ("/rollback", {}),
        ("/rollback", {"deploymentId": "nope"}),
    ],
)
def test_a_bad_body_is_422_and_changes_nothing(
    client: TestClient,
    owner: Account,
    project: dict[str, Any],
    db: psycopg.Connection[Any],
    suffix: str,
    body: dict[str, Any],
) -> None:
    past_deployment(db, project, "success")
    before = counts(db, project)
    response = client.post(f"/api/projects/{project['id']}/deploy{suffix}", json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert counts(db, project) == before


# ------------------------------------------------------------------------------------ who may
def test_who_may_deploy_and_read(
    client: TestClient, owner: Account, org: Any, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    deployment = past_deployment(db, project, "success")
    viewer, member, deployer, outsider = (make_user(db) for _ in range(4))
    add_member(db, org, viewer, "viewer", ["view"])
    add_member(db, org, member, "member", ["view", "edit"])
    add_member(db, org, deployer, "member", ["view", "deploy"])
    make_organization(db, outsider, name="Elsewhere")
    reads = [
        f"/api/projects/{project['id']}/deployments",
        f"/api/deployments/{deployment}",
        f"/api/deployments/{deployment}/logs",
    ]
    for user in (viewer, member):
        assert deploy(client, user, project).status_code == 403
        assert deploy(client, user, project, "/update").status_code == 403
        for url in reads:
            assert client.get(url, headers=user.headers).status_code == 200, url
    for url in reads:
        response = client.get(url, headers=outsider.headers)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    response = deploy(client, outsider, project)
    assert response.status_code == 404 and counts(db, project)[0] == 1
    assert deploy(client, deployer, project, "/update").status_code == 202


def test_unknown_or_malformed_deployment_ids_are_404(client: TestClient, owner: Account) -> None:
    for url in (f"/api/deployments/{uuid.uuid4()}", "/api/deployments/nope", f"/api/deployments/{uuid.uuid4()}/logs"):
        response = client.get(url, headers=owner.headers)
        assert response.status_code == 404, url


# ------------------------------------------------------------------------------------ reading
def test_history_is_newest_first_in_pages(
    client: TestClient, owner: Account, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    now = datetime.now(UTC)
    ids = [past_deployment(db, project, "success", started_at=now - timedelta(hours=h)) for h in (3, 2, 1)]
    url = f"/api/projects/{project['id']}/deployments"
    first = client.get(url, params={"limit": 2}, headers=owner.headers).json()
    assert [d["id"] for d in first["items"]] == [str(ids[2]), str(ids[1])]
    assert first["nextCursor"]
    second = client.get(url, params={"limit": 2, "cursor": first["nextCursor"]}, headers=owner.headers).json()
    assert [d["id"] for d in second["items"]] == [str(ids[0])] and second["nextCursor"] is None
    bad = client.get(url, params={"cursor": "garbage"}, headers=owner.headers)
    assert bad.status_code == 422


def test_a_deployment_with_its_step_timeline(
    client: TestClient, owner: Account, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=10)
    deployment = past_deployment(db, project, "failed", started_at=started, error_message="raw: 500 from panel")
    steps = [
        ("PushToGitea", "succeeded", 2, 2, None),
        ("Prepare", "succeeded", 1, 1, "Generated a Dockerfile for a Vite app"),
        ("EnsureDatabase", "failed", 3, 3, None),
    ]
    for step, status, minute, attempts, detail in steps:
        db.execute(
            """
            INSERT INTO deployment_steps (deployment_id, step, status, started_at, ended_at, attempts, detail)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            """,
            (
                deployment,
                step,
                status,
                started + timedelta(minutes=minute),
                started + timedelta(minutes=minute, seconds=30),
                attempts,
                detail,
            ),
        )
    response = client.get(f"/api/deployments/{deployment}", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deployment"]["id"] == str(deployment) and body["deployment"]["status"] == "failed"
    # Whatever went wrong, the user reads the same message.
    assert body["deployment"]["errorMessage"] == FAILED_MESSAGE
    assert [(s["step"], s["status"], s["attempts"]) for s in body["steps"]] == [
        ("Prepare", "succeeded", 1),
        ("PushToGitea", "succeeded", 2),
        ("EnsureDatabase", "failed", 3),
    ]
    assert body["steps"][0]["detail"] == "Generated a Dockerfile for a Vite app"
    assert body["steps"][0]["startedAt"].endswith("Z") and body["steps"][0]["endedAt"]


def test_logs_follow_from_a_sequence_number(
    client: TestClient, owner: Account, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    deployment = past_deployment(db, project, "running")
    url = f"/api/deployments/{deployment}/logs"
    empty = client.get(url, headers=owner.headers).json()
    assert empty == {"lines": [], "buildLog": None, "next": 0}

    for step, line in (("Prepare", "resolving version"), ("PushToGitea", "pushed abc123")):
        db.execute(
            "INSERT INTO deployment_log_lines (deployment_id, step, line) VALUES (%s, %s, %s)", (deployment, step, line)
        )
    db.execute("UPDATE deployment_logs SET build_log = 'npm run build\nok' WHERE id = %s", (deployment,))
    first = client.get(url, headers=owner.headers).json()
    assert [(line["step"], line["line"]) for line in first["lines"]] == [
        ("Prepare", "resolving version"),
        ("PushToGitea", "pushed abc123"),
    ]
    assert first["buildLog"] == "npm run build\nok"
    assert first["next"] == first["lines"][-1]["seq"]

    db.execute(
        "INSERT INTO deployment_log_lines (deployment_id, step, line) VALUES (%s, 'EnsureApp', 'service ready')",
        (deployment,),
    )
    following = client.get(url, params={"since": first["next"]}, headers=owner.headers).json()
    assert [line["line"] for line in following["lines"]] == ["service ready"]
    assert following["next"] > first["next"]
    assert client.get(url, params={"since": -1}, headers=owner.headers).status_code == 422


def test_the_maintenance_ends_a_deployment_whose_execution_died(
    client: TestClient, stack: LocalStack, owner: Account, project: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    recent = past_deployment(db, project, "running", started_at=datetime.now(UTC) - timedelta(minutes=10))
    assert stack.scheduler is not None
    assert stack.scheduler.run_now("MaintenanceFunction")["tasks"]["deployments"]["failed"] == 0
    db.execute("UPDATE deployment_logs SET started_at = now() - interval '3 hours' WHERE id = %s", (recent,))

    assert stack.scheduler.run_now("MaintenanceFunction")["tasks"]["deployments"]["failed"] == 1

    ended = client.get(f"/api/deployments/{recent}", headers=owner.headers).json()["deployment"]
    assert ended["status"] == "failed" and ended["errorMessage"] == FAILED_MESSAGE
    lines = client.get(f"/api/deployments/{recent}/logs", headers=owner.headers).json()["lines"]
    assert lines[-1]["line"] == f"The deployment stopped answering and was ended. {FAILED_MESSAGE}"
    assert deploy(client, owner, project).status_code == 202
