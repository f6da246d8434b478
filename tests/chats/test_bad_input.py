"""Bad input to every chats route answers 4xx in the error shape and changes nothing: text no
column can store, null where a value is needed, huge values, malformed ids and cursors."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from mm_common.pagination import encode_cursor
from tests.chats.support import DB, User, count, create_chat, create_prompt, error_code, post_message

UNSTORABLE = ["nul \x00 byte", "lone \ud800 surrogate", "\udfff"]


def refused(response: Any, status: int = 422) -> dict[str, Any]:
    """The response is ``status`` in the error shape; its error."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = body["error"]
    return error


def send(client: TestClient, method: str, path: str, body: Any, user: User) -> Any:
    """A JSON body as JSON writes it: unpaired surrogates travel as "\\ud800" escapes (the test
    client's own encoder refuses them)."""
    headers = {**user.headers, "content-type": "application/json"}
    return client.request(method, path, content=json.dumps(body).encode("ascii"), headers=headers)


def refused_as_unstorable(response: Any) -> None:
    """Refused by the body's model, naming where the text is (before anything reached the database)."""
    error = refused(response)
    assert error["code"] == "validation_failed"
    assert [d["type"] for d in error["details"]] == ["unstorable_text"], error


def chat_rows(db: DB) -> list[Any]:
    return db.execute("SELECT id, title, updated_at FROM chats ORDER BY id").fetchall()


# --------------------------------------------------------------------- text nothing can store


@pytest.mark.parametrize("text", UNSTORABLE)
def test_unstorable_text_in_a_chat_title_or_a_message_is_refused(
    client: TestClient, db: DB, owner: User, project: uuid.UUID, text: str
) -> None:
    chat = create_chat(client, owner, project, title="Kept")
    before = chat_rows(db)
    attempts: list[tuple[str, str, Any]] = [
        ("POST", f"/api/projects/{project}/chats", {"title": text}),
        ("PATCH", f"/api/chats/{chat['id']}", {"title": text}),
        ("POST", f"/api/chats/{chat['id']}/messages", {"content": text}),
        ("POST", f"/api/chats/{chat['id']}/messages", {"content": "fine", text: "as a key"}),
    ]
    for method, path, body in attempts:
        refused_as_unstorable(send(client, method, path, body, owner))
    assert chat_rows(db) == before
    assert count(db, "SELECT count(*) FROM messages") == 0
    assert count(db, "SELECT count(*) FROM generation_jobs") == 0


@pytest.mark.parametrize("text", UNSTORABLE)
@pytest.mark.parametrize("field", ["title", "description", "content", "category"])
def test_unstorable_text_in_a_prompt_is_refused(client: TestClient, db: DB, owner: User, text: str, field: str) -> None:
    prompt = create_prompt(client, owner, category="kept", description="kept")
    before = db.execute("SELECT * FROM prompts").fetchall()
    created = send(client, "POST", "/api/prompts", {"title": "t", "content": "c", field: text}, owner)
    refused_as_unstorable(created)
    changed = send(client, "PATCH", f"/api/prompts/{prompt['id']}", {field: text}, owner)
    refused_as_unstorable(changed)
    assert db.execute("SELECT * FROM prompts").fetchall() == before


def test_text_filters_that_are_not_text_are_refused(client: TestClient, owner: User) -> None:
    create_prompt(client, owner, title="Hello")
    for query in ("q=nul%00", "category=nul%00", "q=bell%07", "q=%ED%A0%80", "category=%80", "q=%FF%FE"):
        response = client.get(f"/api/prompts?{query}", headers=owner.headers)
        assert refused(response)["code"] == "validation_failed", query
    assert len(client.get("/api/prompts?q=hel", headers=owner.headers).json()["items"]) == 1


def test_a_preview_prompt_must_be_text(client: TestClient, owner: User, project: uuid.UUID) -> None:
    chat = create_chat(client, owner, project)
    path = f"/api/chats/{chat['id']}/context-preview"
    assert client.get(f"{path}?prompt=caf%C3%A9", headers=owner.headers).status_code == 200
    for raw in ("%ED%A0%80", "%FF", "a%00b"):
        assert refused(client.get(f"{path}?prompt={raw}", headers=owner.headers))["code"] == "validation_failed"


