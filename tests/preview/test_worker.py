"""Live preview end to end through the stack: a new version queues a build, the worker (the real handler, real Node,
moto S3) builds and uploads it, the API reports it and the preview host serves it; superseded builds are skipped,
a user can build a version again, a deleted project's sites go, and who may see or ask for what.

Marked slow: each build runs npm/vite/tsc (the session's first installs from the registry).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.stack import LocalStack
from mm_common import preview_builds
from tests.projects.support import create_project, put
from tests.support.fake_providers import drain
from tests.support.identity import Account, add_member, make_organization, make_user
from tests.support.workers import run_until_empty

pytestmark = pytest.mark.slow

REACT = "react-vite-ts-tailwind"


@pytest.fixture
def edge(stack: LocalStack) -> TestClient:
    """The stack's one HTTP origin (what make dev serves): /api, the web app and the preview hosts."""
    return TestClient(stack.asgi_app())


@pytest.fixture(autouse=True)
def _no_earlier_builds(stack: LocalStack) -> None:
    # Every version created by earlier tests queued a build; their rows are gone, their messages are not.
    drain(stack, "PreviewBuildsQueue")


def run_builds(stack: LocalStack) -> int:
    """Let the worker take every queued build message (one per invocation, as in AWS); how many it took."""
    return run_until_empty(stack, "PreviewBuildFunction")


