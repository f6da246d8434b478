"""Helpers shared by the organizations tests: calls a client makes, and what the database holds."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import psycopg
from starlette.testclient import TestClient

from mm_common.config import get_settings
from tests.support import identity

DB = psycopg.Connection[Any]
User = identity.Account
ALL = ["view", "edit", "deploy", "manage", "invite"]


def create_org(client: TestClient, user: User, name: str = "Acme") -> dict[str, Any]:
    response = client.post("/api/organizations", json={"name": name}, headers=user.headers)
    assert response.status_code == 201, response.text
    organization: dict[str, Any] = response.json()["organization"]
    return organization


def invite(client: TestClient, by: User, org_id: Any, email: str, **body: Any) -> Any:
    return client.post(f"/api/organizations/{org_id}/members", json={"email": email, **body}, headers=by.headers)


def mails_to(client: TestClient, to: str) -> list[dict[str, Any]]:
    return [m for m in client.get("/dev/mail.json").json() if m["to"] == to]


def invitation_token(client: TestClient, to: str) -> str:
    """The token of the newest invitation e-mailed to this address."""
    for message in mails_to(client, to):
        link = re.escape(get_settings().app_url + "/invitations/accept") + r"\?token=([\w-]+)"
        match = re.search(link, message["text"])
        if match:
            return match.group(1)
    raise AssertionError(f"no invitation e-mail to {to}")


def accept(client: TestClient, user: User, token: str) -> Any:
    return client.post("/api/invitations/accept", json={"token": token}, headers=user.headers)


def member_id(db: DB, org_id: Any, user: User) -> uuid.UUID:
    row = db.execute(
        "SELECT id FROM organization_members WHERE organization_id = %s AND user_id = %s", (org_id, user.id)
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def membership(db: DB, org_id: Any, user: User) -> tuple[str, list[str]] | None:
    row = db.execute(
        "SELECT role, permissions FROM organization_members WHERE organization_id = %s AND user_id = %s",
        (org_id, user.id),
    ).fetchone()
    return (row[0], row[1]) if row else None


def audit_rows(db: DB, action: str) -> list[dict[str, Any]]:
    with db.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM audit_logs WHERE action = %s ORDER BY created_at, id", (action,)).fetchall()


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


def count(db: DB, sql: str, *params: Any) -> int:
    row = db.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def send(client: TestClient, method: str, path: str, body: Any, user: User) -> Any:
    """A JSON request whose text may hold lone surrogates (escaped, as any JSON encoder may send them)."""
    raw = json.dumps(body, ensure_ascii=True).encode("ascii")
    return client.request(method, path, content=raw, headers={**user.headers, "Content-Type": "application/json"})
