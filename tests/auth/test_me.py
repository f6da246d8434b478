"""The signed-in user's own account: profile and password."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from tests.auth.helpers import STRONG, bearer, cookie_headers, login, signed_up
from tests.support.identity import make_user


def _change_password(client: TestClient, headers: dict[str, str], current: str, new: str) -> Any:
    return client.post("/api/users/me/password", json={"currentPassword": current, "newPassword": new}, headers=headers)


def test_profile_update(client: TestClient, db: psycopg.Connection[Any]) -> None:
    user = make_user(db, "kim@example.com")
    updated = client.patch(
        "/api/users/me", json={"fullName": "  Kim Doe ", "avatarUrl": "https://img.example/k.png"}, headers=user.headers
    )
    assert updated.status_code == 200
    assert updated.json()["user"]["fullName"] == "Kim Doe"
    assert updated.json()["user"]["avatarUrl"] == "https://img.example/k.png"
    assert client.patch("/api/users/me", json={}, headers=user.headers).json()["user"]["fullName"] == "Kim Doe"
    cleared = client.patch("/api/users/me", json={"avatarUrl": ""}, headers=user.headers)
    assert cleared.status_code == 200 and cleared.json()["user"]["avatarUrl"] is None

    for bad in ({"avatarUrl": "javascript:alert(1)"}, {"role": "admin"}, {"fullName": "   "}, {"fullName": ""}):
        response = client.patch("/api/users/me", json=bad, headers=user.headers)
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "validation_failed"
    assert db.execute("SELECT full_name, role FROM users WHERE id = %s", (user.id,)).fetchone() == ("Kim Doe", "user")


@pytest.mark.parametrize("name", ["\\u0000", "Kim\\u0000", "\\ud800", "Kim \\udbff"])
def test_profile_names_with_nul_or_lone_surrogates_are_refused(
    client: TestClient, db: psycopg.Connection[Any], name: str
) -> None:
    user = make_user(db, full_name="Kim Doe")
    response = client.patch(
        "/api/users/me",
        content=f'{{"fullName": "{name}"}}',
        headers={**user.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and "NUL" in error["message"]
    assert db.execute("SELECT full_name FROM users WHERE id = %s", (user.id,)).fetchone() == ("Kim Doe",)


def test_password_change_keeps_this_sign_in_and_ends_the_others(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    first = signed_up(client, "kim@example.com")
    other_device = login(client, "kim@example.com")
    auth = bearer(first)

    wrong = _change_password(client, auth, "nope-nope-nope", "fresh-passphrase-1")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"
    changed = _change_password(client, auth, STRONG, "fresh-passphrase-1")
    assert changed.status_code == 200
    assert client.get("/api/users/me", headers=bearer(changed)).status_code == 200
    assert client.get("/api/users/me", headers=auth).status_code == 401  # the old token died

    # This device's session lives on; the other device's is revoked, and its access token with it.
    assert client.post("/api/auth/refresh", headers=cookie_headers(first)).status_code == 200
    assert client.post("/api/auth/refresh", headers=cookie_headers(other_device)).status_code == 401
    assert client.get("/api/users/me", headers=bearer(other_device)).status_code == 401
    assert login(client, "kim@example.com", "fresh-passphrase-1").status_code == 200
    change = db.execute("SELECT metadata FROM audit_logs WHERE action = 'user.password_change'").fetchone()
    assert change is not None and change[0] == {"sessionsRevoked": 1}


def test_password_change_with_an_access_token_from_before_a_refresh_keeps_this_sign_in(
    client: TestClient,
) -> None:
    # The access token still names the session row the refresh rotated away: the whole sign-in
    # (the family) must survive the change, or the token handed back would be dead on arrival.
    first = signed_up(client, "lee@example.com")
    rotated = client.post("/api/auth/refresh", headers=cookie_headers(first))
    assert rotated.status_code == 200
    other_device = login(client, "lee@example.com")

    changed = _change_password(client, bearer(first), STRONG, "fresh-passphrase-2")
    assert changed.status_code == 200
    assert client.get("/api/users/me", headers=bearer(changed)).status_code == 200
    assert client.post("/api/auth/refresh", headers=cookie_headers(rotated)).status_code == 200
    assert client.post("/api/auth/refresh", headers=cookie_headers(other_device)).status_code == 401
