"""Business metrics of the identity capability, as CloudWatch receives them (EMF on stdout)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from mm_common.observability import for_service
from tests.auth.helpers import login, mail_token, register
from tests.support.identity import PASSWORD, make_user


def _metrics(output: str) -> list[str]:
    names: list[str] = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blob = json.loads(line)
            if blob.get("service") == "auth":
                for directive in blob["_aws"]["CloudWatchMetrics"]:
                    names += [metric["Name"] for metric in directive["Metrics"]]
    return names


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> None:
    """Publish metrics as in AWS (the local stack turns publishing off), from an empty set."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    for_service("auth").metrics.clear_metrics()


def test_sign_ups_sign_ins_and_resets_are_counted(
    client: TestClient, db: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str], published: None
) -> None:
    assert register(client, "metric@example.com").status_code == 201
    client.post("/api/auth/verify-email", json={"token": mail_token(client, "metric@example.com", "/verify-email")})
    user = make_user(db)
    assert login(client, user.email, "wrong-password").status_code == 401
    assert login(client, user.email, PASSWORD).status_code == 200
    assert client.post("/api/auth/forgot-password", json={"email": user.email}).status_code == 202
    token = mail_token(client, user.email, "/reset-password")
    assert (
        client.post("/api/auth/reset-password", json={"token": token, "password": "a-new-passphrase!"}).status_code
        == 200
    )

    counted = _metrics(capsys.readouterr().out)
    for name in ("SignUp", "EmailVerified", "SignInFailed", "SignIn", "PasswordResetRequested", "PasswordReset"):
        assert counted.count(name) == 1, (name, counted)
