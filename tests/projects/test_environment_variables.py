"""Environment variables: sealed at rest, never in a project's body (names only, for everyone),
each value revealed by a call of its own that is permission-checked, audited and not cached."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from tests.projects.support import create_project
from tests.support.identity import Account, add_member, make_organization, make_user


@pytest.fixture
def api(client: TestClient) -> TestClient:
    return client


def set_variables(api: TestClient, owner: Account, project: dict[str, Any], variables: dict[str, Any]) -> Any:
    return api.patch(f"/api/projects/{project['id']}", json={"environmentVariables": variables}, headers=owner.headers)


def reveal(api: TestClient, user: Account, project: dict[str, Any], name: str) -> Any:
    return api.get(f"/api/projects/{project['id']}/environment-variables/{name}", headers=user.headers)


def test_values_are_sealed_and_no_project_body_carries_them(
    api: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    project = create_project(api, owner, org, template="blank")
    response = set_variables(api, owner, project, {"API_TOKEN": "s3cr3t-value", "MODE": "prod"})
    assert response.status_code == 200, response.text
    expected = [{"name": "API_TOKEN", "set": True}, {"name": "MODE", "set": True}]
    # The manager who set them sees names only, in the PATCH answer as everywhere else.
    assert response.json()["project"]["environmentVariables"] == expected
    assert "s3cr3t-value" not in response.text
    stored = db.execute("SELECT environment_variables::text FROM projects WHERE id = %s", (project["id"],)).fetchone()
    assert stored is not None and "s3cr3t-value" not in stored[0]

    editor = make_user(db)
    add_member(db, org, editor, "member", ["edit"])
    for user in (owner, editor):
        one = api.get(f"/api/projects/{project['id']}", headers=user.headers)
        listed = api.get("/api/projects", headers=user.headers)
        assert one.json()["project"]["environmentVariables"] == expected
        assert listed.json()["items"][0]["environmentVariables"] == expected
        assert "s3cr3t-value" not in one.text + listed.text

    removed = set_variables(api, owner, project, {"MODE": None}).json()["project"]
    assert removed["environmentVariables"] == [{"name": "API_TOKEN", "set": True}]
    bad = set_variables(api, owner, project, {"1BAD": "x"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed"
    assert api.patch(f"/api/projects/{project['id']}", json={"name": "x"}, headers=editor.headers).status_code == 403


def test_reveal_answers_the_value_uncached_and_audits_it_without_the_value(
    api: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    project = create_project(api, owner, org, template="blank")
    set_variables(api, owner, project, {"API_TOKEN": "s3cr3t-value"})
    response = reveal(api, owner, project, "API_TOKEN")
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "API_TOKEN", "value": "s3cr3t-value"}
    assert response.headers["cache-control"] == "no-store"
    audit = db.execute(
        "SELECT user_id, organization_id, resource_id, metadata::text FROM audit_logs"
        " WHERE action = 'project.variable.reveal'"
    ).fetchall()
    assert len(audit) == 1
    user_id, organization_id, resource_id, metadata = audit[0]
    assert (user_id, organization_id, str(resource_id)) == (owner.id, org, project["id"])
    assert "API_TOKEN" in metadata and "s3cr3t-value" not in metadata

    missing = reveal(api, owner, project, "NOT_SET")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("role", "permissions", "status"),
    [
        ("viewer", ["view"], 403),
        ("member", ["edit"], 403),
        ("member", ["deploy"], 403),
        ("member", ["manage"], 200),
        ("admin", ["view", "edit", "deploy", "manage", "invite"], 200),
    ],
)
def test_only_who_may_reveal_secrets_reveals(
    api: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    role: str,
    permissions: list[str],
    status: int,
) -> None:
    project = create_project(api, owner, org, template="blank")
    set_variables(api, owner, project, {"API_TOKEN": "s3cr3t-value"})
    member = make_user(db)
    add_member(db, org, member, role, permissions)
    response = reveal(api, member, project, "API_TOKEN")
    assert response.status_code == status, response.text
    if status != 200:
        assert "s3cr3t-value" not in response.text
        assert db.execute("SELECT count(*) FROM audit_logs WHERE action = 'project.variable.reveal'").fetchone() == (0,)


def test_other_tenants_cannot_even_see_the_variable_exists(
    api: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    project = create_project(api, owner, org, template="blank")
    set_variables(api, owner, project, {"API_TOKEN": "s3cr3t-value"})
    stranger = make_user(db)
    make_organization(db, stranger, "Elsewhere")
    response = reveal(api, stranger, project, "API_TOKEN")
    assert response.status_code == 404 and "s3cr3t-value" not in response.text
