"""Accounts, black-box: sign up, confirm, sign in, forgotten passwords (HTTP, the dev mailbox and,
to check what was stored, the database)."""

from __future__ import annotations

from typing import Any

import jwt
import psycopg
import pytest
from starlette.testclient import TestClient

from tests.auth.helpers import (
    APP_ORIGIN,
    STRONG,
    cookie_headers,
    login,
    mail_token,
    register,
    signed_up,
)
from tests.support.identity import make_user


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
    actions = [r[0] for r in db.execute("SELECT action FROM audit_logs WHERE user_id = %s", (user["id"],))]
    assert {"user.register", "user.verify_email", "auth.login"} <= set(actions)


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
        # The whole address must have the shape, not a prefix of it; no control characters.
        ({"email": "x@example.com y", "password": STRONG, "fullName": "X"}, "email", "valid e-mail"),
        ({"email": "x@y@example.com", "password": STRONG, "fullName": "X"}, "email", "valid e-mail"),
        ({"email": "x\u0001@example.com", "password": STRONG, "fullName": "X"}, "email", "valid e-mail"),
        ({"email": "x@example.com\u007f", "password": STRONG, "fullName": "X"}, "email", "valid e-mail"),
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


@pytest.mark.parametrize("name", ["\\u0000", "Ann\\u0000Example", "\\ud800", "Ann \\udfff"])
def test_names_with_nul_or_lone_surrogates_are_refused_and_nothing_is_written(
    client: TestClient, db: psycopg.Connection[Any], name: str
) -> None:
    # Sent as raw JSON: "\u0000" and "\ud800" are valid JSON escapes but no text Postgres can store.
    body = f'{{"email": "nul@example.com", "password": "{STRONG}", "fullName": "{name}"}}'
    response = client.post("/api/auth/register", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and "NUL" in error["message"]
    assert db.execute("SELECT count(*) FROM users").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM rate_limits").fetchone() == (0,)
    assert [m for m in client.get("/dev/mail.json").json() if m["to"] == "nul@example.com"] == []


def test_duplicate_email_is_409_whatever_the_case(client: TestClient, db: psycopg.Connection[Any]) -> None:
    assert register(client, "dup@example.com").status_code == 201
    response = register(client, "DUP@example.com")
    assert response.status_code == 409 and response.json()["error"]["code"] == "email_taken"
    assert db.execute("SELECT count(*) FROM users").fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM organizations").fetchone() == (1,)


def test_sign_ups_from_one_address_are_limited(client: TestClient, still_clock: float) -> None:
    statuses = [register(client, f"new{i}@example.com").status_code for i in range(21)]
    assert statuses == [201] * 20 + [429]
    # Refused sign-ups count as well: probing for taken addresses is limited the same way.
    assert register(client, "new0@example.com").status_code == 429


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


def test_forgot_password_never_reveals_accounts_and_reset_works_once(
    client: TestClient, db: psycopg.Connection[Any]
) -> None:
    session = signed_up(client, "gina@example.com")
    old_cookie = cookie_headers(session)
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
    assert client.post("/api/auth/refresh", headers=old_cookie).status_code == 401
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {session.json()['accessToken']}"})
    assert me.status_code == 401 and me.json()["error"]["code"] == "session_revoked"
    reset = db.execute("SELECT metadata FROM audit_logs WHERE action = 'user.password_reset'").fetchone()
    assert reset is not None and reset[0] == {"sessionsRevoked": 1}


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