# ------------------------------------------------------------------------- bodies and values


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "hello",
        42,
        {"content": "hi", "mode": None},
        {"content": "hi", "mode": "chat"},
        {"content": "hi", "modelId": "not-a-uuid"},
        {"content": "hi", "modelId": 7},
        {"content": ["hi"]},
        {"content": {"text": "hi"}},
    ],
)
def test_a_malformed_message_is_refused_and_stores_nothing(
    client: TestClient, db: DB, owner: User, project: uuid.UUID, body: Any
) -> None:
    chat = create_chat(client, owner, project)
    response = client.post(f"/api/chats/{chat['id']}/messages", json=body, headers=owner.headers)
    assert refused(response)["code"] == "validation_failed"
    assert count(db, "SELECT count(*) FROM messages") == 0


def test_a_message_for_an_unknown_model_stores_nothing(
    client: TestClient, db: DB, owner: User, project: uuid.UUID
) -> None:
    chat = create_chat(client, owner, project)
    before = chat_rows(db)
    response = client.post(
        f"/api/chats/{chat['id']}/messages", json={"content": "hi", "modelId": str(uuid.uuid4())}, headers=owner.headers
    )
    assert refused(response)["code"] == "model_unavailable"
    # The message and the chat's new title went with the refused job (one transaction).
    assert count(db, "SELECT count(*) FROM messages") == 0
    assert chat_rows(db) == before


def test_not_json_and_wrong_shapes_are_refused(client: TestClient, db: DB, owner: User, project: uuid.UUID) -> None:
    chat = create_chat(client, owner, project, title="Kept")
    prompt = create_prompt(client, owner)
    headers = {**owner.headers, "content-type": "application/json"}
    for method, path in (
        ("POST", f"/api/projects/{project}/chats"),
        ("PATCH", f"/api/chats/{chat['id']}"),
        ("POST", f"/api/chats/{chat['id']}/messages"),
        ("POST", "/api/prompts"),
        ("PATCH", f"/api/prompts/{prompt['id']}"),
    ):
        for raw in (b"{not json", b'{"title": "x"', b"\xff\xfe"):
            response = client.request(method, path, content=raw, headers=headers)
            assert refused(response, 400)["code"] == "invalid_body", (method, path, raw)
        response = client.request(method, path, content=b'"\\ud800"', headers=headers)
        assert refused(response)["code"] == "validation_failed", (method, path)
    for method, path in (("PATCH", f"/api/chats/{chat['id']}"), ("PATCH", f"/api/prompts/{prompt['id']}")):
        for body in (None, [], "x"):
            response = client.request(method, path, json=body, headers=owner.headers)
            assert refused(response)["code"] == "validation_failed", (method, path, body)
    assert chat_rows(db)[0][1] == "Kept" and count(db, "SELECT count(*) FROM chats") == 1
    assert count(db, "SELECT count(*) FROM prompts") == 1


