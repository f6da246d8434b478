"""Accounts and sessions, black-box: only HTTP and the dev mailbox (plus the database to check)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from http.cookies import SimpleCookie
from typing import Any

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from mm_common import ratelimit
from mm_common.tokens import signing_key
from tests.support.identity import PASSWORD, make_user

APP_ORIGIN = "http://127.0.0.1:8000"
STRONG = "a-strong-passphrase-2026"


def mail_token(client: TestClient, to: str, path: str) -> str:
    for message in client.get("/dev/mail.json").json():
        if message["to"] == to and path in message["text"]:
            match = re.search(re.escape(path) + r"\?token=([\w-]+)", message["text"])
            assert match, message["text"]
            return match.group(1)
    raise AssertionError(f"no e-mail to {to} with {path}")


def register(client: TestClient, email: str, password: str = STRONG, name: str = "Ann Example") -> Any:
    return client.post("/api/auth/register", json={"email": email, "password": password, "fullName": name})


def refresh_cookie(response: Any) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    return cookie


def login(client: TestClient, email: str, password: str = STRONG, **extra: Any) -> Any:
    return client.post("/api/auth/login", json={"email": email, "password": password, **extra})


def signed_up(client: TestClient, email: str) -> Any:
    assert register(client, email).status_code == 201
    assert (
        client.post("/api/auth/verify-email", json={"token": mail_token(client, email, "/verify-email")}).status_code
        == 200
    )
    response = login(client, email)
    assert response.status_code == 200
    return response


def test_register_verify_login_and_use_the_api(client: TestClient, db: psycopg.Connection[Any]) -> None:
    response = register(client, "  Ann@Example.COM ")
    assert response.status_code == 201
    user = response.json()["user"]
    assert user["email"] == "ann@example.com" and user["emailVerified"] is False and user["fullName"] == "Ann Example"
    assert "passwordHash" not in user and "password" not in response.text

    # A personal organization with the user as owner.
    owner = db.execute(
        "SELECT o.name, m.role FROM organizations o JOIN organization_members m ON m.organization_id = o.id"
        " WHERE m.user_id = %s",
        (user["id"],),
    ).fetchall()
    assert owner == [("Ann Example's workspace", "owner")]

    blocked = login(client, "ann@example.com")
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "email_not_verified"

    mail = client.get("/dev/mail.json").json()[0]
    assert mail["to"] == "ann@example.com" and "/verify-email?token=" in mail["html"]
    token = mail_token(client, "ann@example.com", "/verify-email")
    assert mail["text"].count(APP_ORIGIN + "/verify-email?token=") == 1
    assert client.post("/api/auth/verify-email", json={"token": token}).json()["user"]["emailVerified"] is True
    again = client.post("/api/auth/verify-email", json={"token": token})
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_token"
    stored = db.execute("SELECT token_hash FROM email_verification_tokens").fetchone()
    assert stored is not None and stored[0] != token  # kept hashed

    session = login(client, "ANN@example.com ", rememberMe=True)
    assert session.status_code == 200
    body = session.json()
    assert body["tokenType"] == "Bearer" and body["expiresIn"] == 900 and "refreshToken" not in body
    claims = jwt.decode(body["accessToken"], options={"verify_signature": False})
    assert claims["userId"] == claims["sub"] == user["id"] and claims["email"] == "ann@example.com"
    assert (
        claims["role"] == "user" and claims["organizationId"] and claims["jti"] and claims["exp"] - claims["iat"] == 900
    )

    header = session.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/api/auth", "Max-Age=604"):
        assert attribute.lower() in header.lower(), header

    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {body['accessToken']}"})
    assert me.status_code == 200 and me.json()["user"]["email"] == "ann@example.com"
    assert me.json()["user"]["lastLoginAt"] is not None


def test_session_cookie_without_remember_me_has_no_max_age(client: TestClient) -> None:
    response = signed_up(client, "bob@example.com")
    assert "max-age" not in response.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"email": "x@example.com", "password": "short", "fullName": "X"}, "password", "at least 10"),
        ({"email": "x@example.com", "password": "password123", "fullName": "X"}, "password", "too common"),
        ({"email": "not-an-email", "password": STRONG, "fullName": "X"}, "email", "valid e-mail"),
        ({"email": "x@example.com", "password": STRONG, "fullName": "   "}, "fullName", "name"),
        ({"email": "x@example.com", "password": STRONG}, "fullName", "required"),
    ],
)
def test_bad_registrations_answer_422_and_create_nothing(
    client: TestClient, db: psycopg.Connection[Any], body: dict[str, str], field: str, fragment: str
) -> None:
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["details"][0]["field"] == field
    assert fragment.lower() in error["message"].lower()
    assert db.execute("SELECT count(*) FROM users").fetchone() == (0,)


def test_duplicate_email_is_409_whatever_the_case(client: TestClient, db: psycopg.Connection[Any]) -> None:
    assert register(client, "dup@example.com").status_code == 201
    response = register(client, "DUP@example.com")
    assert response.status_code == 409 and response.json()["error"]["code"] == "email_taken"
    assert db.execute("SELECT count(*) FROM users").fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM organizations").fetchone() == (1,)


def test_wrong_password_and_unknown_email_answer_the_same(client: TestClient, db: psycopg.Connection[Any]) -> None:
    make_user(db, "known@example.com")
    wrong = login(client, "known@example.com", "not-the-password")
    unknown = login(client, "nobody@example.com", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    reasons = [
        r[0]
        for r in db.execute(
            "SELECT metadata->>'reason' FROM audit_logs WHERE action = 'auth.login_failed' ORDER BY created_at"
        ).fetchall()
    ]
    assert reasons == ["wrong_password", "unknown_email"]


def test_banned_user_cannot_log_in_and_their_tokens_stop_at_once(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    admin = make_user(db, "admin@example.com", role="admin")
    session = signed_up(client, "carl@example.com")
    token = session.json()["accessToken"]
    carl = session.json()["user"]["id"]
    assert client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    ban = client.patch(f"/api/users/{carl}", json={"isActive": False}, headers=admin.headers)
    assert ban.status_code == 200 and ban.json()["user"]["isActive"] is False

    denied = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "session_revoked"
    relogin = login(client, "carl@example.com")
    assert relogin.status_code == 403 and relogin.json()["error"]["code"] == "account_disabled"
    cookie = refresh_cookie(session)["mm_refresh"].value
    refreshed = client.post("/api/auth/refresh", headers={"Cookie": f"mm_refresh={cookie}", "Origin": APP_ORIGIN})
    assert refreshed.status_code == 401

    assert client.patch(f"/api/users/{carl}", json={"isActive": True}, headers=admin.headers).status_code == 200
    assert login(client, "carl@example.com").status_code == 200
    actions = [
        r[0]
        for r in db.execute(
            "SELECT action FROM audit_logs WHERE resource_id = %s ORDER BY created_at", (carl,)
        ).fetchall()
    ]
    assert "user.ban" in actions and "user.unban" in actions


def test_refresh_rotates_and_reuse_revokes_the_family(client: TestClient, db: psycopg.Connection[Any]) -> None:
    session = signed_up(client, "dora@example.com")
    first = refresh_cookie(session)["mm_refresh"].value
    headers = {"Cookie": f"mm_refresh={first}", "Origin": APP_ORIGIN}

    rotated = client.post("/api/auth/refresh", headers=headers)
    assert rotated.status_code == 200
    second = refresh_cookie(rotated)["mm_refresh"].value
    assert second != first and rotated.json()["accessToken"] != session.json()["accessToken"]

    # The old token again: theft assumed, every session of the family ends.
    reused = client.post("/api/auth/refresh", headers=headers)
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "refresh_token_reused"
    after = client.post("/api/auth/refresh", headers={"Cookie": f"mm_refresh={second}", "Origin": APP_ORIGIN})
    assert after.status_code == 401
    assert db.execute("SELECT count(*) FROM sessions WHERE revoked_at IS NULL").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM audit_logs WHERE action = 'auth.refresh_reuse'").fetchone() == (1,)


def test_cookie_refresh_needs_the_app_origin(client: TestClient) -> None:
    cookie = refresh_cookie(signed_up(client, "eve@example.com"))["mm_refresh"].value
    for origin in (None, "https://evil.example"):
        headers = {"Cookie": f"mm_refresh={cookie}"} | ({"Origin": origin} if origin else {})
        response = client.post("/api/auth/refresh", headers=headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_check_failed"
    # The token was not spent by the refused attempts.
    ok = client.post("/api/auth/refresh", headers={"Cookie": f"mm_refresh={cookie}", "Origin": APP_ORIGIN})
    assert ok.status_code == 200


def test_non_browser_clients_refresh_with_the_token_in_the_body(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    make_user(db, "cli@example.com")
    session = login(client, "cli@example.com", PASSWORD, includeRefreshToken=True).json()
    token = session["refreshToken"]
    rotated = client.post("/api/auth/refresh", json={"refreshToken": token})
    assert rotated.status_code == 200
    new_token = rotated.json()["refreshToken"]
    assert new_token and new_token != token
    assert client.post("/api/auth/refresh", json={"refreshToken": "made-up"}).status_code == 401
    assert client.post("/api/auth/refresh").status_code == 401


def test_logout_revokes_the_session_and_clears_the_cookie(client: TestClient, db: psycopg.Connection[Any]) -> None:
    session = signed_up(client, "finn@example.com")
    cookie = refresh_cookie(session)["mm_refresh"].value
    headers = {"Cookie": f"mm_refresh={cookie}", "Origin": APP_ORIGIN}
    out = client.post("/api/auth/logout", headers=headers)
    assert out.status_code == 204
    cleared = refresh_cookie(out)["mm_refresh"]
    assert cleared.value == "" and cleared["max-age"] == "0"
    assert client.post("/api/auth/refresh", headers=headers).status_code == 401
    assert db.execute("SELECT count(*) FROM audit_logs WHERE action = 'auth.logout'").fetchone() == (1,)


def test_forgot_password_never_reveals_accounts_and_reset_works_once(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    session = signed_up(client, "gina@example.com")
    old_cookie = refresh_cookie(session)["mm_refresh"].value
    mails_before = len(client.get("/dev/mail.json").json())

    known = client.post("/api/auth/forgot-password", json={"email": "GINA@example.com"})
    unknown = client.post("/api/auth/forgot-password", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    mails = client.get("/dev/mail.json").json()
    assert len(mails) == mails_before + 1 and mails[0]["to"] == "gina@example.com"

    token = mail_token(client, "gina@example.com", "/reset-password")
    weak = client.post("/api/auth/reset-password", json={"token": token, "password": "short"})
    assert weak.status_code == 422
    done = client.post("/api/auth/reset-password", json={"token": token, "password": "a-brand-new-passphrase"})
    assert done.status_code == 200
    assert (
        client.post("/api/auth/reset-password", json={"token": token, "password": "another-passphrase!"}).status_code
        == 400
    )

    assert login(client, "gina@example.com").status_code == 401
    assert login(client, "gina@example.com", "a-brand-new-passphrase").status_code == 200
    # Every session from before the reset is over, and so is its access token.
    stale = client.post("/api/auth/refresh", headers={"Cookie": f"mm_refresh={old_cookie}", "Origin": APP_ORIGIN})
    assert stale.status_code == 401
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {session.json()['accessToken']}"})
    assert me.status_code == 401


@pytest.fixture
def still_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """Hold time in the middle of every rate-limit window, so no test straddles a window's end."""
    now = 1_800_000_000.0 + 450.0  # 7.5 minutes into a 15-minute window, 30 s into a minute
    monkeypatch.setattr(ratelimit, "clock", lambda: now)
    return now


