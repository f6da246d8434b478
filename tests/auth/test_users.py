"""Platform administration of users: list, look up, change roles, ban and unban."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from tests.auth.helpers import bearer, cookie_headers, login, signed_up
from tests.support.identity import make_user


def test_admin_lists_filters_and_changes_users(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    for i in range(5):
        make_user(db, f"member{i}@example.com", full_name=f"Member {i}")
    page = client.get("/api/users", params={"limit": 2}, headers=admin.headers).json()
    assert len(page["items"]) == 2 and page["nextCursor"]
    seen = [u["email"] for u in page["items"]]
    while page["nextCursor"]:
        page = client.get("/api/users", params={"limit": 2, "cursor": page["nextCursor"]}, headers=admin.headers).json()
        seen += [u["email"] for u in page["items"]]
    assert len(seen) == len(set(seen)) == 6
    found = client.get("/api/users", params={"q": "member3"}, headers=admin.headers).json()["items"]
    assert [u["email"] for u in found] == ["member3@example.com"]
    assert client.get("/api/users", params={"q": "%"}, headers=admin.headers).json()["items"] == []
    assert client.get("/api/users", params={"cursor": "%%%"}, headers=admin.headers).status_code == 422

    target = found[0]["id"]
    promoted = client.patch(f"/api/users/{target}", json={"role": "co_admin"}, headers=admin.headers)
    assert promoted.json()["user"]["role"] == "co_admin"
    assert client.get(f"/api/users/{target}", headers=admin.headers).json()["user"]["role"] == "co_admin"
    assert client.get("/api/users/not-a-uuid", headers=admin.headers).status_code == 404
    missing = client.get("/api/users/00000000-0000-4000-8000-000000000000", headers=admin.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    change = db.execute("SELECT user_id, metadata FROM audit_logs WHERE action = 'user.role_change'").fetchone()
    assert change is not None and change == (admin.id, {"from": "user", "to": "co_admin"})


def test_users_filter_by_role_and_state(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    make_user(db, "co@example.com", role="co_admin")
    make_user(db, "plain@example.com")
    make_user(db, "gone@example.com", active=False)

    def emails(**params: str) -> list[str]:
        response = client.get("/api/users", params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        return sorted(u["email"] for u in response.json()["items"])

    assert emails(role="co_admin") == ["co@example.com"]
    assert emails(role="admin") == ["root@example.com"]
    assert emails(role="user", isActive="true") == ["plain@example.com"]
    assert emails(isActive="false") == ["gone@example.com"]
    # Only whole role names: no prefixes, suffixes or trailing newlines.
    for bad in ("superadmin", "admin\n", "user ", "co_admin|user", ""):
        response = client.get("/api/users", params={"role": bad}, headers=admin.headers)
        assert response.status_code == 422, bad
        assert response.json()["error"]["details"][0]["field"] == "role"


@pytest.mark.parametrize("change", [{"isActive": False}, {"role": "co_admin"}, {"role": "user"}])
def test_admins_cannot_lock_themselves_out(
    client: TestClient, db: psycopg.Connection[Any], change: dict[str, Any]
) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    response = client.patch(f"/api/users/{admin.id}", json=change, headers=admin.headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "self_lockout"
    assert db.execute("SELECT role, is_active FROM users WHERE id = %s", (admin.id,)).fetchone() == ("admin", True)
    # Changes that keep them an administrator are fine.
    same = client.patch(f"/api/users/{admin.id}", json={"role": "admin", "isActive": True}, headers=admin.headers)
    assert same.status_code == 200
    assert db.execute("SELECT count(*) FROM audit_logs").fetchone() == (0,)  # nothing changed, nothing recorded


def test_a_role_change_ends_the_users_older_access_tokens(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    session = signed_up(client, "rosa@example.com")
    rosa = session.json()["user"]["id"]
    assert client.patch(f"/api/users/{rosa}", json={"role": "co_admin"}, headers=admin.headers).status_code == 200
    assert client.get("/api/users/me", headers=bearer(session)).status_code == 401  # still claims "user"
    renewed = client.post("/api/auth/refresh", headers=cookie_headers(session))
    assert renewed.status_code == 200 and renewed.json()["user"]["role"] == "co_admin"
    assert client.get("/api/admin/audit-logs", headers=bearer(renewed)).status_code == 200


def test_banned_user_cannot_log_in_and_their_tokens_stop_at_once(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    admin = make_user(db, "admin@example.com", role="admin")
    session = signed_up(client, "carl@example.com")
    carl = session.json()["user"]["id"]
    assert client.get("/api/users/me", headers=bearer(session)).status_code == 200

    ban = client.patch(f"/api/users/{carl}", json={"isActive": False}, headers=admin.headers)
    assert ban.status_code == 200 and ban.json()["user"]["isActive"] is False

    denied = client.get("/api/users/me", headers=bearer(session))
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "session_revoked"
    relogin = login(client, "carl@example.com")
    assert relogin.status_code == 403 and relogin.json()["error"]["code"] == "account_disabled"
    assert client.post("/api/auth/refresh", headers=cookie_headers(session)).status_code == 401

    assert client.patch(f"/api/users/{carl}", json={"isActive": True}, headers=admin.headers).status_code == 200
    assert login(client, "carl@example.com").status_code == 200
    actions = [
        r[0]
        for r in db.execute(
            "SELECT action FROM audit_logs WHERE resource_id = %s ORDER BY created_at", (carl,)
        ).fetchall()
    ]
    assert "user.ban" in actions and "user.unban" in actions