def test_a_chat_may_start_with_a_null_body(client: TestClient, owner: User, project: uuid.UUID) -> None:
    headers = {**owner.headers, "content-type": "application/json"}
    response = client.post(f"/api/projects/{project}/chats", content=b"null", headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["chat"]["title"] is None


def test_huge_and_negative_numbers_in_queries(client: TestClient, owner: User, project: uuid.UUID) -> None:
    chat = create_chat(client, owner, project)
    job_id = client.post(f"/api/chats/{chat['id']}/messages", json={"content": "hi"}, headers=owner.headers).json()[
        "job"
    ]["id"]
    for since in ("-1", "abc", "1.5", ""):
        response = client.get(f"/api/jobs/{job_id}?since={since}", headers=owner.headers)
        assert refused(response)["code"] == "validation_failed", since
    huge = client.get(f"/api/jobs/{job_id}", params={"since": 10**30}, headers=owner.headers)
    assert huge.status_code == 200, huge.text
    assert huge.json()["job"]["output"] == "" and huge.json()["job"]["outputOffset"] == 0
    for path in (f"/api/chats/{chat['id']}/messages", f"/api/projects/{project}/chats", "/api/prompts"):
        for limit in ("0", "101", "-5", "1e3", str(10**30)):
            response = client.get(f"{path}?limit={limit}", headers=owner.headers)
            assert refused(response)["code"] == "validation_failed", (path, limit)
    preview = f"/api/chats/{chat['id']}/context-preview"
    for params in ({"mode": "chat"}, {"modelId": "nope"}, {"modelId": ""}):
        assert refused(client.get(preview, params=params, headers=owner.headers))["code"] == "validation_failed"
    unknown = client.get(preview, params={"modelId": str(uuid.uuid4())}, headers=owner.headers)
    assert refused(unknown)["code"] == "model_unavailable"


# ------------------------------------------------------------------------------ ids, cursors


def test_malformed_and_unknown_ids_are_not_found(client: TestClient, owner: User, project: uuid.UUID) -> None:
    chat = create_chat(client, owner, project)
    for bad in ("not-a-uuid", str(uuid.uuid4()), "%E2%80%8B", chat["id"] + "0", "0" * 300):
        for method, path in (
            ("GET", f"/api/jobs/{bad}"),
            ("POST", f"/api/jobs/{bad}/cancel"),
            ("POST", f"/api/messages/{bad}/approve"),
            ("POST", f"/api/messages/{bad}/reject"),
            ("POST", f"/api/chats/{bad}/undo"),
            ("POST", f"/api/chats/{bad}/retry"),
            ("GET", f"/api/chats/{bad}/context-preview"),
            ("GET", f"/api/prompts/{bad}"),
            ("PATCH", f"/api/prompts/{bad}"),
            ("DELETE", f"/api/prompts/{bad}"),
        ):
            response = client.request(method, path, json={"title": "x"}, headers=owner.headers)
            assert refused(response, 404)["code"] == "not_found", (method, path)
    for bad in ("%00", "a%07b"):  # control characters: refused before any route
        for path in (f"/api/jobs/{bad}", f"/api/prompts/{bad}", f"/api/messages/{bad}/approve"):
            method = "GET" if "approve" not in path else "POST"
            assert refused(client.request(method, path, headers=owner.headers))["code"] == "validation_failed"


def _raw_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "%00",
        "====",
        "x" * 513,
        _raw_cursor(None),
        _raw_cursor({"at": "2024-01-01T00:00:00+00:00"}),
        _raw_cursor([1, 2]),
        _raw_cursor(["2024-01-01T00:00:00+00:00"]),
        encode_cursor("2024-01-01T00:00:00+00:00", "not-a-uuid"),
        encode_cursor("2024-01-01T00:00:00", "929c7fcf-00c1-4de9-93c6-e233bf5d7e1d"),  # no time zone
        encode_cursor("yesterday", "66809d69-ae8a-414b-846b-0c58f51ab2fe"),
    ],
)
def test_bad_cursors_are_refused(client: TestClient, owner: User, project: uuid.UUID, cursor: str) -> None:
    chat = create_chat(client, owner, project)
    for path in (f"/api/chats/{chat['id']}/messages", f"/api/projects/{project}/chats", "/api/prompts"):
        response = client.get(f"{path}?cursor={cursor}", headers=owner.headers)
        assert refused(response)["code"] in ("invalid_cursor", "validation_failed"), (path, cursor)


@pytest.mark.parametrize(
    "at", ["9999-12-31T23:59:59.999999+00:00", "0001-01-01T00:00:00+14:00", "2024-02-29T12:00:00-23:59"]
)
def test_cursors_at_the_edges_of_time_answer_a_page(
    client: TestClient, owner: User, project: uuid.UUID, at: str
) -> None:
    chat = create_chat(client, owner, project)
    post_message(client, owner, chat["id"], "hello")
    cursor = encode_cursor(at, uuid.uuid4())
    for path in (f"/api/chats/{chat['id']}/messages", f"/api/projects/{project}/chats", "/api/prompts"):
        response = client.get(path, params={"cursor": cursor}, headers=owner.headers)
        assert response.status_code == 200, (path, at, response.text)
        assert response.json()["nextCursor"] is None


def test_a_finished_job_is_left_as_it_is_when_canceled(
    client: TestClient, db: DB, owner: User, project: uuid.UUID
) -> None:
    chat = create_chat(client, owner, project)
    job = client.post(f"/api/chats/{chat['id']}/messages", json={"content": "hi"}, headers=owner.headers).json()["job"]
    db.execute("UPDATE generation_jobs SET status = 'failed', finished_at = now() WHERE id = %s", (job["id"],))
    before = db.execute("SELECT * FROM generation_jobs").fetchall()
    response = client.post(f"/api/jobs/{job['id']}/cancel", headers=owner.headers)
    assert response.status_code == 200 and response.json()["job"]["status"] == "failed"
    assert db.execute("SELECT * FROM generation_jobs").fetchall() == before
    assert error_code(client.post(f"/api/chats/{chat['id']}/undo", headers=owner.headers)) == "nothing_to_undo"
