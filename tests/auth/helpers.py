"""What the identity tests share: signing up through HTTP and the dev mailbox, and reading cookies."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Any

from starlette.testclient import TestClient

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


def login(client: TestClient, email: str, password: str = STRONG, **extra: Any) -> Any:
    return client.post("/api/auth/login", json={"email": email, "password": password, **extra})


def signed_up(client: TestClient, email: str) -> Any:
    """Register, confirm the address and sign in: the sign-in's response."""
    assert register(client, email).status_code == 201
    token = mail_token(client, email, "/verify-email")
    assert client.post("/api/auth/verify-email", json={"token": token}).status_code == 200
    response = login(client, email)
    assert response.status_code == 200
    return response


def refresh_cookie(response: Any) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    return cookie


def cookie_headers(response: Any) -> dict[str, str]:
    """Headers presenting the refresh cookie ``response`` set, from the app's own origin."""
    return {"Cookie": f"mm_refresh={refresh_cookie(response)['mm_refresh'].value}", "Origin": APP_ORIGIN}


def bearer(response: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}
