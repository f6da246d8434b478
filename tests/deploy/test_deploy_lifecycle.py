"""A deployed app's lifecycle through the gateway, against the Easypanel and Gitea emulators: its state, stop and
start, destroy, the custom domain with the DNS record to create, and what deleting the project cleans up.

Each test deploys a real app (the API starts the real state machine; its steps build a static site in the
emulator) and asserts what the user and the panel observe: the state the API answers, whether the app answers at
its host, which services and domains the panel holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.easypanel import EasypanelServer
from devstack.stack import LocalStack
from tests.conftest import wait_for_executions
from tests.projects.support import create_project
from tests.support.identity import Account, add_member, make_organization, make_user

STATE_KEYS = {
    "projectId", "state", "url", "serviceName", "database", "lastDeployedAt", "activeDeploymentId", "customDomain",
}  # fmt: skip


@pytest.fixture
def panel(stack: LocalStack) -> Iterator[EasypanelServer]:
    assert stack.easypanel is not None and stack.gitea is not None
    stack.easypanel.emulator.faults.clear()
    yield stack.easypanel
    stack.easypanel.emulator.faults.clear()


def deployed(client: TestClient, stack: LocalStack, user: Account, project: dict[str, Any]) -> dict[str, Any]:
    """Deploy the project through the API and wait for its execution to end; the deploy state after."""
    response = client.post(f"/api/projects/{project['id']}/deploy", json={"database": "postgres"}, headers=user.headers)
    assert response.status_code == 202, response.text
    wait_for_executions(stack)
    state = deploy_state(client, user, project)
    assert state["state"] == "live", state
    return state


def deploy_state(client: TestClient, user: Account, project: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/api/projects/{project['id']}/deploy", headers=user.headers)
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()["deploy"]
    assert set(state) == STATE_KEYS
    return state


def change(client: TestClient, user: Account, project: dict[str, Any], method: str, path: str, **body: Any) -> Any:
    return client.request(
        method, f"/api/projects/{project['id']}/deploy{path}", json=body or None, headers=user.headers
    )


def answers(panel: EasypanelServer, host: str) -> int:
    """The status the app's host answers with where the panel serves it."""
    return httpx.get(panel.emulator.app_url(host)).status_code


def services(panel: EasypanelServer) -> dict[str, tuple[str, bool]]:
    return {name: (s.type, s.enabled) for (_project, name), s in panel.emulator.services.items()}


def host_of(state: dict[str, Any]) -> str:
    return f"{state['serviceName']}.localhost"


@pytest.fixture
def project(client: TestClient, owner: Account, org: Any) -> dict[str, Any]:
    return create_project(client, owner, org, name="Shop", template="blank")


def test_a_project_never_deployed_has_no_app_to_stop_start_or_name(
    client: TestClient, owner: Account, project: dict[str, Any]
) -> None:
    state = deploy_state(client, owner, project)
    assert state["state"] == "not_deployed" and state["url"] is None and state["customDomain"] is None
    assert state["database"] == "postgres" and state["activeDeploymentId"] is None
    for path in ("/stop", "/start"):
        response = change(client, owner, project, "POST", path)
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "not_deployed"
    response = change(client, owner, project, "DELETE", "/domain")
    assert response.status_code == 404


def test_stop_and_start_the_app_and_its_database(
    client: TestClient, stack: LocalStack, panel: EasypanelServer, owner: Account, project: dict[str, Any],
    db: psycopg.Connection[Any],
) -> None:  # fmt: skip
    live = deployed(client, stack, owner, project)
    app = live["serviceName"]
    assert live["url"] and app in live["url"] and answers(panel, host_of(live)) == 200
    assert services(panel)[app] == ("app", True) and services(panel)[f"{app}-db"] == ("postgres", True)

    stopped = change(client, owner, project, "POST", "/stop")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["deploy"]["state"] == "stopped" and stopped.json()["deploy"]["url"] == live["url"]
    assert services(panel)[app] == ("app", False) and services(panel)[f"{app}-db"] == ("postgres", False)
    assert answers(panel, host_of(live)) == 502
    # Stopping again changes nothing and says the same.
    assert change(client, owner, project, "POST", "/stop").json()["deploy"]["state"] == "stopped"

    started = change(client, owner, project, "POST", "/start")
    assert started.status_code == 200, started.text
    assert started.json()["deploy"]["state"] == "live"
    assert services(panel)[app] == ("app", True) and services(panel)[f"{app}-db"] == ("postgres", True)
    assert answers(panel, host_of(live)) == 200
    actions = [row[0] for row in db.execute(
        "SELECT action FROM audit_logs WHERE resource_id = %s AND action LIKE 'deployment.%%' ORDER BY created_at",
        (project["id"],),
    ).fetchall()]  # fmt: skip
    assert actions[-3:] == ["deployment.stop", "deployment.stop", "deployment.start"]


