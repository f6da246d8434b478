"""Input the projects API must refuse without changing anything, and what it must never leak."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from starlette.testclient import TestClient

from mm_common import working_copy
from mm_common.errors import ApiError
from tests.projects.support import create_project, put, raw_json
from tests.support.identity import Account

REPO = Path(__file__).resolve().parents[2]


def snapshot(client: TestClient, owner: Account, project: dict[str, Any], db: psycopg.Connection[Any]) -> Any:
    """Everything a refused request must leave as it was."""
    body = client.get(f"/api/projects/{project['id']}", headers=owner.headers).json()
    files = db.execute(
        "SELECT path, sha256, mode FROM project_files WHERE project_id = %s ORDER BY path", (project["id"],)
    ).fetchall()
    versions = db.execute("SELECT count(*) FROM project_versions WHERE project_id = %s", (project["id"],)).fetchone()
    return body, files, versions


@pytest.mark.parametrize("field", ["name", "slug", "autoApprove", "environmentVariables"])
def test_patching_a_required_field_with_null_is_422_and_changes_nothing(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any], field: str
) -> None:
    project = create_project(client, owner, org, template="blank")
    before = snapshot(client, owner, project, db)
    response = client.patch(f"/api/projects/{project['id']}", json={field: None}, headers=owner.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and error["details"][0]["field"] == field
    assert snapshot(client, owner, project, db) == before


@pytest.mark.parametrize("field", ["description", "installCommand", "buildCommand", "startCommand"])
def test_patching_an_optional_field_with_null_clears_it(
    client: TestClient, owner: Account, org: Any, field: str
) -> None:
    project = create_project(client, owner, org, template="blank")
    client.patch(f"/api/projects/{project['id']}", json={field: "something"}, headers=owner.headers)
    response = client.patch(f"/api/projects/{project['id']}", json={field: None}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["project"][field] is None


UNSTORABLE = ["a\x00b", "a\ud800b", "\udfff"]


@pytest.mark.parametrize("text", UNSTORABLE, ids=["nul", "high-surrogate", "low-surrogate"])
@pytest.mark.parametrize(
    "body",
    [
        {"name": "{}"},
        {"slug": "{}"},
        {"description": "{}"},
        {"installCommand": "{}"},
        {"buildCommand": "{}"},
        {"startCommand": "{}"},
        {"environmentVariables": {"API_{}": "x"}},
        {"environmentVariables": {"API_TOKEN": "{}"}},
    ],
    ids=["name", "slug", "description", "install", "build", "start", "variable-name", "variable-value"],
)
def test_unstorable_text_in_project_settings_is_422_and_changes_nothing(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any], body: dict[str, Any], text: str
) -> None:
    project = create_project(client, owner, org, template="blank")
    before = snapshot(client, owner, project, db)
    filled = _fill(body, text)
    response = client.patch(
        f"/api/projects/{project['id']}",
        headers=owner.headers | raw_json(filled)["headers"],
        content=raw_json(filled)["content"],
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert snapshot(client, owner, project, db) == before


def _fill(body: Any, text: str) -> Any:
    if isinstance(body, dict):
        return {_fill(key, text): _fill(value, text) for key, value in body.items()}
    return body.replace("{}", text) if isinstance(body, str) else body


@pytest.mark.parametrize("text", UNSTORABLE, ids=["nul", "high-surrogate", "low-surrogate"])
def test_unstorable_text_in_files_versions_and_new_projects_is_422(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any], text: str
) -> None:
    project = create_project(client, owner, org, template="blank")
    put(client, owner, project, "a.txt", "a\n")
    before = snapshot(client, owner, project, db)
    pid = project["id"]
    requests = [
        ("PUT", f"/api/projects/{pid}/files/new.txt", {"content": f"x{text}y"}),
        ("PUT", f"/api/projects/{pid}/files/a.txt", {"content": text}),
        ("POST", f"/api/projects/{pid}/rename-file", {"from": "a.txt", "to": f"b{text}.txt"}),
        ("POST", f"/api/projects/{pid}/versions", {"message": f"m{text}"}),
    ]
    for method, url, body in requests:
        arguments = raw_json(body)
        response = client.request(
            method, url, content=arguments["content"], headers=owner.headers | arguments["headers"]
        )
        assert response.status_code == 422, (url, response.text)
        assert response.json()["error"]["code"] == "validation_failed"
    assert snapshot(client, owner, project, db) == before

    projects = db.execute("SELECT count(*) FROM projects").fetchone()
    arguments = raw_json({"organizationId": str(org), "name": f"App{text}"})
    created = client.post("/api/projects", content=arguments["content"], headers=owner.headers | arguments["headers"])
    assert created.status_code == 422, created.text
    assert db.execute("SELECT count(*) FROM projects").fetchone() == projects


def test_binary_content_with_nul_bytes_is_legal_as_base64(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    project = create_project(client, owner, org, template="blank")
    data = b"\x00\x01binary\x00\xff"
    response = client.put(
        f"/api/projects/{project['id']}/files/data.bin",
        json={"content": base64.b64encode(data).decode(), "encoding": "base64"},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    read = client.get(f"/api/projects/{project['id']}/files/data.bin", headers=owner.headers).json()
    assert read["encoding"] == "base64" and base64.b64decode(read["content"]) == data


@pytest.mark.parametrize("target", ["notes.txt", "./notes.txt", "docs/../notes.txt"])
def test_renaming_a_file_onto_its_own_path_is_422_and_logs_no_content(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    capfd: pytest.CaptureFixture[str],
    target: str,
) -> None:
    project = create_project(client, owner, org, template="blank")
    secret = "TOP-SECRET-CONTENT-0042"
    put(client, owner, project, "notes.txt", f"{secret}\n")
    before = snapshot(client, owner, project, db)
    capfd.readouterr()
    response = client.post(
        f"/api/projects/{project['id']}/rename-file", json={"from": "notes.txt", "to": target}, headers=owner.headers
    )
    if ".." in target:
        # Never reaches the rule: ".." is refused as a path first.
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_path"
    else:
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "same_path" and error["details"][0]["field"] == "to"
    out, err = capfd.readouterr()
    assert secret not in response.text + out + err
    assert snapshot(client, owner, project, db) == before


def test_a_row_the_database_refuses_is_a_4xx_naming_the_constraint_not_the_content(
    client: TestClient, owner: Account, org: Any, database_url: str
) -> None:
    """The schema's CHECKs are the last line of defence; Postgres' message quotes the failing row
    (with the file's content), so it must turn into an error that carries none of it."""
    project = create_project(client, owner, org, template="blank")
    secret = b"TOP-SECRET-CONTENT-0042"
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        with pytest.raises(ApiError) as refused:
            working_copy.write(
                conn,
                organization_id=org,
                project_id=project["id"],
                path="x.txt",
                body=working_copy.FileBytes(secret, is_text=True),
                mode=0o17777,  # out of the schema's range (the API's model refuses it earlier)
            )
        conn.rollback()
    error = refused.value
    assert 400 <= error.status < 500 and error.code == "file_refused"
    assert "project_files_mode_range" in str(error.details)
    assert secret.decode() not in f"{error.message} {error.details}"
    assert error.__suppress_context__ and error.__cause__ is None


WRITE = r"(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+{table}\b"


@pytest.mark.parametrize(
    ("table", "writer"),
    [
        ("project_files", "layers/common/mm_common/working_copy.py"),
        ("project_versions", "layers/common/mm_common/versions.py"),
    ],
)
def test_each_table_of_the_working_copy_and_history_has_one_writer(table: str, writer: str) -> None:
    pattern = re.compile(WRITE.format(table=table), re.IGNORECASE)
    writers = {
        str(path.relative_to(REPO))
        for root in ("functions", "layers/common/mm_common")
        for path in (REPO / root).rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    }
    assert writers == {writer}
