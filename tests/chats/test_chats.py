"""Chats, messages and the prompt library, through the real stack.

Projects are made directly with SQL here: these tests are about chats, not about projects.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from datetime import datetime
from typing import Any

import psycopg
import pytest
from fastapi.routing import APIRoute
from psycopg.types.json import Jsonb
from starlette.testclient import TestClient

from devstack.template import Template
from mm_common.auth import declared_action
from mm_common.pagination import encode_cursor
from mm_common.permissions import Action
from tests.support import identity
from tests.support.identity import add_member, make_organization, make_user

DB = psycopg.Connection[Any]
User = identity.Account


# ------------------------------------------------------------------------------------ helpers


def make_project(db: DB, organization_id: uuid.UUID, name: str = "Shop") -> uuid.UUID:
    row = db.execute(
        "INSERT INTO projects (organization_id, name, slug) VALUES (%s, %s, %s) RETURNING id",
        (organization_id, name, f"p-{uuid.uuid4().hex[:12]}"),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def create_chat(client: TestClient, user: User, project: Any, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/projects/{project}/chats", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    chat: dict[str, Any] = response.json()["chat"]
    return chat


@pytest.fixture(autouse=True)
def _ai_catalog(database_url: str) -> None:
    """Posting a message starts a generation job, which needs a model in the catalog."""
    from mm_common import db as mm_db
    from mm_common.ai.catalog import seed_catalog

    with mm_db.transaction() as conn:
        seed_catalog(conn)


def post_message(client: TestClient, user: User, chat_id: Any, content: str) -> dict[str, Any]:
    response = client.post(f"/api/chats/{chat_id}/messages", json={"content": content}, headers=user.headers)
    assert response.status_code == 202, response.text
    # These tests are about storing messages: end the generation job as a worker would, so the
    # chat accepts the next message (one generation at a time per chat).
    from mm_common import db as mm_db

    with mm_db.transaction() as conn:
        conn.execute("UPDATE generation_jobs SET status = 'canceled' WHERE id = %s", (response.json()["job"]["id"],))
    message: dict[str, Any] = response.json()["message"]
    return message


def create_prompt(client: TestClient, user: User, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/api/prompts", json={"title": "A prompt", "content": "Do it.", **body}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    prompt: dict[str, Any] = response.json()["prompt"]
    return prompt


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def count(db: DB, sql: str, *params: Any) -> int:
    row = db.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def pages(client: TestClient, user: User, path: str, limit: int, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a keyset-paginated list, following nextCursor."""
    result: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query, headers=user.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        result.append(body["items"])
        cursor = body["nextCursor"]
        if cursor is None:
            return result


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


@pytest.fixture
def owner(db: DB) -> User:
    return make_user(db, full_name="Olive Owner")


@pytest.fixture
def org(db: DB, owner: User) -> uuid.UUID:
    return make_organization(db, owner, name="Acme")


@pytest.fixture
def project(db: DB, org: uuid.UUID) -> uuid.UUID:
    return make_project(db, org)


# ----------------------------------------------------------------------------------- the routes


EXPECTED_ROUTES = {
    ("POST", "/api/projects/{id}/chats"): Action.PROJECT_EDIT,
    ("GET", "/api/projects/{id}/chats"): Action.PROJECT_VIEW,
    ("GET", "/api/chats/{id}"): Action.PROJECT_VIEW,
    ("PATCH", "/api/chats/{id}"): Action.PROJECT_EDIT,
    ("DELETE", "/api/chats/{id}"): Action.PROJECT_EDIT,
    ("GET", "/api/chats/{id}/messages"): Action.PROJECT_VIEW,
    ("POST", "/api/chats/{id}/messages"): Action.PROJECT_EDIT,
    ("GET", "/api/jobs/{id}"): Action.PROJECT_VIEW,
    ("POST", "/api/jobs/{id}/cancel"): Action.PROJECT_EDIT,
    ("POST", "/api/messages/{id}/approve"): Action.PROJECT_EDIT,
    ("GET", "/api/chats/{id}/context-preview"): Action.PROJECT_VIEW,
    ("POST", "/api/chats/{id}/undo"): Action.PROJECT_EDIT,
    ("POST", "/api/chats/{id}/retry"): Action.PROJECT_EDIT,
    ("POST", "/api/messages/{id}/reject"): Action.PROJECT_EDIT,
    ("POST", "/api/prompts"): Action.SELF,
    ("GET", "/api/prompts"): Action.SELF,
    ("GET", "/api/prompts/{id}"): Action.SELF,
    ("PATCH", "/api/prompts/{id}"): Action.SELF,
    ("DELETE", "/api/prompts/{id}"): Action.SELF,
}


