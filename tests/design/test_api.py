"""The design-system API through the gateway: generate, read (page over master), edit with contrast
adjustments, history and restore, each change a version holding the rendered files; who may do what."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from mm_common.design import schema
from mm_common.design.document import merge_page
from mm_common.pagination import encode_cursor
from tests.design.wcag import failing_pairs
from tests.projects.support import wait_for_lock_waiters
from tests.support.identity import Account, add_member, make_organization, make_user

FINTECH = "a fintech landing page"


def new_project(
    client: TestClient, owner: Account, org: Any, *, description: str | None = None, template: str = "blank"
) -> dict[str, Any]:
    body: dict[str, Any] = {"organizationId": str(org), "name": "Shop", "template": template}
    if description is not None:
        body["description"] = description
    response = client.post("/api/projects", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()["project"]  # type: ignore[no-any-return]


def url(project: dict[str, Any], rest: str = "") -> str:
    return f"/api/projects/{project['id']}/design-system{rest}"


def version_file(client: TestClient, user: Account, project: dict[str, Any], version_id: str, path: str) -> str:
    response = client.get(f"/api/projects/{project['id']}/versions/{version_id}/files/{path}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["content"]  # type: ignore[no-any-return]


def version_count(client: TestClient, user: Account, project: dict[str, Any]) -> int:
    response = client.get(f"/api/projects/{project['id']}/versions", headers=user.headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


def generate(client: TestClient, user: Account, project: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = client.post(url(project), json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_generate_edit_history_and_restore_each_land_as_a_version(client: TestClient, owner: Account, org: Any) -> None:
    project = new_project(client, owner, org)
    versions_before = version_count(client, owner, project)

    # No description given and none on the project: refused, nothing made.
    refused = client.post(url(project), json={}, headers=owner.headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "description_required"
    missing = client.get(url(project), headers=owner.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "design_system_not_found"
    assert version_count(client, owner, project) == versions_before

    generated = generate(client, owner, project, description=FINTECH)
    design = generated["designSystem"]
    document = design["document"]
    schema.validate(document)
    assert document["description"] == FINTECH and document["generatedByAi"] is True
    assert design["pageName"] is None and design["revision"] == 1 and design["pages"] == []
    for mode in ("light", "dark"):
        assert failing_pairs(document["tokens"][mode]) == [], mode
    assert generated["adjustments"] == []
    first_version = generated["versionId"]
    assert version_count(client, owner, project) == versions_before + 1
    assert generated["versionNumber"] == versions_before + 1

    # The rendered files are the version's files, read back through the versions API.
    css = version_file(client, owner, project, first_version, "src/design-tokens.css")
    master_md = version_file(client, owner, project, first_version, "design-system/MASTER.md")
    assert f"--primary: {document['tokens']['light']['primary']};" in css
    assert "prefers-reduced-motion" in css and ".dark" in css
    assert master_md.startswith("# Design system: Shop") and "## Anti-patterns (avoid)" in master_md

    read = client.get(url(project), headers=owner.headers)
    assert read.status_code == 200 and read.json()["designSystem"]["document"] == document

    # A pale yellow primary fails on white: it is moved until it passes, and the answer says so.
    edited = client.patch(url(project), json={"light": {"primary": "#FFF59D"}}, headers=owner.headers)
    assert edited.status_code == 200, edited.text
    body = edited.json()
    light = body["designSystem"]["document"]["tokens"]["light"]
    adjustment = next(a for a in body["adjustments"] if (a["mode"], a["token"]) == ("light", "primary"))
    assert adjustment["from"] == "#FFF59D" and adjustment["to"] == light["primary"] != "#FFF59D"
    assert adjustment["reason"]
    assert failing_pairs(light) == []
    assert body["designSystem"]["generatedByAi"] is False and body["designSystem"]["revision"] == 2
    assert body["versionId"] != first_version
    edited_css = version_file(client, owner, project, body["versionId"], "src/design-tokens.css")
    assert f"--primary: {light['primary']};" in edited_css

    # Bad input: 4xx, and nothing changes (no revision, no version).
    versions_now = version_count(client, owner, project)
    for bad in (
        {"light": {"primary": "blue"}},
        {"palette": {"surface": "#FFFFFF"}},
        {"dark": {"notAToken": "#FFFFFF"}},
        {"typography": {"heading": "Inter; } body { color: red"}},
        {"antiPatterns": ["x" * 201]},
        {"tokens": {}},
        {},
    ):
        answer = client.patch(url(project), json=bad, headers=owner.headers)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["error"]["code"] in ("invalid_design_system", "validation_failed", "nothing_to_change")
    assert client.get(url(project), headers=owner.headers).json()["designSystem"]["revision"] == 2
    assert version_count(client, owner, project) == versions_now

    # History, newest first, a page at a time.
    history = client.get(url(project, "/revisions"), params={"limit": 1}, headers=owner.headers)
    assert history.status_code == 200, history.text
    page_one = history.json()
    assert [item["change"] for item in page_one["items"]] == ["edited"] and page_one["nextCursor"]
    page_two = client.get(
        url(project, "/revisions"), params={"limit": 1, "cursor": page_one["nextCursor"]}, headers=owner.headers
    ).json()
    assert [item["change"] for item in page_two["items"]] == ["generated"] and page_two["nextCursor"] is None
    generated_revision = page_two["items"][0]
    for forged in ("not-a-cursor", encode_cursor("99999999999"), encode_cursor("-1")):
        answer = client.get(url(project, "/revisions"), params={"cursor": forged}, headers=owner.headers)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_cursor", forged
    assert generated_revision["versionId"] == first_version and generated_revision["document"] == document
    me = client.get("/api/users/me", headers=owner.headers).json()["user"]
    assert generated_revision["createdByName"] == (me["fullName"] or me["email"])

    # Restore brings the generated state back as a new revision and a new version.
    restored = client.post(
        url(project, f"/revisions/{generated_revision['id']}/restore"), json=None, headers=owner.headers
    )
    assert restored.status_code == 201, restored.text
    again = restored.json()
    assert again["designSystem"]["document"] == document and again["designSystem"]["revision"] == 3
    assert version_file(client, owner, project, again["versionId"], "src/design-tokens.css") == css
    newest = client.get(url(project, "/revisions"), headers=owner.headers).json()["items"]
    assert [item["revision"] for item in newest] == [3, 2, 1]
    assert newest[0]["change"] == "restored" and newest[0]["restoredFromId"] == generated_revision["id"]
    assert newest[0]["versionId"] == again["versionId"]

    unknown = client.post(
        url(project, "/revisions/00000000-0000-0000-0000-000000000000/restore"), headers=owner.headers
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "revision_not_found"
    assert client.post(url(project, "/revisions/not-an-id/restore"), headers=owner.headers).status_code == 404


def test_a_page_override_is_merged_over_the_master_and_rendered(client: TestClient, owner: Account, org: Any) -> None:
    project = new_project(client, owner, org, description=FINTECH)
    early = client.post(url(project), json={"pageName": "Checkout"}, headers=owner.headers)
    assert early.status_code == 409 and early.json()["error"]["code"] == "design_system_not_found"

    master = generate(client, owner, project)["designSystem"]["document"]  # the project's description
    assert master["description"] == FINTECH
    page = generate(
        client, owner, project, pageName="Checkout", description="an online shop's checkout with payment forms"
    )
    shown = page["designSystem"]
    assert shown["pageName"] == "Checkout" and shown["pages"] == ["Checkout"]
    assert shown["document"] == merge_page(master, shown["override"])
    # A page changes layout and rules, never the brand.
    assert shown["document"]["tokens"] == master["tokens"]
    assert set(shown["override"]) <= {"pattern", "effects", "antiPatterns", "checklist"}

    merged = client.get(url(project), params={"page": "checkout"}, headers=owner.headers).json()["designSystem"]
    assert merged["pageName"] == "Checkout" and merged["document"] == shown["document"]
    plain = client.get(url(project), params={"page": "About"}, headers=owner.headers).json()["designSystem"]
    assert plain["pageName"] is None and plain["document"] == master and plain["pages"] == ["Checkout"]

    files = client.get(f"/api/projects/{project['id']}/files/design-system/pages/checkout.md", headers=owner.headers)
    assert files.status_code == 200 and files.json()["content"].startswith("# Page: Checkout")
    page_history = client.get(url(project, "/revisions"), params={"page": "Checkout"}, headers=owner.headers)
    assert [item["pageName"] for item in page_history.json()["items"]] == ["Checkout"]
    none = client.get(url(project, "/revisions"), params={"page": "About"}, headers=owner.headers)
    assert none.status_code == 404


def test_other_tenants_viewers_and_suspended_organizations(
    client: TestClient, db: psycopg.Connection[Any], owner: Account, org: Any
) -> None:
    project = new_project(client, owner, org, description=FINTECH)
    revision = generate(client, owner, project)["revisionId"]
    calls: list[tuple[str, str, Any]] = [
        ("POST", url(project), {}),
        ("GET", url(project), None),
        ("PATCH", url(project), {"antiPatterns": ["Carousels"]}),
        ("GET", url(project, "/revisions"), None),
        ("POST", url(project, f"/revisions/{revision}/restore"), None),
    ]

    stranger = make_user(db)
    make_organization(db, stranger, name="Elsewhere")
    for method, path, body in calls:
        answer = client.request(method, path, json=body, headers=stranger.headers)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found", (method, path)

    viewer = make_user(db)
    add_member(db, org, viewer, "viewer", ["view"])
    for method, path, body in calls:
        answer = client.request(method, path, json=body, headers=viewer.headers)
        expected = 200 if method == "GET" else 403
        assert answer.status_code == expected, (method, path, answer.text)

    db.execute("UPDATE organizations SET suspended_at = now() WHERE id = %s", (org,))
    suspended = client.post(url(project), json={}, headers=owner.headers)
    assert suspended.status_code == 403 and suspended.json()["error"]["code"] == "organization_suspended"
    assert client.get(url(project), headers=owner.headers).status_code == 200
    history = client.get(url(project, "/revisions"), headers=owner.headers).json()["items"]
    assert len(history) == 1


def test_a_new_react_project_with_a_description_gets_its_design_system_in_version_one(
    client: TestClient, owner: Account, org: Any
) -> None:
    project = new_project(
        client, owner, org, description="a children's learning app", template="react-vite-ts-tailwind"
    )
    design = client.get(url(project), headers=owner.headers)
    assert design.status_code == 200, design.text
    document = design.json()["designSystem"]["document"]
    assert document["description"] == "a children's learning app"
    first = project["currentVersionId"]
    css = version_file(client, owner, project, first, "src/design-tokens.css")
    assert f"--background: {document['tokens']['light']['background']};" in css
    assert version_file(client, owner, project, first, "design-system/MASTER.md").startswith("# Design system")
    assert version_count(client, owner, project) == 1
    history = client.get(url(project, "/revisions"), headers=owner.headers).json()["items"]
    assert [(item["change"], item["versionId"]) for item in history] == [("generated", first)]

    # Without a description, or from another template: no design system.
    for plain in (
        new_project(client, owner, org, template="react-vite-ts-tailwind"),
        new_project(client, owner, org, description="a vet clinic dashboard", template="blank"),
    ):
        assert client.get(url(plain), headers=owner.headers).status_code == 404


def test_a_failing_engine_does_not_stop_a_project(
    client: TestClient, owner: Account, org: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UIPRO_ASSETS_DIR", str(tmp_path))  # no engine there
    project = new_project(client, owner, org, description=FINTECH, template="react-vite-ts-tailwind")
    assert client.get(url(project), headers=owner.headers).status_code == 404
    unavailable = client.post(url(project), json={}, headers=owner.headers)
    assert unavailable.status_code == 503 and unavailable.json()["error"]["code"] == "design_engine_unavailable"
    assert version_count(client, owner, project) == 1


def test_concurrent_changes_queue_on_the_project_and_each_is_kept(
    client: TestClient, owner: Account, org: Any, database_url: str
) -> None:
    project = new_project(client, owner, org, description=FINTECH)
    generate(client, owner, project)
    results: dict[str, Any] = {}
    changes = {
        "fonts": lambda: client.patch(url(project), json={"typography": {"heading": "Lora"}}, headers=owner.headers),
        "rules": lambda: client.patch(url(project), json={"antiPatterns": ["Carousels"]}, headers=owner.headers),
    }

    def run(name: str) -> None:
        results[name] = changes[name]()

    writers = [threading.Thread(target=run, args=(name,)) for name in changes]
    with psycopg.connect(database_url) as holder:
        # Hold the project's row: both edits get as far as it, then wait.
        holder.execute("SELECT 1 FROM projects WHERE id = %s FOR UPDATE", (project["id"],))
        for writer in writers:
            writer.start()
        wait_for_lock_waiters(database_url, 2)
        holder.commit()
    for writer in writers:
        writer.join()

    assert [results[name].status_code for name in changes] == [200, 200], {k: r.text for k, r in results.items()}
    assert sorted(results[name].json()["designSystem"]["revision"] for name in changes) == [2, 3]
    # Neither edit is lost: the second one read the first one's document.
    final = client.get(url(project), headers=owner.headers).json()["designSystem"]["document"]
    assert final["typography"]["heading"]["family"] == "Lora" and final["antiPatterns"] == ["Carousels"]
    history = client.get(url(project, "/revisions"), headers=owner.headers).json()["items"]
    assert [item["revision"] for item in history] == [3, 2, 1]
    assert len({item["versionId"] for item in history}) == 3
