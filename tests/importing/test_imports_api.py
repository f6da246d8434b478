"""Imports through the API and the import worker: upload slots (presigned POSTs to the stack's S3), the analysis,
the import of a chosen app with its options, progress, history; refusals with clear errors and nothing written.

Files are uploaded as a browser would: a multipart POST of the slot's fields and the file to its URL (the local
stack's /_s3 path, which reaches its S3)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.stack import LocalStack
from tests.importing.desktop_fixtures import sample_desktop_database
from tests.importing.git_fixtures import GitRepo, make_sample_app, zip_folder
from tests.support.fake_providers import drain
from tests.support.identity import Account, add_member, make_organization, make_user
from tests.support.workers import run_until_empty


@pytest.fixture(autouse=True)
def _no_earlier_messages(stack: LocalStack) -> None:
    drain(stack, "ImportsQueue")


@pytest.fixture
def sample(tmp_path: Path) -> GitRepo:
    return make_sample_app(tmp_path / "sample-app")


@pytest.fixture
def desktop_file(sample: GitRepo, tmp_path: Path) -> bytes:
    return sample_desktop_database(tmp_path / "sqlite.db", sample.main_commits).read_bytes()


def run_worker(stack: LocalStack) -> None:
    run_until_empty(stack, "ImportWorkerFunction")


def upload(client: TestClient, slot: dict[str, Any], data: bytes) -> None:
    url = urlsplit(slot["url"])
    response = client.post(url.path, data=slot["fields"], files={"file": ("upload", data)})
    assert response.status_code in (200, 204), response.text


def create(client: TestClient, user: Account, org: Any, database: bytes, archives: dict[str, bytes]) -> dict[str, Any]:
    body = {
        "organizationId": str(org),
        "databaseSize": len(database),
        "archives": [{"name": name, "size": len(data)} for name, data in archives.items()],
    }
    response = client.post("/api/imports", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["import"]
    files = {"sqlite.db": database, **archives}
    for slot in created["uploads"]:
        upload(client, slot, files[slot["name"]])
    return created


def get(client: TestClient, user: Account, the_import: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/api/imports/{the_import['id']}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["import"]  # type: ignore[no-any-return]


def analyzed(client: TestClient, stack: LocalStack, user: Account, the_import: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/imports/{the_import['id']}/analyze", headers=user.headers)
    assert response.status_code == 202, response.text
    assert response.json()["import"]["status"] == "analyzing"
    run_worker(stack)
    return get(client, user, the_import)


def test_upload_analyze_and_import_an_app(
    client: TestClient,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    owner: Account,
    org: Any,
    sample: GitRepo,
    desktop_file: bytes,
    tmp_path: Path,
) -> None:
    archive = zip_folder(sample.path, tmp_path / "sample-app.zip", nested=True).read_bytes()
    created = create(client, owner, org, desktop_file, {"sample-app.zip": archive})
    assert created["status"] == "uploading"
    assert [s["kind"] for s in created["uploads"]] == ["database", "archive"]

    found = analyzed(client, stack, owner, created)
    assert found["status"] == "analyzed", found["error"]
    analysis = found["analysis"]
    sample_app, other = analysis["apps"]
    assert sample_app["name"] == "Sample app" and sample_app["archive"] == "sample-app.zip"
    assert (
        sample_app["commits"] == len(sample.main_commits) and sample_app["chats"] == 1 and sample_app["messages"] == 2
    )
    assert sample_app["envFiles"] == 2 and sample_app["archiveError"] is None
    assert other["archive"] is None
    assert analysis["prompts"] == 1
    assert analysis["customModels"] == [
        {
            "displayName": "My model",
            "apiName": "my-model",
            "provider": "My LLM",
            "apiBaseUrl": "https://llm.example.com/v1",
        }
    ]
    assert any("API keys" in w for w in analysis["warnings"])
    # The upload URLs are gone once the files are in.
    assert all(slot["url"] is None for slot in found["uploads"])

    # The app without an archive cannot bring its files.
    refused = client.post(
        f"/api/imports/{created['id']}/start", json={"apps": [{"appId": other["appId"]}]}, headers=owner.headers
    )
    assert refused.status_code == 422 and "no usable archive" in refused.text

    started = client.post(
        f"/api/imports/{created['id']}/start",
        json={"apps": [{"appId": sample_app["appId"], "projectName": "Imported sample"}], "options": {"envVars": True}},
        headers=owner.headers,
    )
    assert started.status_code == 202, started.text
    assert started.json()["import"]["apps"][0]["status"] == "queued"
    run_worker(stack)
    done = get(client, owner, created)
    assert done["status"] == "completed"
    (app,) = done["apps"]
    assert app["status"] == "completed", app["errors"]
    assert app["counts"]["versions"] == len(sample.main_commits) and app["counts"]["messages"] == 2
    assert app["counts"]["variables"] == 2
    project = client.get(f"/api/projects/{app['projectId']}", headers=owner.headers).json()["project"]
    assert project["name"] == "Imported sample"
    names = {v["name"] for v in project["environmentVariables"]}
    assert names == {"API_KEY", "LOCAL"}
    assert "secret" not in str(project)
    prompts = client.get("/api/prompts", headers=owner.headers).json()["items"]
    assert [p["title"] for p in prompts] == ["Landing page"]
    # Started once only.
    again = client.post(
        f"/api/imports/{created['id']}/start", json={"apps": [{"appId": sample_app["appId"]}]}, headers=owner.headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "import_not_analyzed"
    history = client.get(f"/api/imports?organizationId={org}", headers=owner.headers)
    assert history.status_code == 200 and [i["id"] for i in history.json()["items"]] == [created["id"]]


def test_a_damaged_database_is_refused_with_nothing_written(
    client: TestClient, db: psycopg.Connection[Any], stack: LocalStack, owner: Account, org: Any
) -> None:
    created = create(client, owner, org, b"SQLite format 3\x00" + b"\x13" * 4000, {})
    found = analyzed(client, stack, owner, created)
    assert found["status"] == "failed"
    assert found["error"]["code"] == "invalid_database"
    assert found["error"]["message"].startswith("The database file is damaged")
    counts = db.execute("SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM chats)").fetchone()
    assert counts == (0, 0)


def test_an_archive_with_unsafe_paths_is_reported_and_cannot_be_imported(
    client: TestClient, stack: LocalStack, owner: Account, org: Any, desktop_file: bytes
) -> None:
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("sample-app/.git/HEAD", "ref: refs/heads/main\n")
        archive.writestr("../../evil", "owned")
    created = create(client, owner, org, desktop_file, {"sample-app.zip": evil.getvalue()})
    found = analyzed(client, stack, owner, created)
    sample_app = found["analysis"]["apps"][0]
    assert sample_app["archive"] == "sample-app.zip" and "unsafe path" in sample_app["archiveError"]
    refused = client.post(
        f"/api/imports/{created['id']}/start", json={"apps": [{"appId": sample_app["appId"]}]}, headers=owner.headers
    )
    assert refused.status_code == 422


def test_limits_missing_uploads_and_who_may_import(
    client: TestClient, db: psycopg.Connection[Any], stack: LocalStack, owner: Account, org: Any
) -> None:
    too_big = client.post(
        "/api/imports",
        json={"organizationId": str(org), "databaseSize": 10**12, "archives": []},
        headers=owner.headers,
    )
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "import_too_large"
    assert db.execute("SELECT count(*) FROM imports").fetchone() == (0,)

    body = {"organizationId": str(org), "databaseSize": 100, "archives": [{"name": "a.zip", "size": 10}]}
    created = client.post("/api/imports", json=body, headers=owner.headers).json()["import"]
    early = client.post(f"/api/imports/{created['id']}/analyze", headers=owner.headers)
    assert early.status_code == 409 and early.json()["error"]["code"] == "upload_missing"
    assert {d["field"] for d in early.json()["error"]["details"]} == {"sqlite.db", "a.zip"}

    viewer = make_user(db)
    add_member(db, org, viewer, "viewer", [])
    assert client.post("/api/imports", json=body, headers=viewer.headers).status_code == 403
    assert client.get(f"/api/imports/{created['id']}", headers=viewer.headers).status_code == 403
    stranger = make_user(db)
    make_organization(db, stranger)
    assert client.get(f"/api/imports/{created['id']}", headers=stranger.headers).status_code == 404
    assert client.post(f"/api/imports/{created['id']}/analyze", headers=stranger.headers).status_code == 404