def test_deploying_a_stopped_app_starts_it_again(
    client: TestClient, stack: LocalStack, panel: EasypanelServer, owner: Account, project: dict[str, Any]
) -> None:
    live = deployed(client, stack, owner, project)
    assert change(client, owner, project, "POST", "/stop").status_code == 200
    again = client.post(f"/api/projects/{project['id']}/deploy/update", headers=owner.headers)
    assert again.status_code == 202, again.text
    wait_for_executions(stack)
    assert deploy_state(client, owner, project)["state"] == "live"
    assert answers(panel, host_of(live)) == 200


def test_a_deploy_server_that_does_not_answer_is_503_and_changes_nothing(
    client: TestClient, stack: LocalStack, panel: EasypanelServer, owner: Account, project: dict[str, Any]
) -> None:
    live = deployed(client, stack, owner, project)
    panel.emulator.faults.fail_next("services.app.stopService", status=502, body="Bad Gateway")
    response = change(client, owner, project, "POST", "/stop")
    assert response.status_code == 503, response.text
    assert response.json()["error"]["message"] == "The deploy server did not answer. Please try again in a moment."
    assert deploy_state(client, owner, project)["state"] == "live" and answers(panel, host_of(live)) == 200


def test_destroy_removes_the_services_keeps_the_history_and_a_new_deploy_recreates_them(
    client: TestClient, stack: LocalStack, panel: EasypanelServer, owner: Account, project: dict[str, Any],
    db: psycopg.Connection[Any],
) -> None:  # fmt: skip
    live = deployed(client, stack, owner, project)
    app = live["serviceName"]

    destroyed = change(client, owner, project, "DELETE", "")
    assert destroyed.status_code == 200, destroyed.text
    state = destroyed.json()["deploy"]
    assert state["state"] == "not_deployed" and state["url"] is None
    assert app not in services(panel) and f"{app}-db" not in services(panel)
    assert answers(panel, host_of(live)) == 404
    history = client.get(f"/api/projects/{project['id']}/deployments", headers=owner.headers).json()["items"]
    assert [d["status"] for d in history] == ["success"]
    # Destroying what is gone already is no error.
    assert change(client, owner, project, "DELETE", "").json()["deploy"]["state"] == "not_deployed"

    # The destroyed project no longer counts against the Free plan's one deployed project.
    other = create_project(client, owner, project["organizationId"], name="Other", template="blank")
    db.execute("UPDATE organizations SET subscription_tier = 'free' WHERE id = %s", (project["organizationId"],))
    assert client.post(f"/api/projects/{other['id']}/deploy", headers=owner.headers).status_code == 202
    wait_for_executions(stack)
    db.execute("UPDATE organizations SET subscription_tier = 'pro' WHERE id = %s", (project["organizationId"],))

    again = deployed(client, stack, owner, project)
    assert again["serviceName"] == app and services(panel)[app] == ("app", True)
    assert answers(panel, host_of(again)) == 200


