"""Sessions, black-box: access tokens, refresh rotation, reuse detection, signing out.

An access token lives only as long as its sign-in (its refresh family): logging out, a reused
refresh token or a password reset ends the tokens of that sign-in at once, not 15 minutes later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from mm_common.tokens import signing_key
from tests.auth.helpers import APP_ORIGIN, bearer, cookie_headers, login, refresh_cookie, signed_up
from tests.support.identity import PASSWORD, make_user


def _me(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get("/api/users/me", headers=headers)


def test_refresh_rotates_and_reuse_revokes_the_family(client: TestClient, db: psycopg.Connection[Any]) -> None:
    session = signed_up(client, "dora@example.com")
    first = cookie_headers(session)

    rotated = client.post("/api/auth/refresh", headers=first)
    assert rotated.status_code == 200
    second = cookie_headers(rotated)
    assert second != first and rotated.json()["accessToken"] != session.json()["accessToken"]

    # The old token again: theft assumed, every session of the family ends.
    reused = client.post("/api/auth/refresh", headers=first)
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "refresh_token_reused"
    assert client.post("/api/auth/refresh", headers=second).status_code == 401
    assert db.execute("SELECT count(*) FROM sessions WHERE revoked_at IS NULL").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM audit_logs WHERE action = 'auth.refresh_reuse'").fetchone() == (1,)


def test_reuse_ends_every_access_token_of_the_sign_in_and_drops_the_cookie(client: TestClient) -> None:
    session = signed_up(client, "ruth@example.com")
    rotated = client.post("/api/auth/refresh", headers=cookie_headers(session))
    assert _me(client, bearer(session)).status_code == 200 and _me(client, bearer(rotated)).status_code == 200
    other_sign_in = login(client, "ruth@example.com")

    reused = client.post("/api/auth/refresh", headers=cookie_headers(session))
    assert reused.status_code == 401
    dropped = refresh_cookie(reused)["mm_refresh"]
    assert dropped.value == "" and dropped["max-age"] == "0"
    for token in (session, rotated):
        denied = _me(client, bearer(token))
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "session_revoked"
    # Another sign-in of the same person (another device) is not that family.
    assert _me(client, bearer(other_sign_in)).status_code == 200


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
    assert "set-cookie" not in rotated.headers  # no cookie for a client that did not use one
    assert client.post("/api/auth/refresh", json={"refreshToken": "made-up"}).status_code == 401
    assert client.post("/api/auth/refresh").status_code == 401


def test_logout_revokes_the_session_and_clears_the_cookie(client: TestClient, db: psycopg.Connection[Any]) -> None:
    session = signed_up(client, "finn@example.com")
    headers = cookie_headers(session)
    out = client.post("/api/auth/logout", headers=headers)
    assert out.status_code == 204
    cleared = refresh_cookie(out)["mm_refresh"]
    assert cleared.value == "" and cleared["max-age"] == "0"
    assert client.post("/api/auth/refresh", headers=headers).status_code == 401
    assert db.execute("SELECT count(*) FROM audit_logs WHERE action = 'auth.logout'").fetchone() == (1,)


def test_logout_ends_the_access_token_at_once(client: TestClient) -> None:
    session = signed_up(client, "lou@example.com")
    assert _me(client, bearer(session)).status_code == 200
    assert client.post("/api/auth/logout", headers=cookie_headers(session)).status_code == 204
    denied = _me(client, bearer(session))
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "session_revoked"


def test_logout_with_an_already_rotated_cookie_still_ends_the_sign_in(client: TestClient) -> None:
    # A tab that missed a rotation still holds the older cookie; signing out there must sign out.
    session = signed_up(client, "max@example.com")
    rotated = client.post("/api/auth/refresh", headers=cookie_headers(session))
    assert rotated.status_code == 200

    assert client.post("/api/auth/logout", headers=cookie_headers(session)).status_code == 204
    for token in (session, rotated):
        assert _me(client, bearer(token)).status_code == 401
    assert client.post("/api/auth/refresh", headers=cookie_headers(rotated)).status_code == 401


def test_logout_ends_only_its_own_sign_in(client: TestClient) -> None:
    laptop = signed_up(client, "nia@example.com")
    phone = login(client, "nia@example.com")
    assert client.post("/api/auth/logout", headers=cookie_headers(laptop)).status_code == 204
    assert _me(client, bearer(laptop)).status_code == 401
    assert _me(client, bearer(phone)).status_code == 200
    assert client.post("/api/auth/refresh", headers=cookie_headers(phone)).status_code == 200


def test_logout_with_an_unknown_token_changes_nothing(client: TestClient, db: psycopg.Connection[Any]) -> None:
    session = signed_up(client, "ola@example.com")
    assert client.post("/api/auth/logout", json={"refreshToken": "made-up"}).status_code == 204
    assert _me(client, bearer(session)).status_code == 200
    assert db.execute("SELECT count(*) FROM audit_logs WHERE action = 'auth.logout'").fetchone() == (0,)


def test_api_requests_are_rate_limited_per_user(
    client: TestClient, db: psycopg.Connection[Any], still_clock: float, configure: Any
) -> None:
    user = make_user(db)
    configure(RATE_LIMIT_API_PER_MINUTE="3")
    statuses = [_me(client, user.headers).status_code for _ in range(4)]
    limited = _me(client, user.headers)
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429 and limited.headers["retry-after"] == "30"
    other = make_user(db)
    assert _me(client, other.headers).status_code == 200  # per user


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _hmac_signed(claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def test_forged_and_expired_access_tokens_are_rejected(client: TestClient, db: psycopg.Connection[Any]) -> None:
    user = make_user(db, "jay@example.com")
    claims = jwt.decode(user.token, options={"verify_signature": False})
    assert _me(client, user.headers).status_code == 200

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
        "wrong key": jwt.encode(claims, "another-key-of-sufficient-length-0123456789", algorithm="HS256"),
        "RS256 signed": jwt.encode(claims, rsa_key, algorithm="RS256"),
        # The classic HS/RS confusion: HMAC-signed with an RSA public key as the secret.
        "HS256 with a public key": _hmac_signed(claims, public_pem),
        "HS512 with our key": jwt.encode(claims, signing_key(), algorithm="HS512"),
        "tampered role": f"{header}.{b64(escalated)}.{signature}",
        "expired": jwt.encode(
            {**claims, "iat": int(time.time()) - 3600, "exp": int(time.time()) - 60}, signing_key(), algorithm="HS256"
        ),
        "no session": jwt.encode({k: v for k, v in claims.items() if k != "sid"}, signing_key(), algorithm="HS256"),
        "garbage": "not.a.token",
    }
    for name, token in forged.items():
        response = _me(client, {"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] in {"invalid_token", "token_expired"}, name
    expired = _me(client, {"Authorization": f"Bearer {forged['expired']}"})
    assert expired.json()["error"]["code"] == "token_expired"
    # Well signed, but naming a sign-in that does not exist.
    unknown_session = jwt.encode(
        {**claims, "sid": "00000000-0000-4000-8000-000000000000"}, signing_key(), algorithm="HS256"
    )
    denied = _me(client, {"Authorization": f"Bearer {unknown_session}"})
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "session_revoked"
    assert client.get("/api/users/me").status_code == 401
    assert _me(client, {"Authorization": "Basic abc"}).status_code == 401