def test_login_is_rate_limited_per_email(client: TestClient, db: psycopg.Connection[Any], still_clock: float) -> None:
    make_user(db, "hank@example.com")
    statuses = [login(client, "hank@example.com", "wrong-password").status_code for _ in range(5)]
    assert statuses == [401] * 5
    limited = login(client, "hank@example.com", PASSWORD)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 0 < int(limited.headers["retry-after"]) <= 15 * 60


def test_password_reset_requests_are_rate_limited(client: TestClient, still_clock: float) -> None:
    statuses = [
        client.post("/api/auth/forgot-password", json={"email": "ivy@example.com"}).status_code for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]


def test_api_requests_are_rate_limited_per_user(
    client: TestClient, db: psycopg.Connection[Any], still_clock: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mm_common.config import get_settings

    user = make_user(db)
    monkeypatch.setenv("RATE_LIMIT_API_PER_MINUTE", "3")
    get_settings.cache_clear()
    try:
        statuses = [client.get("/api/users/me", headers=user.headers).status_code for _ in range(4)]
        limited = client.get("/api/users/me", headers=user.headers)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429 and limited.headers["retry-after"] == "30"
    other = make_user(db)
    assert client.get("/api/users/me", headers=other.headers).status_code == 200  # per user


def _forge(claims: dict[str, Any], key: Any, algorithm: str) -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _hmac_signed(claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def test_forged_and_expired_access_tokens_are_rejected(client: TestClient, db: psycopg.Connection[Any]) -> None:
    user = make_user(db, "jay@example.com")
    claims = jwt.decode(user.token, options={"verify_signature": False})
    assert client.get("/api/users/me", headers=user.headers).status_code == 200

    def b64(data: dict[str, Any]) -> str:
        return _b64(json.dumps(data).encode())

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header, _payload, signature = user.token.split(".")
    escalated = {**claims, "role": "admin"}
    forged = {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
        "wrong key": _forge(claims, "another-key-of-sufficient-length-0123456789", "HS256"),
        "RS256 signed": _forge(claims, rsa_key, "RS256"),
        # The classic HS/RS confusion: HMAC-signed with an RSA public key as the secret.
        "HS256 with a public key": _hmac_signed(claims, public_pem),
        "HS512 with our key": _forge(claims, signing_key(), "HS512"),
        "tampered role": f"{header}.{b64(escalated)}.{signature}",
        "expired": _forge(
            {**claims, "iat": int(time.time()) - 3600, "exp": int(time.time()) - 60}, signing_key(), "HS256"
        ),
        "garbage": "not.a.token",
    }
    for name, token in forged.items():
        response = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] in {"invalid_token", "token_expired"}, name
    expired = client.get("/api/users/me", headers={"Authorization": f"Bearer {forged['expired']}"})
    assert expired.json()["error"]["code"] == "token_expired"
    assert client.get("/api/users/me").status_code == 401
    assert client.get("/api/users/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_profile_update_and_password_change(client: TestClient, db: psycopg.Connection[Any]) -> None:
    first = signed_up(client, "kim@example.com")
    other_device = login(client, "kim@example.com")
    token = first.json()["accessToken"]
    auth = {"Authorization": f"Bearer {token}"}

    updated = client.patch(
        "/api/users/me", json={"fullName": "Kim Doe", "avatarUrl": "https://img.example/k.png"}, headers=auth
    )
    assert updated.status_code == 200 and updated.json()["user"]["fullName"] == "Kim Doe"
    assert client.patch("/api/users/me", json={"avatarUrl": "javascript:alert(1)"}, headers=auth).status_code == 422
    assert client.patch("/api/users/me", json={"role": "admin"}, headers=auth).status_code == 422

    wrong = client.post(
        "/api/users/me/password",
        json={"currentPassword": "nope-nope-nope", "newPassword": "fresh-passphrase-1"},
        headers=auth,
    )
    assert wrong.status_code == 403
    changed = client.post(
        "/api/users/me/password", json={"currentPassword": STRONG, "newPassword": "fresh-passphrase-1"}, headers=auth
    )
    assert changed.status_code == 200
    new_token = changed.json()["accessToken"]
    assert client.get("/api/users/me", headers={"Authorization": f"Bearer {new_token}"}).status_code == 200
    assert client.get("/api/users/me", headers=auth).status_code == 401  # the old token died

    # This device's session lives on; the other device's is revoked.
    mine = refresh_cookie(first)["mm_refresh"].value
    theirs = refresh_cookie(other_device)["mm_refresh"].value
    assert (
        client.post("/api/auth/refresh", headers={"Cookie": f"mm_refresh={mine}", "Origin": APP_ORIGIN}).status_code
        == 200
    )
    assert (
        client.post("/api/auth/refresh", headers={"Cookie": f"mm_refresh={theirs}", "Origin": APP_ORIGIN}).status_code
        == 401
    )
    assert login(client, "kim@example.com", "fresh-passphrase-1").status_code == 200


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
    assert client.get("/api/users", params={"cursor": "%%%"}, headers=admin.headers).status_code == 422

    target = found[0]["id"]
    promoted = client.patch(f"/api/users/{target}", json={"role": "co_admin"}, headers=admin.headers)
    assert promoted.json()["user"]["role"] == "co_admin"
    assert client.get(f"/api/users/{target}", headers=admin.headers).json()["user"]["role"] == "co_admin"
    assert client.get("/api/users/not-a-uuid", headers=admin.headers).status_code == 404
    lockout = client.patch(f"/api/users/{admin.id}", json={"isActive": False}, headers=admin.headers)
    assert lockout.status_code == 409
    change = db.execute("SELECT metadata FROM audit_logs WHERE action = 'user.role_change'").fetchone()
    assert change is not None and change[0] == {"from": "user", "to": "co_admin"}


def test_expired_verification_link_is_refused(client: TestClient, db: psycopg.Connection[Any]) -> None:
    assert register(client, "late@example.com").status_code == 201
    token = mail_token(client, "late@example.com", "/verify-email")
    db.execute("UPDATE email_verification_tokens SET expires_at = now() - interval '1 minute'")
    response = client.post("/api/auth/verify-email", json={"token": token})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_token"


def test_resend_verification_is_enumeration_safe(client: TestClient) -> None:
    assert register(client, "slow@example.com").status_code == 201
    known = client.post("/api/auth/resend-verification", json={"email": "slow@example.com"})
    unknown = client.post("/api/auth/resend-verification", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()
    tokens = [m for m in client.get("/dev/mail.json").json() if m["to"] == "slow@example.com"]
    assert len(tokens) == 2
