"""Projects, the working copy and versions (S3 snapshots), through the API."""

from __future__ import annotations

import base64
import io
import threading
import zipfile
from typing import Any

import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.aws import client as aws_client
from devstack.stack import LocalStack
from mm_common.paths import PathError, normalize_path
from tests.projects.support import create_project, put
from tests.support.identity import Account, make_organization, make_user


def bucket_keys(stack: LocalStack) -> set[str]:
    assert stack.moto is not None
    s3 = aws_client("s3", stack.moto.endpoint)
    bucket = stack.outputs["SnapshotsBucket"]
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys |= {item["Key"] for item in page.get("Contents", [])}
    return keys


def test_create_from_the_default_template_writes_files_and_version_one(
    client: TestClient, owner: Account, org: Any, stack: LocalStack
) -> None:
    project = create_project(client, owner, org)
    assert project["slug"] == "my-app" and project["template"] == "react-vite-ts-tailwind"
    assert project["buildCommand"] == "npm run build" and project["currentVersionId"]
    files = client.get(f"/api/projects/{project['id']}/files", headers=owner.headers).json()["items"]
    paths = [f["path"] for f in files]
    assert {"package.json", "src/App.tsx", "AI_RULES.md", ".gitignore", "index.html"} <= set(paths)
    assert paths == sorted(paths)
    versions = client.get(f"/api/projects/{project['id']}/versions", headers=owner.headers).json()["items"]
    assert [(v["number"], v["source"], v["fileCount"]) for v in versions] == [(1, "template", len(files))]
    keys = bucket_keys(stack)
    assert f"orgs/{org}/projects/{project['id']}/versions/{versions[0]['id']}.json" in keys
    assert len([k for k in keys if k.startswith(f"orgs/{org}/blobs/")]) == len({f["sha256"] for f in files})

    second = create_project(client, owner, org, "My App")
    assert second["slug"] == "my-app-2"
    blank = create_project(client, owner, org, "Plain", template="blank")
    assert blank["template"] == "blank"
    bad = client.post(
        "/api/projects", json={"organizationId": str(org), "name": "X", "template": "nope"}, headers=owner.headers
    )
    assert bad.status_code == 422 and "react-vite-ts-tailwind" in bad.json()["error"]["message"]


def test_file_read_write_with_etags(client: TestClient, owner: Account, org: Any) -> None:
    project = create_project(client, owner, org, template="blank")
    created = put(client, owner, project, "src/note.txt", "hello\n")
    assert created.status_code == 201
    etag = created.headers["etag"]
    read = client.get(f"/api/projects/{project['id']}/files/src/note.txt", headers=owner.headers)
    assert read.status_code == 200 and read.headers["etag"] == etag
    body = read.json()
    assert (
        body["content"] == "hello\n"
        and body["encoding"] == "utf-8"
        and body["size"] == 6
        and body["language"] == "text"
    )

    stale = put(client, owner, project, "src/note.txt", "mine\n", **{"If-Match": '"' + "0" * 64 + '"'})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
    assert (
        client.get(f"/api/projects/{project['id']}/files/src/note.txt", headers=owner.headers).json()["content"]
        == "hello\n"
    )

    updated = put(client, owner, project, "src/note.txt", "hello again\n", **{"If-Match": etag})
    assert updated.status_code == 200 and updated.headers["etag"] != etag
    exists = put(client, owner, project, "src/note.txt", "x", **{"If-None-Match": "*"})
    assert exists.status_code == 412

    moved = client.post(
        f"/api/projects/{project['id']}/rename-file",
        json={"from": "src/note.txt", "to": "docs/note.md"},
        headers=owner.headers,
    )
    assert moved.status_code == 200 and moved.json()["language"] == "markdown"
    assert client.get(f"/api/projects/{project['id']}/files/src/note.txt", headers=owner.headers).status_code == 404
    assert (
        client.get(f"/api/projects/{project['id']}/files/docs/note.md", headers=owner.headers).json()["content"]
        == "hello again\n"
    )

    assert client.delete(f"/api/projects/{project['id']}/files/docs/note.md", headers=owner.headers).status_code == 204
    assert client.delete(f"/api/projects/{project['id']}/files/docs/note.md", headers=owner.headers).status_code == 404


def test_binary_files_live_in_s3(client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]) -> None:
    project = create_project(client, owner, org, template="blank")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    response = client.put(
        f"/api/projects/{project['id']}/files/public/logo.png",
        json={"content": base64.b64encode(png).decode(), "encoding": "base64"},
        headers=owner.headers,
    )
    assert response.status_code == 201
    row = db.execute("SELECT content, blob_key, encoding FROM project_files WHERE path = 'public/logo.png'").fetchone()
    assert (
        row is not None
        and row[0] is None
        and row[1].endswith("/blobs/" + response.json()["sha256"])
        and row[2] == "base64"
    )
    read = client.get(f"/api/projects/{project['id']}/files/public/logo.png", headers=owner.headers).json()
    assert read["encoding"] == "base64" and base64.b64decode(read["content"]) == png and read["language"] == "image"