def chats_module() -> Any:
    # The runtime's sys.path (function code and layer), without importing the other functions.
    template = Template.load()
    for path in [*template.layer_dirs(), *(f.code_dir for f in template.functions())]:
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    return importlib.import_module("chats_fn.app")


def test_the_app_declares_exactly_its_routes_each_with_its_action() -> None:
    declared = {
        (method, route.path): declared_action(route)
        for route in chats_module().app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert declared == EXPECTED_ROUTES
    in_template = {(r.method, r.path) for r in Template.load().routes() if r.function == "ChatsFunction"}
    assert in_template == set(EXPECTED_ROUTES)


@pytest.mark.parametrize(
    ("content", "title"),
    [
        ("Build me a todo app", "Build me a todo app"),
        ("  Build me\ta   todo app  \nwith dark mode", "Build me a todo app"),
        ("\n\n   \n  Second line wins\nthird", "Second line wins"),
        ("x" * 80, "x" * 80),
        ("x" * 81, "x" * 79 + "…"),
        ("word " * 30, ("word " * 16).rstrip() + "…"),
        ("\x07", None),
    ],
)
def test_a_chat_title_from_a_message(content: str, title: str | None) -> None:
    derived = chats_module().title_from_message(content)
    assert derived == title
    assert derived is None or len(derived) <= 80


# -------------------------------------------------------------------------------------- chats


def test_create_get_rename_list_delete(client: TestClient, db: DB, owner: User, project: uuid.UUID) -> None:
    chat = create_chat(client, owner, project, title="  Landing page  ")
    assert chat["title"] == "Landing page" and chat["projectId"] == str(project)
    assert chat["createdBy"] == str(owner.id)
    assert chat["createdAt"].endswith("Z") and chat["updatedAt"].endswith("Z")
    assert set(chat) == {"id", "projectId", "title", "createdBy", "createdAt", "updatedAt"}

    untitled = client.post(f"/api/projects/{project}/chats", headers=owner.headers)  # no body at all
    assert untitled.status_code == 201, untitled.text
    assert untitled.json()["chat"]["title"] is None
    assert create_chat(client, owner, project)["title"] is None  # {}
    assert create_chat(client, owner, project, title=None)["title"] is None

    got = client.get(f"/api/chats/{chat['id']}", headers=owner.headers)
    assert got.status_code == 200 and got.json() == {"chat": chat}

    renamed = client.patch(f"/api/chats/{chat['id']}", json={"title": " Checkout flow "}, headers=owner.headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["chat"]["title"] == "Checkout flow"
    assert at(renamed.json()["chat"]["updatedAt"]) > at(chat["updatedAt"])
    same = client.patch(f"/api/chats/{chat['id']}", json={"title": "Checkout flow"}, headers=owner.headers)
    assert same.json() == renamed.json()  # nothing changed, not even updatedAt

    listed = client.get(f"/api/projects/{project}/chats", headers=owner.headers).json()
    assert listed["nextCursor"] is None
    assert listed["items"][0] == renamed.json()["chat"]  # renamed last: most recently active
    assert len(listed["items"]) == 4

    post_message(client, owner, chat["id"], "hello")
    post_message(client, owner, chat["id"], "again")
    deleted = client.delete(f"/api/chats/{chat['id']}", headers=owner.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert count(db, "SELECT count(*) FROM chats WHERE id = %s", chat["id"]) == 0
    assert count(db, "SELECT count(*) FROM messages WHERE chat_id = %s", chat["id"]) == 0
    for method in ("GET", "PATCH", "DELETE"):
        again = client.request(method, f"/api/chats/{chat['id']}", json={"title": "x"}, headers=owner.headers)
        assert again.status_code == 404, method
    assert client.get(f"/api/chats/{chat['id']}/messages", headers=owner.headers).status_code == 404
    audited = db.execute(
        "SELECT user_id, organization_id, resource_id, metadata FROM audit_logs WHERE action = 'chat.delete'"
    ).fetchall()
    organization_id = db.execute("SELECT organization_id FROM projects WHERE id = %s", (project,)).fetchone()
    assert organization_id is not None
    assert audited == [
        (
            owner.id,
            organization_id[0],
            uuid.UUID(chat["id"]),
            {"projectId": str(project), "title": "Checkout flow"},
        )
    ]
    assert len(client.get(f"/api/projects/{project}/chats", headers=owner.headers).json()["items"]) == 3


def test_posting_a_message_stores_it_bumps_the_chat_and_names_an_untitled_one(
    client: TestClient, db: DB, owner: User, project: uuid.UUID
) -> None:
    chat = create_chat(client, owner, project)
    content = "  \n  Build me a todo app  \nwith dark mode and **bold** buttons\n"
    message = post_message(client, owner, chat["id"], content)
    assert message["content"] == content  # stored as sent
    assert message["chatId"] == chat["id"] and message["role"] == "user"
    assert message["createdBy"] == str(owner.id)
    assert message["metadata"] is None and message["approvalState"] is None
    assert set(message) == {"id", "chatId", "role", "content", "metadata", "approvalState", "createdBy", "createdAt"}
    after = client.get(f"/api/chats/{chat['id']}", headers=owner.headers).json()["chat"]
    assert after["title"] == "Build me a todo app"
    assert at(chat["updatedAt"]) < at(after["updatedAt"]) <= at(message["createdAt"])

    post_message(client, owner, chat["id"], "Something else entirely")
    assert client.get(f"/api/chats/{chat['id']}", headers=owner.headers).json()["chat"]["title"] == (
        "Build me a todo app"
    )

    long_first_line = "Please " + "really " * 20 + "make it fast"
    untitled = create_chat(client, owner, project)
    post_message(client, owner, untitled["id"], long_first_line)
    title = client.get(f"/api/chats/{untitled['id']}", headers=owner.headers).json()["chat"]["title"]
    assert len(title) <= 80 and title.endswith("…") and long_first_line.startswith(title[:-1])

    titled = create_chat(client, owner, project, title="Mine")
    post_message(client, owner, titled["id"], "Not the title")
    assert client.get(f"/api/chats/{titled['id']}", headers=owner.headers).json()["chat"]["title"] == "Mine"

    stored = db.execute(
        "SELECT role, content, created_by FROM messages WHERE id = %s", (uuid.UUID(message["id"]),)
    ).fetchone()
    assert stored == ("user", content, owner.id)


def test_chats_newest_activity_first_and_messages_oldest_first_with_cursors(
    client: TestClient, db: DB, owner: User, org: uuid.UUID, project: uuid.UUID
) -> None:
    chats = [create_chat(client, owner, project, title=f"Chat {n}") for n in range(5)]
    create_chat(client, owner, make_project(db, org, "Other"))  # another project's chat is not listed
    path = f"/api/projects/{project}/chats"
    listed = pages(client, owner, path, 2)
    assert [len(p) for p in listed] == [2, 2, 1]
    assert [i for p in listed for i in ids(p)] == [c["id"] for c in reversed(chats)]

    # Posting moves a chat to the top.
    post_message(client, owner, chats[1]["id"], "bump")
    order = [chats[1], chats[4], chats[3], chats[2], chats[0]]
    assert [i for p in pages(client, owner, path, 3) for i in ids(p)] == [c["id"] for c in order]

    # Messages: oldest to newest, whatever their role.
    chat_id = chats[0]["id"]
    posted = [post_message(client, owner, chat_id, f"message {n}") for n in range(4)]
    reply = db.execute(
        """
        INSERT INTO messages (chat_id, role, content, metadata, approval_state, created_at)
        VALUES (%s, 'assistant', 'Done.', %s, 'pending', clock_timestamp()) RETURNING id
        """,
        (uuid.UUID(chat_id), Jsonb({"files": ["src/App.tsx"]})),
    ).fetchone()
    assert reply is not None
    messages_path = f"/api/chats/{chat_id}/messages"
    listed = pages(client, owner, messages_path, 2)
    assert [len(p) for p in listed] == [2, 2, 1]
    flat = [m for p in listed for m in p]
    assert ids(flat) == [*ids(posted), str(reply[0])]
    assert flat[:4] == posted
    assert flat[4]["role"] == "assistant" and flat[4]["createdBy"] is None
    assert flat[4]["metadata"] == {"files": ["src/App.tsx"]} and flat[4]["approvalState"] == "pending"
    assert client.get(messages_path, headers=owner.headers).json() == {"items": flat, "nextCursor": None}
    empty = client.get(f"/api/chats/{chats[2]['id']}/messages", headers=owner.headers).json()
    assert empty == {"items": [], "nextCursor": None}

    for list_path in (path, messages_path):
        for bad in (
            "not-a-cursor",
            encode_cursor("yesterday", "x"),
            encode_cursor("2024-01-01T00:00:00", uuid.uuid4()),
        ):
            response = client.get(list_path, params={"cursor": bad}, headers=owner.headers)
            assert response.status_code == 422 and error_code(response) == "invalid_cursor", (list_path, bad)
        for limit in (0, 101):
            assert client.get(list_path, params={"limit": limit}, headers=owner.headers).status_code == 422


# ------------------------------------------------------------------------------- permissions


def test_viewers_read_and_members_need_the_edit_permission_to_write(
    client: TestClient, db: DB, owner: User, org: uuid.UUID, project: uuid.UUID
) -> None:
    chat = create_chat(client, owner, project, title="Ours")
    post_message(client, owner, chat["id"], "first")
    viewer, reader, editor, deployer, org_admin = (make_user(db) for _ in range(5))
    add_member(db, org, viewer, "viewer", ["view", "edit"])  # viewers stay read-only, whatever is stored
    add_member(db, org, reader, "member", ["view"])
    add_member(db, org, editor, "member", ["view", "edit"])
    add_member(db, org, deployer, "member", ["view", "deploy"])
    add_member(db, org, org_admin, "admin", ["view"])

    writes: list[tuple[str, str, Any]] = [
        ("POST", f"/api/projects/{project}/chats", {"title": "Theirs"}),
        ("PATCH", f"/api/chats/{chat['id']}", {"title": "Renamed"}),
        ("POST", f"/api/chats/{chat['id']}/messages", {"content": "hello"}),
        ("DELETE", f"/api/chats/{chat['id']}", None),
    ]
    for user in (viewer, reader):
        assert client.get(f"/api/projects/{project}/chats", headers=user.headers).json()["items"][0]["id"] == chat["id"]
        assert client.get(f"/api/chats/{chat['id']}", headers=user.headers).status_code == 200
        assert len(client.get(f"/api/chats/{chat['id']}/messages", headers=user.headers).json()["items"]) == 1
        for method, path, json in writes:
            response = client.request(method, path, json=json, headers=user.headers)
            assert response.status_code == 403, (method, path, response.text)
            assert error_code(response) == "forbidden"
    assert count(db, "SELECT count(*) FROM chats") == 1
    assert count(db, "SELECT count(*) FROM messages") == 1
    assert db.execute("SELECT title FROM chats").fetchone() == ("Ours",)

    for user in (editor, deployer, org_admin):
        theirs = create_chat(client, user, project)
        assert theirs["createdBy"] == str(user.id)
        message = post_message(client, user, chat["id"], f"from {user.email}")
        assert message["createdBy"] == str(user.id)
        renamed = client.patch(f"/api/chats/{theirs['id']}", json={"title": "Named"}, headers=user.headers)
        assert renamed.status_code == 200
        assert client.delete(f"/api/chats/{theirs['id']}", headers=user.headers).status_code == 204
    assert count(db, "SELECT count(*) FROM messages WHERE chat_id = %s", uuid.UUID(chat["id"])) == 4


def test_another_organizations_chats_do_not_exist_for_an_outsider(
    client: TestClient, db: DB, owner: User, project: uuid.UUID
) -> None:
    their_chat = create_chat(client, owner, project, title="Secret plans")
    post_message(client, owner, their_chat["id"], "the secret")

    outsider = make_user(db, role="co_admin")  # a co-admin reaches no organization's projects either
    ours = make_organization(db, outsider, name="Ours")
    our_project = make_project(db, ours)
    our_chat = create_chat(client, outsider, our_project)
    chat_routes: list[tuple[str, str, Any]] = [
        ("GET", "/api/chats/{}", None),
        ("PATCH", "/api/chats/{}", {"title": "Hacked"}),
        ("DELETE", "/api/chats/{}", None),
        ("GET", "/api/chats/{}/messages", None),
        ("POST", "/api/chats/{}/messages", {"content": "injected"}),
    ]
    project_routes: list[tuple[str, str, Any]] = [
        ("POST", "/api/projects/{}/chats", {"title": "Injected"}),
        ("GET", "/api/projects/{}/chats", None),
    ]
    routes = [(m, p.format(their_chat["id"]), j) for m, p, j in chat_routes]
    routes += [(m, p.format(project), j) for m, p, j in project_routes]
    for missing in (uuid.uuid4(), "not-a-uuid", our_chat["id"][:-1]):
        routes += [(m, p.format(missing), j) for m, p, j in chat_routes + project_routes]
    routes += [(m, p.format(our_chat["id"]), j) for m, p, j in project_routes]  # a chat id is not a project id
    routes += [(m, p.format(our_project), j) for m, p, j in chat_routes]  # nor the other way round
    for method, path, json in routes:
        response = client.request(method, path, json=json, headers=outsider.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert "Secret" not in response.text and "secret" not in response.text
    for method, path, json in routes[:7]:
        assert client.request(method, path, json=json).status_code == 401, (method, path)

    assert db.execute("SELECT title FROM chats WHERE id = %s", (uuid.UUID(their_chat["id"]),)).fetchone() == (
        "Secret plans",
    )
    assert count(db, "SELECT count(*) FROM messages") == 1
    assert count(db, "SELECT count(*) FROM chats WHERE project_id = %s", project) == 1
    assert ids(client.get(f"/api/projects/{our_project}/chats", headers=outsider.headers).json()["items"]) == [
        our_chat["id"]
    ]

    # The platform admin overrides (as for every organization action).
    admin = make_user(db, role="admin")
    assert client.get(f"/api/chats/{their_chat['id']}/messages", headers=admin.headers).status_code == 200


def test_a_deleted_projects_chats_are_gone(client: TestClient, db: DB, owner: User, project: uuid.UUID) -> None:
    chat = create_chat(client, owner, project, title="Before")
    post_message(client, owner, chat["id"], "hello")
    db.execute("UPDATE projects SET deleted_at = now() WHERE id = %s", (project,))
    routes: list[tuple[str, str, Any]] = [
        ("POST", f"/api/projects/{project}/chats", {}),
        ("GET", f"/api/projects/{project}/chats", None),
        ("GET", f"/api/chats/{chat['id']}", None),
        ("PATCH", f"/api/chats/{chat['id']}", {"title": "After"}),
        ("DELETE", f"/api/chats/{chat['id']}", None),
        ("GET", f"/api/chats/{chat['id']}/messages", None),
        ("POST", f"/api/chats/{chat['id']}/messages", {"content": "still there?"}),
    ]
    for method, path, json in routes:
        response = client.request(method, path, json=json, headers=owner.headers)
        assert response.status_code == 404, (method, path, response.text)
    assert db.execute("SELECT title FROM chats").fetchall() == [("Before",)]
    assert count(db, "SELECT count(*) FROM messages") == 1


# -------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "chats", {"title": ""}, "title"),
        ("POST", "chats", {"title": "   "}, "title"),
        ("POST", "chats", {"title": "x" * 256}, "title"),
        ("POST", "chats", {"title": "line\nbreak"}, "title"),
        ("POST", "chats", {"title": 42}, "title"),
        ("POST", "chats", {"projectId": str(uuid.uuid4())}, "projectId"),
        ("PATCH", "chat", {}, "title"),
        ("PATCH", "chat", {"title": None}, "title"),
        ("PATCH", "chat", {"title": " \t "}, "title"),
        ("PATCH", "chat", {"title": "x" * 256}, "title"),
        ("PATCH", "chat", {"title": "Fine", "createdBy": None}, "createdBy"),
        ("POST", "messages", {}, "content"),
        ("POST", "messages", {"content": ""}, "content"),
        ("POST", "messages", {"content": " \n\t "}, "content"),
        ("POST", "messages", {"content": "x" * 100_001}, "content"),
        ("POST", "messages", {"content": "nul \x00 byte"}, "content"),
        ("POST", "messages", {"content": None}, "content"),
        ("POST", "messages", {"content": "hi", "role": "assistant"}, "role"),
    ],
)
def test_bad_chat_input_is_refused_and_changes_nothing(
    client: TestClient, db: DB, owner: User, project: uuid.UUID, method: str, path: str, body: Any, field: str
) -> None:
    chat = create_chat(client, owner, project, title="Kept")
    url = {
        "chats": f"/api/projects/{project}/chats",
        "chat": f"/api/chats/{chat['id']}",
        "messages": f"/api/chats/{chat['id']}/messages",
    }[path]
    before = db.execute("SELECT id, title, updated_at FROM chats").fetchall()
    response = client.request(method, url, json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert error_code(response) == "validation_failed"
    assert response.json()["error"]["details"][0]["field"] == field
    assert db.execute("SELECT id, title, updated_at FROM chats").fetchall() == before
    assert count(db, "SELECT count(*) FROM messages") == 0


def test_the_longest_message_is_accepted(client: TestClient, owner: User, project: uuid.UUID) -> None:
    chat = create_chat(client, owner, project)
    message = post_message(client, owner, chat["id"], "é" * 100_000)
    assert len(message["content"]) == 100_000


# ------------------------------------------------------------------------------------ prompts


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
        ({"title": "x", "content": "x\x00"}, "content"),
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
