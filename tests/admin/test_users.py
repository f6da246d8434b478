"""Platform administration of users through /api/admin/users: find, ban, roles, sign-out, confirmation mail,
activity (admins only)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from mm_common import db as mm_db
from mm_common import user_admin
from mm_common.auth import Caller
from mm_common.errors import Conflict
from tests.auth.helpers import bearer, cookie_headers, login, mail_token, register, signed_up
from tests.support.cli import mmctl
from tests.support.identity import make_organization, make_user


def _emails(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = client.get("/api/admin/users", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return sorted(u["email"] for u in response.json()["items"])


def test_search_filters_and_pages(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin", full_name="Root")
    make_user(db, "co@example.com", role="co_admin", full_name="Cora Admin")
    make_user(db, "plain@example.com", full_name="Paula_Plain")
    make_user(db, "new@example.com", verified=False, full_name="Nina New")
    make_user(db, "gone@example.com", active=False, full_name="Gus Gone")

    assert _emails(client, admin.headers, q="PAULA") == ["plain@example.com"]  # case-insensitive, on the name
    assert _emails(client, admin.headers, q="_") == ["plain@example.com"]  # literal, not a LIKE wildcard
    assert _emails(client, admin.headers, q="%") == []
    assert _emails(client, admin.headers, role="co_admin") == ["co@example.com"]
    assert _emails(client, admin.headers, status="banned") == ["gone@example.com"]
    assert _emails(client, admin.headers, status="unverified") == ["new@example.com"]
    assert _emails(client, admin.headers, status="active") == [
        "co@example.com",
        "plain@example.com",
        "root@example.com",
    ]
    assert client.get("/api/admin/users", params={"status": "asleep"}, headers=admin.headers).status_code == 422

    seen: list[str] = []
    page: dict[str, Any] = {"nextCursor": None}
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get("/api/admin/users", params=params, headers=admin.headers).json()
        assert len(page["items"]) <= 2
        seen += [u["email"] for u in page["items"]]
        if not page["nextCursor"]:
            break
        params["cursor"] = page["nextCursor"]
    assert len(seen) == len(set(seen)) == 5


def test_the_list_counts_organizations_and_projects_and_shows_last_sign_in(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    owner = make_user(db, "owner@example.com")
    first = make_organization(db, owner, "First")
    make_organization(db, owner, "Second")
    for name in ("a", "b", "c"):
        db.execute(
            "INSERT INTO projects (organization_id, name, slug, created_by, deleted_at) VALUES (%s, %s, %s, %s, %s)",
            (first, name, name, owner.id, "2026-01-01" if name == "c" else None),
        )
    db.execute("UPDATE users SET last_login_at = '2026-11-30T10:00:00Z' WHERE id = %s", (owner.id,))
    (row,) = client.get("/api/admin/users", params={"q": "owner@"}, headers=admin.headers).json()["items"]
    assert (row["organizationsCount"], row["projectsCount"]) == (2, 2)
    assert row["lastLoginAt"] == "2026-11-30T10:00:00Z" and row["banned"] is False
    detail = client.get(f"/api/admin/users/{owner.id}", headers=admin.headers).json()["user"]
    assert sorted((m["name"], m["role"]) for m in detail["memberships"]) == [("First", "owner"), ("Second", "owner")]
    assert client.get("/api/admin/users/nope", headers=admin.headers).status_code == 404


def test_a_ban_stops_the_users_tokens_at_once_and_refuses_a_new_sign_in(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    session = signed_up(client, "carl@example.com")
    carl = session.json()["user"]["id"]
    assert client.get("/api/users/me", headers=bearer(session)).status_code == 200

    ban = client.patch(f"/api/admin/users/{carl}", json={"banned": True, "banReason": "spam"}, headers=admin.headers)
    assert ban.status_code == 200, ban.text
    assert (ban.json()["user"]["banned"], ban.json()["user"]["banReason"]) == (True, "spam")
    assert ban.json()["user"]["bannedAt"] is not None
    denied = client.get("/api/users/me", headers=bearer(session))
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "session_revoked"
    assert client.post("/api/auth/refresh", headers=cookie_headers(session)).status_code == 401
    assert login(client, "carl@example.com").status_code == 403
    audit = db.execute("SELECT user_id, metadata FROM audit_logs WHERE action = 'user.ban'").fetchone()
    assert audit == (admin.id, {"reason": "spam"})

    unban = client.patch(f"/api/admin/users/{carl}", json={"banned": False}, headers=admin.headers)
    assert unban.json()["user"]["banned"] is False and unban.json()["user"]["banReason"] is None
    assert login(client, "carl@example.com").status_code == 200


@pytest.mark.parametrize("change", [{"banned": True}, {"role": "co_admin"}, {"role": "user"}])
def test_an_admin_cannot_ban_or_demote_themselves(
    client: TestClient, db: psycopg.Connection[Any], change: dict[str, Any]
) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    make_user(db, "other-admin@example.com", role="admin")
    response = client.patch(f"/api/admin/users/{admin.id}", json=change, headers=admin.headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "self_lockout"
    assert db.execute("SELECT role, is_active FROM users WHERE id = %s", (admin.id,)).fetchone() == ("admin", True)


def test_the_last_admin_cannot_be_banned_or_demoted(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    other = make_user(db, "second@example.com", role="admin")
    # With two admins, one may demote the other (then it is the last one).
    assert (
        client.patch(f"/api/admin/users/{other.id}", json={"role": "co_admin"}, headers=admin.headers).status_code
        == 200
    )
    # The API's caller is always an active admin, so only a caller who is not (the CLI's emergency switches, or
    # a request that passed authorization just before its own admin role was taken in a concurrent one) can
    # reach the last admin: the rule holds there too.
    for change in ({"banned": True}, {"role": "user"}):
        with mm_db.transaction() as conn, pytest.raises(Conflict) as refused:
            user_admin.update_user(conn, Caller(user_id=None), admin.id, **change)
        assert refused.value.code == "last_admin"
    assert db.execute("SELECT role, is_active FROM users WHERE id = %s", (admin.id,)).fetchone() == ("admin", True)
    # Another active admin lifts the rule.
    db.execute("UPDATE users SET role = 'admin' WHERE id = %s", (other.id,))
    with mm_db.transaction() as conn:
        user_admin.update_user(conn, Caller(user_id=None), admin.id, role="user")
    assert db.execute("SELECT role FROM users WHERE id = %s", (admin.id,)).fetchone() == ("user",)


def test_force_logout_ends_every_sign_in_at_once(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    first = signed_up(client, "dora@example.com")
    second = login(client, "dora@example.com")
    dora = first.json()["user"]["id"]
    response = client.post(f"/api/admin/users/{dora}/logout", headers=admin.headers)
    assert response.status_code == 200 and response.json() == {"sessionsRevoked": 2}
    for session in (first, second):
        denied = client.get("/api/users/me", headers=bearer(session))
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "session_revoked"
        assert client.post("/api/auth/refresh", headers=cookie_headers(session)).status_code == 401
    assert login(client, "dora@example.com").status_code == 200  # not banned: they may sign in again
    audit = db.execute("SELECT user_id, resource_id FROM audit_logs WHERE action = 'user.force_logout'").fetchone()
    assert audit is not None and audit[0] == admin.id and str(audit[1]) == dora
    assert client.post(f"/api/admin/users/{admin.id}00/logout", headers=admin.headers).status_code == 404


def test_the_detail_counts_active_sessions_only(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    first = signed_up(client, "gil@example.com")
    gil = first.json()["user"]["id"]
    login(client, "gil@example.com")
    assert login(client, "gil@example.com").status_code == 200
    # One sign-in has run out (not revoked), and a refresh revokes the session it replaces: neither counts.
    db.execute(
        "UPDATE sessions SET expires_at = now() - interval '1 minute'"
        " WHERE id = (SELECT id FROM sessions WHERE user_id = %s ORDER BY created_at DESC, id DESC LIMIT 1)",
        (gil,),
    )
    assert client.post("/api/auth/refresh", headers=cookie_headers(first)).status_code == 200

    def active() -> int:
        response = client.get(f"/api/admin/users/{gil}", headers=admin.headers)
        assert response.status_code == 200, response.text
        return int(response.json()["user"]["activeSessions"])

    assert active() == 2
    assert client.post(f"/api/admin/users/{gil}/logout", headers=admin.headers).json() == {"sessionsRevoked": 3}
    assert active() == 0


def test_resend_verification_mails_a_working_link(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    assert register(client, "eve@example.com").status_code == 201
    eve = db.execute("SELECT id FROM users WHERE email = 'eve@example.com'").fetchone()
    assert eve is not None
    sent_before = len([m for m in client.get("/dev/mail.json").json() if m["to"] == "eve@example.com"])
    response = client.post(f"/api/admin/users/{eve[0]}/resend-verification", headers=admin.headers)
    assert response.status_code == 200, response.text
    mails = [m for m in client.get("/dev/mail.json").json() if m["to"] == "eve@example.com"]
    assert len(mails) == sent_before + 1
    token = mail_token(client, "eve@example.com", "/verify-email")  # the newest first
    assert client.post("/api/auth/verify-email", json={"token": token}).status_code == 200
    again = client.post(f"/api/admin/users/{eve[0]}/resend-verification", headers=admin.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_verified"
    assert db.execute("SELECT count(*) FROM audit_logs WHERE action = 'user.verification_resent'").fetchone() == (1,)


def test_activity_lists_what_the_user_did_newest_first(client: TestClient, db: psycopg.Connection[Any]) -> None:
    admin = make_user(db, "root@example.com", role="admin")
    user = make_user(db, "fay@example.com")
    for i in range(3):
        db.execute(
            "INSERT INTO audit_logs (user_id, action, created_at) VALUES (%s, %s, now() - %s * interval '1 minute')",
            (user.id, f"project.step{i}", i),
        )
    db.execute("INSERT INTO audit_logs (user_id, action) VALUES (%s, 'someone.else')", (admin.id,))
    first = client.get(f"/api/admin/users/{user.id}/activity", params={"limit": 2}, headers=admin.headers).json()
    rest = client.get(
        f"/api/admin/users/{user.id}/activity",
        params={"limit": 2, "cursor": first["nextCursor"]},
        headers=admin.headers,
    ).json()
    assert [e["action"] for e in first["items"] + rest["items"]] == ["project.step0", "project.step1", "project.step2"]
    assert rest["nextCursor"] is None


def test_co_admins_and_users_are_refused(client: TestClient, db: psycopg.Connection[Any]) -> None:
    target = make_user(db, "target@example.com", verified=False)
    for persona in (make_user(db, "co@example.com", role="co_admin"), make_user(db, "plain@example.com")):
        for method, path, body in (
            ("GET", "/api/admin/users", None),
            ("GET", f"/api/admin/users/{target.id}", None),
            ("PATCH", f"/api/admin/users/{target.id}", {"banned": True}),
            ("POST", f"/api/admin/users/{target.id}/logout", None),
            ("POST", f"/api/admin/users/{target.id}/resend-verification", None),
            ("GET", f"/api/admin/users/{target.id}/activity", None),
        ):
            response = client.request(method, path, json=body, headers=persona.headers)
            assert response.status_code == 403, (persona.role, method, path)
    assert db.execute("SELECT is_active FROM users WHERE id = %s", (target.id,)).fetchone() == (True,)


def test_mmctl_bans_and_unbans_a_user_at_once(
    client: TestClient, db: psycopg.Connection[Any], database_url: str
) -> None:
    session = signed_up(client, "dora@example.com")
    assert client.get("/api/users/me", headers=bearer(session)).status_code == 200

    ban = mmctl(database_url, "ban", " Dora@Example.com ", "--reason", "fraud")
    assert ban.returncode == 0, ban.stderr
    assert "is banned" in ban.stdout
    denied = client.get("/api/users/me", headers=bearer(session))
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "session_revoked"
    assert login(client, "dora@example.com").status_code == 403
    audit = db.execute("SELECT user_id, metadata FROM audit_logs WHERE action = 'user.ban'").fetchone()
    assert audit == (None, {"via": "mmctl", "reason": "fraud"})
    # Run again: nothing changes, and it says so.
    again = mmctl(database_url, "ban", "dora@example.com")
    assert again.returncode == 0 and "already" in again.stdout
    assert db.execute("SELECT count(*) FROM audit_logs WHERE action = 'user.ban'").fetchone() == (1,)

    unban = mmctl(database_url, "unban", "dora@example.com")
    assert unban.returncode == 0, unban.stderr
    assert login(client, "dora@example.com").status_code == 200


def test_mmctl_refuses_an_unknown_address_and_the_last_admin(db: psycopg.Connection[Any], database_url: str) -> None:
    admin = make_user(db, "only-admin@example.com", role="admin")
    unknown = mmctl(database_url, "ban", "nobody@example.com")
    assert unknown.returncode != 0 and "No user has this e-mail address." in unknown.stderr
    last = mmctl(database_url, "ban", admin.email)
    assert last.returncode != 0 and "last administrator" in last.stderr
    row = db.execute("SELECT is_active FROM users WHERE id = %s", (admin.id,)).fetchone()
    assert row == (True,)