@pytest.mark.parametrize(
    "path",
    # ".." never reaches us through an HTTP client (URLs are normalised); the rules test covers it.
    [
        "%2Fetc%2Fpasswd",
        "a%5Cb",
        "a%00b",
        "a%01b",
        ".git/config",
        "src/.git/HEAD",
        # Names file systems take for .git: any case, a trailing dot, the NTFS short name.
        ".GIT/config",
        "src/.Git/HEAD",
        ".git./config",
        "GIT~1/config",
        "x" * 600,
        "dir/",
    ],
)
def test_bad_paths_are_refused_and_nothing_is_written(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any], path: str
) -> None:
    project = create_project(client, owner, org, template="blank")
    before = db.execute("SELECT count(*) FROM project_files").fetchone()
    response = client.put(f"/api/projects/{project['id']}/files/{path}", json={"content": "x"}, headers=owner.headers)
    assert response.status_code == 422, response.text
    # Control characters are refused at the edge, before any route (validation_failed).
    codes = ("invalid_path", "validation_failed") if "%0" in path else ("invalid_path",)
    assert response.json()["error"]["code"] in codes
    assert db.execute("SELECT count(*) FROM project_files").fetchone() == before


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        *[("src//App.tsx", "src/App.tsx"), ("./src/./a.ts", "src/a.ts"), ("a b/c.txt", "a b/c.txt"), (".env", ".env")],
        # Names that merely start like .git are ordinary files.
        *[(".gitignore", ".gitignore"), (".github/ci.yml", ".github/ci.yml"), ("src/.gitkeep", "src/.gitkeep")],
        *[("git/x.txt", "git/x.txt"), (".git-blame-ignore-revs", ".git-blame-ignore-revs")],
    ],
)
def test_paths_are_normalised(raw: str, normalized: str) -> None:
    assert normalize_path(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        *[
            "",
            "  ",
            "..",
            "a/../b",
            "/abs",
            "C:/x",
            "a\\b",
            "a\x00b",
            "a\nb",
            ".git",
            "x/.git/y",
            "a/",
            " a/b",
            "a" * 513,
        ],
        *[".GIT", "x/.Git/y", ".gIt/config", ".git./x", ".git../x", "git~1/config", "GIT~1", ".g\u200cit/config"],
        *["\ufeff.git/x", "a\ud800b"],
    ],
)
def test_bad_paths_are_refused_by_the_rules(raw: str) -> None:
    with pytest.raises(PathError):
        normalize_path(raw)