def test_a_custom_domain_on_the_pro_plan_answers_with_the_dns_record(
    client: TestClient, stack: LocalStack, panel: EasypanelServer, owner: Account, org: Any, project: dict[str, Any],
    db: psycopg.Connection[Any],
) -> None:  # fmt: skip
    live = deployed(client, stack, owner, project)
    app = live["serviceName"]

    db.execute("UPDATE organizations SET subscription_tier = 'free' WHERE id = %s", (org,))
    free = change(client, owner, project, "PUT", "/domain", host="shop.example.com")
    assert free.status_code == 402, free.text
    assert free.json()["error"]["code"] == "plan_limit_reached" and free.json()["error"]["details"]["tier"] == "free"

    db.execute("UPDATE organizations SET subscription_tier = 'pro' WHERE id = %s", (org,))
    for bad in ("not a host", "localhost", "192.168.0.1", f"x.{app}.localhost", "-bad.example.com", "a" * 300):
        response = change(client, owner, project, "PUT", "/domain", host=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] == "validation_failed"
    assert deploy_state(client, owner, project)["customDomain"] is None

    response = change(client, owner, project, "PUT", "/domain", host="Shop.Example.com.")
    assert response.status_code == 200, response.text
    domain = response.json()["deploy"]["customDomain"]
    assert domain == {
        "host": "shop.example.com",
        "url": "https://shop.example.com",
        "record": {"type": "CNAME", "name": "shop.example.com", "value": f"{app}.localhost"},
    }
    assert answers(panel, "shop.example.com") == 200 and answers(panel, host_of(live)) == 200

    # Another project may not take the host; replacing the domain frees the old host on the panel.
    other_org = make_organization(db, owner, name="Elsewhere")
    db.execute("UPDATE organizations SET subscription_tier = 'pro' WHERE id = %s", (other_org,))
    other = create_project(client, owner, other_org, name="Other", template="blank")
    deployed(client, stack, owner, other)
    taken = change(client, owner, other, "PUT", "/domain", host="shop.example.com")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "domain_taken"

    moved = change(client, owner, project, "PUT", "/domain", host="www.shop.example.com")
    assert moved.status_code == 200 and moved.json()["deploy"]["customDomain"]["host"] == "www.shop.example.com"
    assert answers(panel, "shop.example.com") == 404 and answers(panel, "www.shop.example.com") == 200

    removed = change(client, owner, project, "DELETE", "/domain")
    assert removed.status_code == 200 and removed.json()["deploy"]["customDomain"] is None
    assert answers(panel, "www.shop.example.com") == 404 and answers(panel, host_of(live)) == 200


def test_who_may_change_a_deployed_app(
    client: TestClient, stack: LocalStack, owner: Account, org: Any, project: dict[str, Any],
    db: psycopg.Connection[Any],
) -> None:  # fmt: skip
    deployed(client, stack, owner, project)
    viewer, deployer, stranger = make_user(db), make_user(db), make_user(db)
    add_member(db, org, viewer, "member", ["view", "edit"])
    add_member(db, org, deployer, "member", ["view", "deploy"])
    make_organization(db, stranger, name="Elsewhere")

    assert deploy_state(client, viewer, project)["state"] == "live"
    for method, path in (("POST", "/stop"), ("POST", "/start"), ("DELETE", ""), ("DELETE", "/domain")):
        assert change(client, viewer, project, method, path).status_code == 403, (method, path)
    assert change(client, viewer, project, "PUT", "/domain", host="a.example.com").status_code == 403
    for method, path in (("GET", ""), ("POST", "/stop"), ("DELETE", "")):
        assert change(client, stranger, project, method, path).status_code == 404, (method, path)

    # Deploy permission stops and starts; destroying needs manage.
    assert change(client, deployer, project, "POST", "/stop").status_code == 200
    assert change(client, deployer, project, "POST", "/start").status_code == 200
    assert change(client, deployer, project, "DELETE", "").status_code == 403
    assert deploy_state(client, owner, project)["state"] == "live"


def test_deleting_a_project_destroys_its_app_and_archives_its_repository(
    client: TestClient, stack: LocalStack, panel: EasypanelServer, owner: Account, project: dict[str, Any],
    db: psycopg.Connection[Any],
) -> None:  # fmt: skip
    live = deployed(client, stack, owner, project)
    app = live["serviceName"]
    row = db.execute("SELECT gitea_repo_full_name FROM projects WHERE id = %s", (project["id"],)).fetchone()
    assert row is not None and row[0]
    owner_name, repo_name = row[0].split("/")

    # Not while a deployment runs: it would create services after the clean-up destroyed them.
    db.execute("INSERT INTO deployment_logs (project_id, status) VALUES (%s, 'running') RETURNING id", (project["id"],))
    refused = client.delete(f"/api/projects/{project['id']}", headers=owner.headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "deployment_in_progress"
    db.execute(
        "UPDATE deployment_logs SET status = 'failed' WHERE project_id = %s AND status = 'running'", (project["id"],)
    )

    assert client.delete(f"/api/projects/{project['id']}", headers=owner.headers).status_code == 204
    for poller in stack.pollers["ProjectCleanupFunction"]:
        while poller.poll_once():  # earlier tests' deletions may fill the first batch
            pass
    assert app not in services(panel) and f"{app}-db" not in services(panel)
    assert answers(panel, host_of(live)) == 404
    assert stack.gitea is not None
    repository = httpx.get(
        f"{stack.gitea.url}/api/v1/repos/{owner_name}/{repo_name}",
        headers={"Authorization": f"token {next(iter(stack.gitea.emulator.tokens))}"},
    )
    assert repository.status_code == 200 and repository.json()["archived"] is True
