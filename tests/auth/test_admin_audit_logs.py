"""The system-wide audit log (the admin function): every organization's rows, filtered, paged."""

from __future__ import annotations

from typing import Any

import psycopg
from starlette.testclient import TestClient

from tests.auth.helpers import register
from tests.support.identity import make_organization, make_user


def test_admins_and_co_admins_read_the_system_audit_log(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, role="admin")
    co_admin = make_user(db, role="co_admin")
    for i in range(3):
        assert register(client, f"someone{i}@example.com").status_code == 201

    page = client.get("/api/admin/audit-logs", params={"limit": 2, "action": "user.register"}, headers=admin.headers)
    assert page.status_code == 200
    body = page.json()
    assert [e["action"] for e in body["items"]] == ["user.register"] * 2 and body["nextCursor"]
    rest = client.get(
        "/api/admin/audit-logs",
        params={"limit": 2, "action": "user.register", "cursor": body["nextCursor"]},
        headers=co_admin.headers,
    ).json()
    assert len(rest["items"]) == 1 and rest["nextCursor"] is None
    ids = {e["userId"] for e in body["items"] + rest["items"]}
    assert len(ids) == 3

    one = next(iter(ids))
    mine = client.get("/api/admin/audit-logs", params={"userId": one}, headers=admin.headers).json()["items"]
    assert [e["userId"] for e in mine] == [one]

    backwards = client.get(
        "/api/admin/audit-logs",
        params={"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
        headers=admin.headers,
    )
    assert backwards.status_code == 422 and backwards.json()["error"]["details"][0]["field"] == "since"
    assert client.get("/api/admin/audit-logs", headers=make_user(db).headers).status_code == 403


def test_entries_name_who_and_which_organization(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, role="admin")
    owner = make_user(db, "olga@example.com")
    organization = make_organization(db, owner, "Olga's studio")
    renamed = client.patch(f"/api/organizations/{organization}", json={"name": "Olga & Co"}, headers=owner.headers)
    assert renamed.status_code == 200, renamed.text

    items = client.get("/api/admin/audit-logs", params={"userId": str(owner.id)}, headers=admin.headers).json()["items"]
    entry = next(e for e in items if e["organizationId"] == str(organization))
    # The organization's name is today's (the row keeps only its ID).
    assert (entry["userEmail"], entry["organizationName"]) == ("olga@example.com", "Olga & Co")
    platform = client.get("/api/admin/audit-logs", params={"action": "user.register"}, headers=admin.headers)
    assert all(e["organizationName"] is None for e in platform.json()["items"])
