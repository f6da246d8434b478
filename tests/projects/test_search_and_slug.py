"""Finding projects by text (``GET /api/projects?q=``) with the other filters and keyset pages,
and changing a project's slug."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from tests.projects.support import create_project
from tests.support.identity import Account, add_member, make_organization, make_user


def _new(client: TestClient, owner: Account, org: Any, name: str, description: str | None = None) -> str:
    body = {"organizationId": str(org), "name": name, "template": "blank", "description": description}
    response = client.post("/api/projects", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["project"]["id"])


def _found(client: TestClient, user: Account, **params: Any) -> list[str]:
    response = client.get("/api/projects", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.json()["nextCursor"] is None
    return [project["id"] for project in response.json()["items"]]


def _all_pages(client: TestClient, user: Account, limit: int, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/projects", params=query, headers=user.headers)
        assert response.status_code == 200, response.text
        pages.append([project["id"] for project in response.json()["items"]])
        cursor = response.json()["nextCursor"]
        if cursor is None:
            return pages


def test_q_finds_text_in_names_and_descriptions_in_any_case_literally(
    client: TestClient, owner: Account, org: Any
) -> None:
    shop = _new(client, owner, org, "Alpha Shop")
    blog = _new(client, owner, org, "Beta blog", "A SHOP for bees")
    _new(client, owner, org, "Gamma", "Nothing to see")
    percent = _new(client, owner, org, "100% pure")
    underscore = _new(client, owner, org, "under_score")

    assert _found(client, owner, q="shop") == [blog, shop]  # newest first
    assert _found(client, owner, q="  sHoP \t") == [blog, shop]  # trimmed
    assert _found(client, owner, q="bees") == [blog]
    assert _found(client, owner, q="%") == [percent]  # LIKE's wildcards are plain characters
    assert _found(client, owner, q="_") == [underscore]
    assert _found(client, owner, q="nowhere") == []
    assert len(_found(client, owner, q="   ")) == 5 and len(_found(client, owner, q="")) == 5  # blank: no filter


def test_q_combines_with_the_organization_filter_and_the_callers_organizations(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    here = _new(client, owner, org, "Shop here")
    second = make_organization(db, owner, "Second")
    there = _new(client, owner, second, "Shop there")
    stranger = make_user(db)
    strangers_org = make_organization(db, stranger, "Elsewhere")
    theirs = _new(client, stranger, strangers_org, "Their shop")

    assert _found(client, owner, q="shop") == [there, here]
    assert _found(client, owner, q="shop", organizationId=str(org)) == [here]
    assert _found(client, owner, q="shop", organizationId=str(strangers_org)) == []  # not theirs to search
    assert _found(client, stranger, q="shop") == [theirs]
    admin = make_user(db, role="admin")
    assert _found(client, admin, q="shop") == [theirs, there, here]


def test_q_keeps_keyset_pages_whole_and_in_order(client: TestClient, owner: Account, org: Any) -> None:
    matching = []
    for n in range(7):
        matching.append(_new(client, owner, org, f"Shop {n}"))
        _new(client, owner, org, f"Other {n}")
    newest_first = list(reversed(matching))

    pages = _all_pages(client, owner, 2, q="shop")
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert [project for page in pages for project in page] == newest_first
    # The same cursor keeps its place whatever else matches later.
    first = client.get("/api/projects", params={"q": "shop", "limit": 3}, headers=owner.headers).json()
    _new(client, owner, org, "Shop newest")
    rest = client.get(
        "/api/projects", params={"q": "shop", "limit": 10, "cursor": first["nextCursor"]}, headers=owner.headers
    ).json()
    assert [p["id"] for p in first["items"]] + [p["id"] for p in rest["items"]] == newest_first


def test_q_longer_than_100_characters_is_422(client: TestClient, owner: Account, org: Any) -> None:
    name = "x" * 100
    project = _new(client, owner, org, name)
    assert _found(client, owner, q=name) == [project]
    response = client.get("/api/projects", params={"q": name + "x"}, headers=owner.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and error["details"][0]["field"] == "q"
    bad_cursor = client.get("/api/projects", params={"q": "x", "cursor": "nonsense"}, headers=owner.headers)
    assert bad_cursor.status_code == 422 and bad_cursor.json()["error"]["code"] == "invalid_cursor"


# ----------------------------------------------------------------------------------- the slug


def test_the_slug_changes_unique_within_the_organization(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    project = create_project(client, owner, org, "Shop", template="blank")
    other = create_project(client, owner, org, "Blog", template="blank")
    url = f"/api/projects/{project['id']}"

    changed = client.patch(url, json={"slug": "my-shop-2"}, headers=owner.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["project"]["slug"] == "my-shop-2"
    assert client.get(url, headers=owner.headers).json()["project"]["slug"] == "my-shop-2"
    same = client.patch(url, json={"slug": "my-shop-2"}, headers=owner.headers)
    assert same.status_code == 200 and same.json()["project"]["slug"] == "my-shop-2"
    (audited,) = db.execute(
        "SELECT metadata FROM audit_logs WHERE action = 'project.update' AND resource_id = %s", (project["id"],)
    ).fetchall()
    assert audited[0]["fields"] == ["slug"]

    # Another project of the organization has it: 409, and nothing changes.
    clash = client.patch(url, json={"slug": other["slug"], "name": "Renamed"}, headers=owner.headers)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "slug_taken"
    after = client.get(url, headers=owner.headers).json()["project"]
    assert after["slug"] == "my-shop-2" and after["name"] == "Shop"
    # Once that project is deleted, its slug is free.
    assert client.delete(f"/api/projects/{other['id']}", headers=owner.headers).status_code == 204
    reused = client.patch(url, json={"slug": other["slug"]}, headers=owner.headers)
    assert reused.status_code == 200 and reused.json()["project"]["slug"] == other["slug"]
    # Another organization's project may have the same slug.
    second = make_organization(db, owner, "Second")
    elsewhere = create_project(client, owner, second, "Elsewhere", template="blank")
    moved = client.patch(f"/api/projects/{elsewhere['id']}", json={"slug": other["slug"]}, headers=owner.headers)
    assert moved.status_code == 200 and moved.json()["project"]["slug"] == other["slug"]


@pytest.mark.parametrize("slug", ["My Shop", "-shop", "shop-", "sh_op", "shop\n", "", "a" * 61, "ßhop", 42], ids=repr)
def test_a_malformed_slug_is_422_and_changes_nothing(client: TestClient, owner: Account, org: Any, slug: Any) -> None:
    project = create_project(client, owner, org, "Shop", template="blank")
    response = client.patch(f"/api/projects/{project['id']}", json={"slug": slug}, headers=owner.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and error["details"][0]["field"] == "slug"
    assert client.get(f"/api/projects/{project['id']}", headers=owner.headers).json()["project"] == project


def test_only_who_manages_the_project_changes_its_slug_and_outsiders_find_nothing(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    project = create_project(client, owner, org, "Shop", template="blank")
    url = f"/api/projects/{project['id']}"
    editor = make_user(db)
    add_member(db, org, editor, "member", ["view", "edit"])
    outsider = make_user(db)
    make_organization(db, outsider, "Elsewhere")

    refused = client.patch(url, json={"slug": "taken-over"}, headers=editor.headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    for target in (project["id"], str(uuid.uuid4()), "not-a-uuid"):
        missing = client.patch(f"/api/projects/{target}", json={"slug": "taken-over"}, headers=outsider.headers)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get(url, headers=owner.headers).json()["project"]["slug"] == project["slug"]