def test_size_limits_answer_413(client: TestClient, owner: Account, org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from mm_common.config import get_settings

    project = create_project(client, owner, org, template="blank")
    monkeypatch.setenv("MAX_FILE_BYTES", "100")
    get_settings.cache_clear()
    try:
        too_big = put(client, owner, project, "big.txt", "x" * 101)
        fits = put(client, owner, project, "ok.txt", "x" * 100)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert too_big.status_code == 413 and too_big.json()["error"]["details"]["limit"] == 100
    assert fits.status_code == 201


def test_concurrent_writers_one_wins_one_gets_412(client: TestClient, owner: Account, org: Any) -> None:
    project = create_project(client, owner, org, template="blank")
    etag = put(client, owner, project, "race.txt", "base\n").headers["etag"]
    results: dict[str, int] = {}

    def write(name: str) -> None:
        results[name] = put(client, owner, project, "race.txt", f"{name}\n", **{"If-Match": etag}).status_code

    threads = [threading.Thread(target=write, args=(n,)) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [200, 412]
    winner = next(n for n, s in results.items() if s == 200)
    assert (
        client.get(f"/api/projects/{project['id']}/files/race.txt", headers=owner.headers).json()["content"]
        == f"{winner}\n"
    )


def test_versions_diff_restore_tags_and_archive(
    client: TestClient, owner: Account, org: Any, stack: LocalStack
) -> None:
    project = create_project(client, owner, org, template="blank")
    pid = project["id"]
    put(client, owner, project, "a.txt", "one\ntwo\n")
    put(client, owner, project, "b.txt", "unchanged\n")
    v2 = client.post(f"/api/projects/{pid}/versions", json={"message": "two files"}, headers=owner.headers).json()[
        "version"
    ]

    keys_before = bucket_keys(stack)
    put(client, owner, project, "a.txt", "one\nTWO\n")
    client.post(f"/api/projects/{pid}/rename-file", json={"from": "b.txt", "to": "c.txt"}, headers=owner.headers)
    put(client, owner, project, "new.txt", "fresh\n")
    v3 = client.post(f"/api/projects/{pid}/versions", headers=owner.headers).json()["version"]
    new_keys = bucket_keys(stack) - keys_before
    # Two new contents (a.txt, new.txt) and the manifest; the renamed file costs nothing.
    assert len(new_keys) == 3
    assert v3["number"] == v2["number"] + 1 and v3["parentId"] == v2["id"]

    diff = client.get(f"/api/projects/{pid}/versions/{v3['id']}/diff", headers=owner.headers).json()
    by_path = {f["path"]: f for f in diff["files"]}
    assert diff["fromVersionId"] == v2["id"]
    assert by_path["a.txt"]["status"] == "modified" and "-two\n+TWO\n" in by_path["a.txt"]["patch"]
    assert by_path["c.txt"]["status"] == "renamed" and by_path["c.txt"]["oldPath"] == "b.txt"
    assert by_path["new.txt"]["status"] == "added" and "+fresh" in by_path["new.txt"]["patch"]
    assert "b.txt" not in by_path

    old_file = client.get(f"/api/projects/{pid}/versions/{v2['id']}/files/a.txt", headers=owner.headers).json()
    assert old_file["content"] == "one\ntwo\n"

    restored = client.post(f"/api/projects/{pid}/versions/{v2['id']}/restore", headers=owner.headers)
    assert restored.status_code == 201
    v4 = restored.json()["version"]
    assert v4["source"] == "restore" and v4["restoredFromId"] == v2["id"] and v4["number"] == v3["number"] + 1
    files = {f["path"] for f in client.get(f"/api/projects/{pid}/files", headers=owner.headers).json()["items"]}
    assert "new.txt" not in files and "c.txt" not in files and {"a.txt", "b.txt"} <= files
    assert client.get(f"/api/projects/{pid}/files/a.txt", headers=owner.headers).json()["content"] == "one\ntwo\n"
    history = [v["number"] for v in client.get(f"/api/projects/{pid}/versions", headers=owner.headers).json()["items"]]
    assert history == sorted(history, reverse=True) and len(history) == 4  # nothing rewritten

    assert (
        client.post(
            f"/api/projects/{pid}/versions/{v2['id']}/tags", json={"name": "v1.0"}, headers=owner.headers
        ).status_code
        == 201
    )
    taken = client.post(f"/api/projects/{pid}/versions/{v3['id']}/tags", json={"name": "v1.0"}, headers=owner.headers)
    assert taken.status_code == 409
    detail = client.get(f"/api/projects/{pid}/versions/{v2['id']}", headers=owner.headers).json()
    assert detail["version"]["tags"] == ["v1.0"] and {f["path"] for f in detail["files"]} >= {"a.txt", "b.txt"}
    assert client.delete(f"/api/projects/{pid}/versions/{v2['id']}/tags/v1.0", headers=owner.headers).status_code == 204

    archive = client.get(f"/api/projects/{pid}/versions/{v3['id']}/archive", headers=owner.headers).json()
    zipped = zipfile.ZipFile(io.BytesIO(httpx.get(archive["url"]).content))
    assert zipped.read(f"{project['slug']}/a.txt") == b"one\nTWO\n"
    assert zipped.read(f"{project['slug']}/new.txt") == b"fresh\n"


def test_other_organizations_projects_do_not_exist(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    project = create_project(client, owner, org, template="blank")
    put(client, owner, project, "a.txt", "x")
    version = project["currentVersionId"]
    stranger = make_user(db)
    make_organization(db, stranger, "Other")
    pid = project["id"]
    for method, url in [
        ("GET", f"/api/projects/{pid}"),
        ("PATCH", f"/api/projects/{pid}"),
        ("DELETE", f"/api/projects/{pid}"),
        ("GET", f"/api/projects/{pid}/files"),
        ("GET", f"/api/projects/{pid}/files/a.txt"),
        ("PUT", f"/api/projects/{pid}/files/a.txt"),
        ("GET", f"/api/projects/{pid}/versions"),
        ("GET", f"/api/projects/{pid}/versions/{version}"),
        ("GET", f"/api/projects/{pid}/versions/{version}/diff"),
        ("POST", f"/api/projects/{pid}/versions/{version}/restore"),
        ("GET", f"/api/projects/{pid}/versions/{version}/archive"),
    ]:
        response = client.request(
            method, url, json={"content": "x"} if method == "PUT" else None, headers=stranger.headers
        )
        assert response.status_code == 404, (method, url, response.status_code)
    listed = client.get("/api/projects", headers=stranger.headers).json()["items"]
    assert listed == []
    other_create = client.post(
        "/api/projects", json={"organizationId": str(org), "name": "Sneaky"}, headers=stranger.headers
    )
    assert other_create.status_code == 404


def test_deleting_a_project_removes_rows_then_its_s3_objects(
    client: TestClient, owner: Account, org: Any, stack: LocalStack, db: psycopg.Connection[Any]
) -> None:
    project = create_project(client, owner, org, template="blank")
    prefix = f"orgs/{org}/projects/{project['id']}/"
    assert any(k.startswith(prefix) for k in bucket_keys(stack))
    assert client.delete(f"/api/projects/{project['id']}", headers=owner.headers).status_code == 204
    assert db.execute("SELECT count(*) FROM project_files WHERE project_id = %s", (project["id"],)).fetchone() == (0,)
    assert client.get(f"/api/projects/{project['id']}", headers=owner.headers).status_code == 404
    # The clean-up worker (SQS) removes the objects afterwards (with the deletions earlier tests
    # left in the queue: one batch may not reach this one).
    for poller in stack.pollers["ProjectCleanupFunction"]:
        while poller.poll_once():
            pass
    assert not any(k.startswith(prefix) for k in bucket_keys(stack))


def test_deleting_a_project_collects_blobs_no_one_else_uses(
    client: TestClient,
    owner: Account,
    org: Any,
    stack: LocalStack,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mm_common.config import get_settings

    doomed = create_project(client, owner, org, "Doomed", template="blank")
    kept = create_project(client, owner, org, "Kept", template="blank")  # the same template files: shared blobs
    unique = put(client, owner, doomed, "only-here.txt", "nobody else has this\n").json()["sha256"]
    client.post(f"/api/projects/{doomed['id']}/versions", headers=owner.headers)
    shared = client.get(f"/api/projects/{kept['id']}/files/index.html", headers=owner.headers).json()["sha256"]
    blob = f"orgs/{org}/blobs/"
    assert {blob + unique, blob + shared} <= bucket_keys(stack)

    monkeypatch.setenv("BLOB_GC_GRACE_HOURS", "0")
    get_settings.cache_clear()
    try:
        assert client.delete(f"/api/projects/{doomed['id']}", headers=owner.headers).status_code == 204
        for poller in stack.pollers["ProjectCleanupFunction"]:
            while poller.poll_once():  # earlier tests' deletions may fill the first batch
                pass
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    keys = bucket_keys(stack)
    assert blob + unique not in keys and blob + shared in keys
    recorded = {
        r[0] for r in db.execute("SELECT sha256 FROM snapshot_blobs WHERE organization_id = %s", (org,)).fetchall()
    }
    assert unique not in recorded and shared in recorded
    # The surviving project is whole: its version still restores.
    version = client.get(f"/api/projects/{kept['id']}", headers=owner.headers).json()["project"]["currentVersionId"]
    assert (
        client.post(f"/api/projects/{kept['id']}/versions/{version}/restore", headers=owner.headers).status_code == 201
    )


def test_maintenance_collects_blobs_that_were_never_recorded(
    client: TestClient, owner: Account, org: Any, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mm_common.config import get_settings

    project = create_project(client, owner, org, template="blank")
    recorded = client.get(f"/api/projects/{project['id']}/files/index.html", headers=owner.headers).json()["sha256"]
    assert stack.moto is not None
    s3 = aws_client("s3", stack.moto.endpoint)
    orphan = f"orgs/{org}/blobs/{'f' * 64}"
    s3.put_object(Bucket=stack.outputs["SnapshotsBucket"], Key=orphan, Body=b"left behind by a failed version")
    monkeypatch.setenv("BLOB_GC_GRACE_HOURS", "0")
    get_settings.cache_clear()
    try:
        assert stack.scheduler is not None
        result = stack.scheduler.run_now("MaintenanceFunction")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result["tasks"]["unrecorded_blobs"]["deleted"] >= 1
    keys = bucket_keys(stack)
    assert orphan not in keys and f"orgs/{org}/blobs/{recorded}" in keys


def test_platform_admins_list_every_project_others_only_their_organizations(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    mine = create_project(client, owner, org, "Mine", template="blank")
    other_owner = make_user(db)
    other_org = make_organization(db, other_owner, "Other")
    theirs = create_project(client, other_owner, other_org, "Theirs", template="blank")

    def listed(user: Account, **params: str) -> list[str]:
        response = client.get("/api/projects", params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    admin = make_user(db, role="admin")
    co_admin = make_user(db, role="co_admin")
    assert listed(admin) == [theirs["id"], mine["id"]]  # newest first, every organization
    assert listed(admin, organizationId=str(org)) == [mine["id"]]
    assert listed(co_admin) == []  # seeing every organization is the admin's alone
    assert listed(owner) == [mine["id"]]
    assert listed(owner, organizationId=str(other_org)) == []
