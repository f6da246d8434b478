"""Helpers of the chats tests: projects made with SQL (these tests are about chats), and the
calls most tests make."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import psycopg
from starlette.testclient import TestClient

from mm_common import db as mm_db
from tests.support import identity

DB = psycopg.Connection[Any]
User = identity.Account


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


def post_message(client: TestClient, user: User, chat_id: Any, content: str) -> dict[str, Any]:
    response = client.post(f"/api/chats/{chat_id}/messages", json={"content": content}, headers=user.headers)
    assert response.status_code == 202, response.text
    # These tests are about storing messages: end the generation job as a worker would, so the
    # chat accepts the next message (one generation at a time per chat).
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