def preview(client: TestClient, user: Account, project: dict[str, Any], version_id: str) -> dict[str, Any]:
    response = client.get(f"/api/projects/{project['id']}/versions/{version_id}/preview", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["preview"]  # type: ignore[no-any-return]


def snapshot(client: TestClient, user: Account, project: dict[str, Any], message: str) -> str:
    response = client.post(f"/api/projects/{project['id']}/versions", json={"message": message}, headers=user.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["version"]["id"])


def served(edge: TestClient, url: str, path: str = "/") -> Any:
    host = urlsplit(url).hostname
    assert host is not None
    return edge.get(path, headers={"Host": f"{host}:8000"})


def test_a_new_version_is_built_and_served_on_its_own_host(
    client: TestClient, edge: TestClient, stack: LocalStack, owner: Account, org: Any
) -> None:
    project = create_project(client, owner, org, template=REACT)
    version_id = project["currentVersionId"]
    queued = preview(client, owner, project, version_id)
    assert queued["status"] == "queued" and queued["build"]["requested"] is False

    assert run_builds(stack) == 1
    ready = preview(client, owner, project, version_id)
    assert ready["status"] == "ready", ready["log"]
    build = ready["build"]
    assert build["problems"] == [] and build["checking"] is False
    assert build["dependencySource"] in ("installed", "archive", "warm")
    assert {"dependencies", "build", "upload", "total"} <= set(build["timings"])
    assert "vite build" in ready["log"]
    # An unguessable label of its own, on the preview domain: never the app's origin.
    assert re.fullmatch(r"http://[a-z2-7]{26}\.preview\.localhost:8000/", build["url"]), build["url"]

    page = served(edge, build["url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-mm-preview="error-reporter"' in page.text
    # Only the app may frame it.
    assert page.headers["content-security-policy"] == "frame-ancestors http://127.0.0.1:8000"
    assert "x-frame-options" not in page.headers
    # A client-side route of the previewed app gets its index.html; its hashed assets are served for good.
    assert served(edge, build["url"], "/settings/profile").text == page.text
    script = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
    assert script is not None
    asset = served(edge, build["url"], script[1])
    assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]
    # Another label (or none) is not a site.
    assert served(edge, "http://" + "a" * 26 + ".preview.localhost:8000/").status_code == 404
    assert served(edge, build["url"], "/missing.png").status_code == 404

    # The list of the project's builds shows it, without the log.
    listed = client.get(f"/api/projects/{project['id']}/previews", headers=owner.headers)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [build["id"]]
    assert "log" not in listed.json()["items"][0]


def test_the_worker_process_cannot_be_inspected_by_its_builds(
    client: TestClient, stack: LocalStack, owner: Account, org: Any
) -> None:
    """The builds' children get no credentials in their environment (tests/preview/test_units.py), and the
    worker makes itself non-dumpable at its cold start, so they cannot read its /proc/<pid>/environ either."""
    create_project(client, owner, org, template="blank")
    assert run_builds(stack) == 1  # the worker has started (in this process, as the local stack runs functions)

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    pr_get_dumpable = 3
    assert libc.prctl(pr_get_dumpable, 0, 0, 0, 0) == 0


def test_a_burst_of_versions_builds_only_the_newest(
    client: TestClient, stack: LocalStack, owner: Account, org: Any
) -> None:
    project = create_project(client, owner, org, template=REACT)
    first = project["currentVersionId"]
    put(client, owner, project, "src/note.ts", "export const note = 'second'\n")
    second = snapshot(client, owner, project, "second")
    put(client, owner, project, "src/note.ts", "export const note = 'third'\n")
    third = snapshot(client, owner, project, "third")

    run_builds(stack)
    assert preview(client, owner, project, first)["status"] == "skipped"
    skipped = preview(client, owner, project, second)
    assert skipped["status"] == "skipped" and "newer version" in skipped["message"]
    assert preview(client, owner, project, third)["status"] == "ready"

    # Asked for by a user, an older version builds even though a newer one exists.
    asked = client.post(f"/api/projects/{project['id']}/versions/{second}/preview", headers=owner.headers)
    assert asked.status_code == 202, asked.text
    assert asked.json()["preview"]["status"] == "queued" and asked.json()["preview"]["build"]["requested"] is True
    # Asking again while it is queued answers the same build.
    again = client.post(f"/api/projects/{project['id']}/versions/{second}/preview", headers=owner.headers)
    assert again.json()["preview"]["build"]["id"] == asked.json()["preview"]["build"]["id"]
    run_builds(stack)
    rebuilt = preview(client, owner, project, second)
    assert rebuilt["status"] == "ready" and rebuilt["build"]["id"] == asked.json()["preview"]["build"]["id"]


def test_a_type_error_still_previews_and_is_listed(
    client: TestClient, edge: TestClient, stack: LocalStack, owner: Account, org: Any
) -> None:
    project = create_project(client, owner, org, template=REACT)
    put(client, owner, project, "src/typo.ts", "export const count: number = 'three'\n")
    version_id = snapshot(client, owner, project, "a type error")
    run_builds(stack)
    shown = preview(client, owner, project, version_id)
    assert shown["status"] == "ready"
    (problem,) = shown["build"]["problems"]
    assert problem["file"] == "src/typo.ts" and problem["line"] == 1 and problem["code"] == "TS2322"
    assert served(edge, shown["build"]["url"]).status_code == 200


def test_a_failed_build_keeps_the_last_ready_site_and_the_log(
    client: TestClient, stack: LocalStack, owner: Account, org: Any
) -> None:
    project = create_project(client, owner, org, template=REACT)
    good = project["currentVersionId"]
    run_builds(stack)
    good_build = preview(client, owner, project, good)["build"]
    put(client, owner, project, "src/main.tsx", "import { broken from './nowhere'\n")
    bad = snapshot(client, owner, project, "broken")
    run_builds(stack)
    failed = preview(client, owner, project, bad)
    assert failed["status"] == "failed" and failed["build"]["url"] is None
    assert "src/main.tsx" in failed["log"]
    assert any(problem["file"] == "src/main.tsx" for problem in failed["build"]["problems"])
    # Rebuilding the good version again: while it is queued, its last ready build is still offered.
    client.post(f"/api/projects/{project['id']}/versions/{good}/preview", headers=owner.headers)
    waiting = preview(client, owner, project, good)
    assert waiting["status"] == "queued" and waiting["lastReady"]["id"] == good_build["id"]


def test_a_project_that_is_not_a_vite_app_says_so(
    client: TestClient, stack: LocalStack, owner: Account, org: Any
) -> None:
    project = create_project(client, owner, org, template="blank")
    run_builds(stack)
    shown = preview(client, owner, project, project["currentVersionId"])
    assert shown["status"] == "unsupported"
    assert "not available for this project type" in shown["message"]


def test_who_may_see_and_ask_for_previews(
    client: TestClient, db: psycopg.Connection[Any], stack: LocalStack, owner: Account, org: Any
) -> None:
    project = create_project(client, owner, org, template="blank")
    version_id = project["currentVersionId"]
    viewer = make_user(db)
    add_member(db, org, viewer, "viewer", [])
    stranger = make_user(db)
    make_organization(db, stranger)
    path = f"/api/projects/{project['id']}/versions/{version_id}/preview"

    assert client.get(path, headers=viewer.headers).status_code == 200
    refused = client.post(path, headers=viewer.headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"]
    for method in ("get", "post"):
        hidden = getattr(client, method)(path, headers=stranger.headers)
        assert hidden.status_code == 404, hidden.text
    assert client.get(f"/api/projects/{project['id']}/previews", headers=stranger.headers).status_code == 404
    other_version = f"/api/projects/{project['id']}/versions/00000000-0000-4000-8000-000000000000/preview"
    assert client.get(other_version, headers=owner.headers).status_code == 404
    # Nothing was queued by the refused requests.
    rows = db.execute("SELECT count(*) FROM preview_builds WHERE requested_by IS NOT NULL").fetchone()
    assert rows is not None and rows[0] == 0


def test_deleting_a_project_removes_its_preview_sites(
    client: TestClient, edge: TestClient, stack: LocalStack, owner: Account, org: Any
) -> None:
    project = create_project(client, owner, org, template=REACT)
    run_builds(stack)
    url = preview(client, owner, project, project["currentVersionId"])["build"]["url"]
    assert served(edge, url).status_code == 200
    assert client.delete(f"/api/projects/{project['id']}", headers=owner.headers).status_code == 204
    run_until_empty(stack, "ProjectCleanupFunction")
    assert served(edge, url).status_code == 404


def test_without_a_preview_domain_nothing_is_queued(
    client: TestClient, stack: LocalStack, owner: Account, org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mm_common.config import get_settings

    monkeypatch.setenv("PREVIEW_DOMAIN", "")
    get_settings.cache_clear()
    try:
        project = create_project(client, owner, org, template=REACT)
        shown = preview(client, owner, project, project["currentVersionId"])
        assert shown["status"] == "unavailable" and "not set up" in shown["message"]
        refused = client.post(
            f"/api/projects/{project['id']}/versions/{project['currentVersionId']}/preview", headers=owner.headers
        )
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "previews_unavailable"
        assert run_builds(stack) == 0
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert preview_builds.previews_enabled()
