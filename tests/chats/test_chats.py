"""Chats and messages, through the real stack.

Projects are made directly with SQL here: these tests are about chats, not about projects.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from psycopg.types.json import Jsonb
from starlette.testclient import TestClient

from devstack.openapi import http_apps
from devstack.template import Template
from mm_common.api import api_routes
from mm_common.auth import declared_action
from mm_common.messages import title_from_message
from mm_common.pagination import encode_cursor
from mm_common.permissions import Action
from tests.chats.support import (
    DB,
    User,
    at,
    count,
    create_chat,
    error_code,
    ids,
    make_project,
    pages,
    post_message,
)
from tests.support.identity import add_member, make_organization, make_user

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


def test_the_app_declares_exactly_its_routes_each_with_its_action() -> None:
    declared = {
        (method, route.path): declared_action(route.original_route)
        for route in api_routes(http_apps()["ChatsFunction"].routes)
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
    derived = title_from_message(content)
    assert derived == title
    assert derived is None or len(derived) <= 80


# -------------------------------------------------------------------------------------- chats


def test_create_get_rename_list_delete(client: TestClient, db: DB, owner: User, project: uuid.UUID) -> None:
    chat = create_chat(client, owner, project, title="  Landing page  ")
    assert chat["title"] == "Landing page" and chat["projectId"] == str(project)
    assert chat["createdBy"] == str(owner.id)
    assert chat["createdAt"].endswith("Z") and chat["updatedAt"].endswith("Z")
    assert set(chat) == {"id", "projectId", "title", "createdBy", "createdAt", "updatedAt", "activeJobId"}
    assert chat["activeJobId"] is None

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
    assert set(message) == {
        "id",
        "chatId",
        "role",
        "content",
        "metadata",
        "approvalState",
        "proposal",
        "createdBy",
        "createdAt",
    }
    assert message["proposal"] is None
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
