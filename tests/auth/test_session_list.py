"""Sessions as the account page shows them: the caller's live sign-ins, ending one of them, and
signing out everywhere. Ending a sign-in ends its access tokens at once, not 15 minutes later."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
from starlette.testclient import TestClient

from tests.auth.helpers import STRONG, bearer, cookie_headers, login, refresh_cookie, signed_up
from tests.projects.support import wait_for_lock_waiters
from tests.support.identity import PASSWORD, make_user

SESSION_FIELDS = {"id", "createdAt", "lastUsedAt", "expiresAt", "userAgent", "ipAddress", "current"}


def _sessions(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get("/api/users/me/sessions", headers=headers)


def _me(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get("/api/users/me", headers=headers)


def _login_with(client: TestClient, email: str, user_agent: str) -> Any:
    return client.post("/api/auth/login", json={"email": email, "password": STRONG}, headers={"User-Agent": user_agent})


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _revoked(response: Any) -> bool:
    return response.status_code == 401 and response.json()["error"]["code"] == "session_revoked"


def test_the_list_shows_one_row_per_live_sign_in_and_marks_the_current_one(
    client: TestClient, client_at: Callable[[str], TestClient], db: psycopg.Connection[Any]
) -> None:
    laptop = signed_up(client_at("203.0.113.5"), "lena@example.com")
    phone_client = client_at("198.51.100.7")
    phone = _login_with(phone_client, "lena@example.com", "Phone/1.0")
    assert phone.status_code == 200
    # The laptop refreshes twice: still one sign-in, now named by its newest session.
    rotated = client_at("203.0.113.9").post(
        "/api/auth/refresh", headers={**cookie_headers(laptop), "User-Agent": "Laptop/2.0"}
    )
    assert rotated.status_code == 200
    rotated = client_at("203.0.113.9").post(
        "/api/auth/refresh", headers={**cookie_headers(rotated), "User-Agent": "Laptop/2.0"}
    )
    assert rotated.status_code == 200
    # Not listed: a sign-in that ended, one that expired, and someone else's.
    ended = login(client, "lena@example.com")
    assert client.post("/api/auth/logout", headers=cookie_headers(ended)).status_code == 204
    expired = login(client, "lena@example.com")
    db.execute(
        "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = ("
        " SELECT id FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = 'lena@example.com')"
        " ORDER BY created_at DESC LIMIT 1)"
    )
    assert expired.status_code == 200
    other = make_user(db)

    # The laptop's first access token still belongs to its (rotated) sign-in: that one is current.
    response = _sessions(client, bearer(laptop))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["nextCursor"] is None
    items = body["items"]
    assert len(items) == 2 and all(set(item) == SESSION_FIELDS for item in items)
    by_agent = {item["userAgent"]: item for item in items}
    assert set(by_agent) == {"Laptop/2.0", "Phone/1.0"}
    laptop_row, phone_row = by_agent["Laptop/2.0"], by_agent["Phone/1.0"]
    assert laptop_row["current"] is True and phone_row["current"] is False
    assert laptop_row["ipAddress"] == "203.0.113.9" and phone_row["ipAddress"] == "198.51.100.7"
    # createdAt: when the sign-in began; lastUsedAt: its latest refresh; the id is its newest session.
    assert _at(laptop_row["lastUsedAt"]) > _at(laptop_row["createdAt"])
    assert phone_row["lastUsedAt"] == phone_row["createdAt"]
    assert _at(laptop_row["expiresAt"]) > _at(laptop_row["lastUsedAt"])
    newest = db.execute(
        "SELECT id FROM sessions WHERE revoked_at IS NULL AND expires_at > now() AND user_agent = 'Laptop/2.0'"
    ).fetchone()
    assert newest is not None and laptop_row["id"] == str(newest[0])
    assert items[0] == laptop_row  # most recently used first

    # From the phone, the phone is current; the other user sees only their own sign-in.
    from_phone = _sessions(client, bearer(phone)).json()["items"]
    assert {item["userAgent"]: item["current"] for item in from_phone} == {"Laptop/2.0": False, "Phone/1.0": True}
    theirs = _sessions(client, other.headers).json()["items"]
    assert len(theirs) == 1 and theirs[0]["current"] is True
    assert {item["id"] for item in theirs}.isdisjoint({item["id"] for item in items})

    assert _sessions(client, {}).status_code == 401


def test_ending_a_session_ends_its_refresh_and_access_tokens_at_once(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    laptop = signed_up(client, "mo@example.com")
    phone = _login_with(client, "mo@example.com", "Phone/1.0")
    listed = _sessions(client, bearer(laptop)).json()["items"]
    phone_id = next(item["id"] for item in listed if not item["current"])

    ended = client.delete(f"/api/users/me/sessions/{phone_id}", headers=bearer(laptop))
    assert ended.status_code == 204 and ended.content == b""
    assert _revoked(_me(client, bearer(phone)))
    assert client.post("/api/auth/refresh", headers=cookie_headers(phone)).status_code == 401
    assert _me(client, bearer(laptop)).status_code == 200
    assert [item["current"] for item in _sessions(client, bearer(laptop)).json()["items"]] == [True]
    audited = db.execute(
        "SELECT user_id, resource_type, resource_id FROM audit_logs WHERE action = 'user.session_revoke'"
    ).fetchall()
    user_id = db.execute("SELECT id FROM users WHERE email = 'mo@example.com'").fetchone()
    assert user_id is not None and audited == [(user_id[0], "session", uuid.UUID(phone_id))]

    # An ended session, an unknown id, a malformed one: 404, and nothing changes.
    for missing in (phone_id, str(uuid.uuid4()), "not-a-session"):
        response = client.delete(f"/api/users/me/sessions/{missing}", headers=bearer(laptop))
        assert response.status_code == 404, missing
        assert response.json()["error"]["code"] == "not_found"
    assert _me(client, bearer(laptop)).status_code == 200
    assert client.delete(f"/api/users/me/sessions/{uuid.uuid4()}").status_code == 401


def test_an_older_session_of_a_live_sign_in_still_names_it(client: TestClient) -> None:
    # The list showed one session; the device refreshed since: ending the listed one ends the sign-in.
    laptop = signed_up(client, "pia@example.com")
    phone = login(client, "pia@example.com")
    phone_id = next(item["id"] for item in _sessions(client, bearer(laptop)).json()["items"] if not item["current"])
    rotated = client.post("/api/auth/refresh", headers=cookie_headers(phone))
    assert rotated.status_code == 200

    assert client.delete(f"/api/users/me/sessions/{phone_id}", headers=bearer(laptop)).status_code == 204
    assert _revoked(_me(client, bearer(rotated)))
    assert client.post("/api/auth/refresh", headers=cookie_headers(rotated)).status_code == 401


def test_ending_the_current_session_signs_this_device_out(client: TestClient) -> None:
    laptop = signed_up(client, "quin@example.com")
    phone = login(client, "quin@example.com")
    current = next(item["id"] for item in _sessions(client, bearer(laptop)).json()["items"] if item["current"])
    assert client.delete(f"/api/users/me/sessions/{current}", headers=bearer(laptop)).status_code == 204
    assert _revoked(_me(client, bearer(laptop)))
    assert _me(client, bearer(phone)).status_code == 200


def test_another_users_session_does_not_exist_for_the_caller(client: TestClient, db: psycopg.Connection[Any]) -> None:
    victim = signed_up(client, "rae@example.com")
    victim_session = _sessions(client, bearer(victim)).json()["items"][0]["id"]
    attacker = make_user(db)

    response = client.delete(f"/api/users/me/sessions/{victim_session}", headers=attacker.headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert _me(client, bearer(victim)).status_code == 200
    assert client.post("/api/auth/refresh", headers=cookie_headers(victim)).status_code == 200
    assert db.execute("SELECT count(*) FROM audit_logs WHERE action = 'user.session_revoke'").fetchone() == (0,)


def test_logout_all_ends_every_session_and_clears_the_cookie(client: TestClient, db: psycopg.Connection[Any]) -> None:
    laptop = signed_up(client, "sol@example.com")
    phone = login(client, "sol@example.com")
    other = make_user(db, "tess@example.com")
    other_session = login(client, "tess@example.com", PASSWORD)

    out = client.post("/api/auth/logout-all", headers=bearer(phone))
    assert out.status_code == 204 and out.content == b""
    cleared = refresh_cookie(out)["mm_refresh"]
    assert cleared.value == "" and cleared["max-age"] == "0" and cleared["path"] == "/api/auth"
    for session in (laptop, phone):
        assert _revoked(_me(client, bearer(session)))
        assert client.post("/api/auth/refresh", headers=cookie_headers(session)).status_code == 401
    # Someone else's sign-ins are theirs.
    assert _me(client, other.headers).status_code == 200 and _me(client, bearer(other_session)).status_code == 200
    audited = db.execute("SELECT user_id, metadata FROM audit_logs WHERE action = 'user.logout_all'").fetchall()
    user_id = db.execute("SELECT id FROM users WHERE email = 'sol@example.com'").fetchone()
    assert user_id is not None and audited == [(user_id[0], {"sessionsRevoked": 2})]

    # The access token is dead: signing out everywhere again needs a sign-in.
    again = client.post("/api/auth/logout-all", headers=bearer(phone))
    assert _revoked(again)
    assert client.post("/api/auth/logout-all").status_code == 401


def test_logout_all_also_ends_a_session_a_concurrent_refresh_is_creating(
    client: TestClient, database_url: str, db: psycopg.Connection[Any]
) -> None:
    """A refresh in flight holds the session it rotates and inserts the next one; signing out
    everywhere meanwhile waits for it, and must end the new session as well."""
    laptop = signed_up(client, "uma@example.com")
    phone = login(client, "uma@example.com")
    row = db.execute(
        "SELECT id, user_id, family_id FROM sessions WHERE revoked_at IS NULL ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    assert row is not None
    phone_session, user_id, family_id = row
    result: dict[str, Any] = {}

    def sign_out_everywhere() -> None:
        result["response"] = client.post("/api/auth/logout-all", headers=bearer(laptop))

    worker = threading.Thread(target=sign_out_everywhere)
    with psycopg.connect(database_url) as refresher:
        # What a refresh does, held open: lock the presented session, insert its successor.
        refresher.execute("SELECT 1 FROM sessions WHERE id = %s FOR UPDATE", (phone_session,))
        worker.start()
        wait_for_lock_waiters(database_url, 1)
        successor = refresher.execute(
            "INSERT INTO sessions (user_id, refresh_token_hash, family_id, expires_at)"
            " VALUES (%s, %s, %s, now() + interval '1 day') RETURNING id",
            (user_id, uuid.uuid4().hex, family_id),
        ).fetchone()
        assert successor is not None
        refresher.execute(
            "UPDATE sessions SET revoked_at = now(), replaced_by = %s WHERE id = %s", (successor[0], phone_session)
        )
        refresher.commit()
    worker.join()

    assert result["response"].status_code == 204, result["response"].text
    assert db.execute("SELECT revoked_at IS NOT NULL FROM sessions WHERE id = %s", (successor[0],)).fetchone() == (
        True,
    )
    assert db.execute("SELECT count(*) FROM sessions WHERE revoked_at IS NULL").fetchone() == (0,)
    assert _revoked(_me(client, bearer(phone)))
