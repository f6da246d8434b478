"""The prompt library: users' own prompts and the public ones, through the real stack."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.chats.support import DB, User, at, count, create_prompt, error_code, ids, pages
from tests.support.identity import make_user


def test_prompts_are_private_unless_public(client: TestClient, db: DB, owner: User) -> None:
    mine = create_prompt(
        client,
        owner,
        title="  Landing page  ",
        description="  Hero, features, pricing  ",
        content="Build a landing page\n",
        category=" Marketing ",
    )
    assert mine["title"] == "Landing page" and mine["description"] == "Hero, features, pricing"
    assert mine["content"] == "Build a landing page\n" and mine["category"] == "Marketing"
    assert mine["isPublic"] is False and mine["createdBy"] == str(owner.id)
    assert set(mine) == {
        "id",
        "title",
        "description",
        "content",
        "category",
        "isPublic",
        "createdBy",
        "createdAt",
        "updatedAt",
    }
    bare = create_prompt(client, owner, description="", category="  ")
    assert bare["description"] is None and bare["category"] is None
    shared = create_prompt(client, owner, title="Shared", isPublic=True)

    someone = make_user(db)
    theirs = create_prompt(client, someone, title="Theirs")
    got = client.get(f"/api/prompts/{mine['id']}", headers=owner.headers)
    assert got.status_code == 200 and got.json() == {"prompt": mine}
    hidden = client.get(f"/api/prompts/{mine['id']}", headers=someone.headers)
    assert hidden.status_code == 404 and "Landing" not in hidden.text
    assert client.get(f"/api/prompts/{shared['id']}", headers=someone.headers).json() == {"prompt": shared}

    listed = client.get("/api/prompts", headers=someone.headers).json()
    assert listed == {"items": [theirs, shared], "nextCursor": None}
    assert ids(client.get("/api/prompts", headers=owner.headers).json()["items"]) == ids([shared, bare, mine])
    assert ids(client.get("/api/prompts?mine=true", headers=someone.headers).json()["items"]) == [theirs["id"]]

    for bad in (uuid.uuid4(), "not-a-uuid"):
        assert client.get(f"/api/prompts/{bad}", headers=owner.headers).status_code == 404
    assert client.get("/api/prompts").status_code == 401
    assert client.post("/api/prompts", json={"title": "x", "content": "y"}).status_code == 401


def test_prompts_filter_by_category_mine_and_text(client: TestClient, db: DB, owner: User) -> None:
    someone = make_user(db)
    landing = create_prompt(client, owner, title="Landing PAGE", category="marketing")
    pricing = create_prompt(client, owner, title="Pricing", description="A pricing table with 100% more tiers")
    snake = create_prompt(client, someone, title="snake_case names", category="code", isPublic=True)
    create_prompt(client, someone, title="Private landing page", category="marketing")  # never seen by owner

    def listed(**params: Any) -> list[str]:
        response = client.get("/api/prompts", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        return ids(response.json()["items"])

    assert listed() == ids([snake, pricing, landing])
    assert listed(category="marketing") == [landing["id"]]
    assert listed(category="code") == [snake["id"]]
    assert listed(category="Code") == []
    assert listed(mine="true") == ids([pricing, landing])
    assert listed(mine="true", category="code") == []
    assert listed(q="landing") == [landing["id"]]
    assert listed(q="  page ") == [landing["id"]]
    assert listed(q="PRICING TABLE") == [pricing["id"]]  # in the description
    assert listed(q="100%") == [pricing["id"]]
    assert listed(q="%") == [pricing["id"]]  # a literal percent sign, not "anything"
    assert listed(q="_") == [snake["id"]]  # a literal underscore, not "any character"
    assert listed(q="e_c") == [snake["id"]]
    assert listed(q="\\") == []
    assert listed(q="nothing like this") == []

    for params in ({"q": "x" * 201}, {"category": "x" * 101}, {"q": "nul\x00"}, {"mine": "perhaps"}):
        response = client.get("/api/prompts", params=params, headers=owner.headers)
        assert response.status_code == 422, params


def test_prompts_are_keyset_paginated(client: TestClient, db: DB, owner: User) -> None:
    created = [create_prompt(client, owner, title=f"Prompt {n}") for n in range(5)]
    listed = pages(client, owner, "/api/prompts", 2)
    assert [len(p) for p in listed] == [2, 2, 1]
    assert [i for p in listed for i in ids(p)] == [p["id"] for p in reversed(created)]
    response = client.get("/api/prompts", params={"cursor": "nope"}, headers=owner.headers)
    assert response.status_code == 422 and error_code(response) == "invalid_cursor"


def test_only_the_creator_or_a_platform_admin_changes_a_prompt(client: TestClient, db: DB, owner: User) -> None:
    public = create_prompt(client, owner, title="Public", category="ui", isPublic=True)
    private = create_prompt(client, owner, title="Private", description="Notes")

    edited = client.patch(
        f"/api/prompts/{private['id']}",
        json={"title": " Renamed ", "content": "New body", "description": None, "isPublic": True},
        headers=owner.headers,
    )
    assert edited.status_code == 200, edited.text
    prompt = edited.json()["prompt"]
    assert (prompt["title"], prompt["content"], prompt["description"], prompt["isPublic"]) == (
        "Renamed",
        "New body",
        None,
        True,
    )
    assert prompt["category"] is None and at(prompt["updatedAt"]) > at(private["updatedAt"])
    unchanged = client.patch(f"/api/prompts/{private['id']}", json={}, headers=owner.headers)
    assert unchanged.json() == edited.json()
    back = client.patch(f"/api/prompts/{private['id']}", json={"isPublic": False}, headers=owner.headers)
    assert back.json()["prompt"]["isPublic"] is False

    for role in ("user", "co_admin"):
        other = make_user(db, role=role)
        for method in ("PATCH", "DELETE"):
            refused = client.request(
                method, f"/api/prompts/{public['id']}", json={"title": "Mine"}, headers=other.headers
            )
            assert refused.status_code == 403, (role, method, refused.text)
            assert error_code(refused) == "not_prompt_owner"
            hidden = client.request(
                method, f"/api/prompts/{private['id']}", json={"title": "Mine"}, headers=other.headers
            )
            assert hidden.status_code == 404, (role, method, hidden.text)
            assert "Renamed" not in hidden.text
    assert db.execute("SELECT title FROM prompts ORDER BY created_at").fetchall() == [("Public",), ("Renamed",)]
    assert count(db, "SELECT count(*) FROM audit_logs") == 0  # creators' own edits are not audited

    admin = make_user(db, role="admin")
    assert client.get(f"/api/prompts/{private['id']}", headers=admin.headers).status_code == 200
    moderated = client.patch(f"/api/prompts/{public['id']}", json={"category": None}, headers=admin.headers)
    assert moderated.status_code == 200 and moderated.json()["prompt"]["category"] is None
    assert moderated.json()["prompt"]["createdBy"] == str(owner.id)
    assert client.delete(f"/api/prompts/{private['id']}", headers=admin.headers).status_code == 204
    audited = db.execute("SELECT action, user_id, metadata FROM audit_logs ORDER BY created_at").fetchall()
    assert audited == [
        ("prompt.update", admin.id, {"createdBy": str(owner.id), "title": "Public", "fields": ["category"]}),
        ("prompt.delete", admin.id, {"createdBy": str(owner.id), "title": "Renamed"}),
    ]

    assert client.delete(f"/api/prompts/{public['id']}", headers=owner.headers).status_code == 204
    assert count(db, "SELECT count(*) FROM prompts") == 0
    for method in ("GET", "PATCH", "DELETE"):
        gone = client.request(method, f"/api/prompts/{public['id']}", json={"title": "x"}, headers=owner.headers)
        assert gone.status_code == 404, method
        assert (
            client.request(method, "/api/prompts/not-a-uuid", json={"title": "x"}, headers=owner.headers).status_code
            == 404
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"content": "x"}, "title"),
        ({"title": "x"}, "content"),
        ({"title": "", "content": "x"}, "title"),
        ({"title": "   ", "content": "x"}, "title"),
        ({"title": "x" * 256, "content": "x"}, "title"),
        ({"title": "tab\there", "content": "x"}, "title"),
        ({"title": "x", "content": ""}, "content"),
        ({"title": "x", "content": "   \n"}, "content"),
        ({"title": "x", "content": "x" * 20_001}, "content"),
        ({"title": "x", "content": "x", "category": "c" * 101}, "category"),
        ({"title": "x", "content": "x", "description": "d" * 5_001}, "description"),
        ({"title": "x", "content": "x", "isPublic": "maybe"}, "isPublic"),
        ({"title": "x", "content": "x", "createdBy": str(uuid.uuid4())}, "createdBy"),
    ],
)
def test_bad_prompt_input_is_refused_and_stores_nothing(
    client: TestClient, db: DB, owner: User, body: Any, field: str
) -> None:
    response = client.post("/api/prompts", json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert error_code(response) == "validation_failed"
    assert response.json()["error"]["details"][0]["field"] == field
    assert count(db, "SELECT count(*) FROM prompts") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": None}, "title"),
        ({"content": None}, "content"),
        ({"isPublic": None}, "isPublic"),
        ({"title": ""}, "title"),
        ({"content": " "}, "content"),
        ({"content": "x" * 20_001}, "content"),
        ({"category": "c" * 101}, "category"),
        ({"title": "Fine", "createdBy": None}, "createdBy"),
    ],
)
def test_bad_prompt_changes_are_refused_and_change_nothing(
    client: TestClient, db: DB, owner: User, body: Any, field: str
) -> None:
    prompt = create_prompt(client, owner, category="kept")
    before = db.execute("SELECT * FROM prompts").fetchall()
    response = client.patch(f"/api/prompts/{prompt['id']}", json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == field
    assert db.execute("SELECT * FROM prompts").fetchall() == before
