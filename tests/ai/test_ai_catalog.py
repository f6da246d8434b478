"""The AI catalog (admins), the models users can pick, and users' own provider keys (BYOK)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from mm_common import db as mm_db
from mm_common.ai.catalog import BUILTIN_MODELS, BUILTIN_PROVIDERS, seed_catalog
from mm_common.ai.keys import user_api_key
from tests.support.fake_providers import private_networks
from tests.support.identity import Account, make_user


@pytest.fixture
def catalog(database_url: str) -> dict[str, Any]:
    with mm_db.transaction() as conn:
        seed_catalog(conn)
        providers = {r["slug"]: r["id"] for r in conn.execute("SELECT slug, id FROM ai_providers").fetchall()}
    return providers


@pytest.fixture
def admin(db: psycopg.Connection[Any]) -> Account:
    return make_user(db, role="admin")


def test_seed_is_idempotent_and_complete(catalog: dict[str, Any], db: psycopg.Connection[Any]) -> None:
    assert set(catalog) == {p[0] for p in BUILTIN_PROVIDERS}
    with mm_db.transaction() as conn:
        assert seed_catalog(conn) == {"providers": 0, "models": 0}
    assert db.execute("SELECT count(*) FROM ai_models").fetchone() == (len(BUILTIN_MODELS),)


def test_admins_manage_providers_and_models(
    client: TestClient, admin: Account, catalog: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    with private_networks(allowed=True):  # LM Studio on the operator's machine
        created = client.post(
            "/api/admin/ai-providers",
            json={
                "slug": "lmstudio",
                "name": "LM Studio",
                "kind": "openai_compatible",
                "apiBaseUrl": "http://127.0.0.1:1234/v1/",
            },
            headers=admin.headers,
        )
    assert created.status_code == 201
    provider = created.json()["provider"]
    assert provider["apiBaseUrl"] == "http://127.0.0.1:1234/v1" and provider["isBuiltin"] is False
    again = {"slug": "lmstudio", "name": "Again", "kind": "openai", "apiBaseUrl": "https://a.example"}
    assert client.post("/api/admin/ai-providers", json=again, headers=admin.headers).status_code == 409

    model = client.post(
        "/api/admin/ai-models",
        json={
            "providerId": provider["id"],
            "displayName": "Local",
            "apiName": "local-model",
            "contextWindow": 8192,
            "maxOutputTokens": 2048,
        },
        headers=admin.headers,
    )
    assert model.status_code == 201
    model_id = model.json()["model"]["id"]
    duplicate = client.post(
        "/api/admin/ai-models",
        json={"providerId": provider["id"], "displayName": "Again", "apiName": "local-model"},
        headers=admin.headers,
    )
    assert duplicate.status_code == 409
    updated = client.patch(f"/api/admin/ai-models/{model_id}", json={"isAvailable": False}, headers=admin.headers)
    assert updated.json()["model"]["isAvailable"] is False
    names = {m["apiName"] for m in client.get("/api/ai/models", headers=admin.headers).json()["items"]}
    assert "local-model" not in names and "gpt-4.1" in names

    disabled = client.patch(
        f"/api/admin/ai-providers/{catalog['openai']}", json={"isEnabled": False}, headers=admin.headers
    )
    assert disabled.status_code == 200
    names = {m["apiName"] for m in client.get("/api/ai/models", headers=admin.headers).json()["items"]}
    assert "gpt-4.1" not in names

    assert client.delete(f"/api/admin/ai-providers/{provider['id']}", headers=admin.headers).status_code == 204
    assert db.execute("SELECT count(*) FROM ai_models WHERE api_name = 'local-model'").fetchone() == (0,)
    actions = {r[0] for r in db.execute("SELECT action FROM audit_logs").fetchall()}
    assert {"ai_provider.create", "ai_model.create", "ai_model.update", "ai_provider.delete"} <= actions


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com",
        "http://user:secret@example.com/v1",
        "https://example.com/v1#x",
        "not a url",
        "http://example.com:99999/v1",
        "http://example.com:0/v1",
        "http://exa mple.com/v1",
        "http:///v1",
    ],
)
def test_base_urls_are_plain_http(client: TestClient, admin: Account, url: str, db: psycopg.Connection[Any]) -> None:
    response = client.post(
        "/api/admin/ai-providers",
        json={"slug": "bad", "name": "Bad", "kind": "openai", "apiBaseUrl": url},
        headers=admin.headers,
    )
    assert response.status_code == 422
    assert db.execute("SELECT count(*) FROM ai_providers WHERE slug = 'bad'").fetchone() == (0,)


def test_users_keep_their_own_keys_encrypted_and_masked(
    client: TestClient, catalog: dict[str, Any], db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(db)
    openai = catalog["openai"]
    secret = "sk-test-0123456789abcdefWXYZ"
    stored = client.put(f"/api/users/me/api-keys/{openai}", json={"apiKey": f"  {secret} "}, headers=user.headers)
    assert stored.status_code == 200
    assert stored.json()["apiKey"]["maskedKey"] == "••••WXYZ"
    assert secret not in stored.text
    listed = client.get("/api/users/me/api-keys", headers=user.headers)
    assert [k["providerName"] for k in listed.json()["items"]] == ["OpenAI"] and secret not in listed.text
    row = db.execute("SELECT encrypted_key, encrypted_data_key FROM user_api_keys").fetchone()
    assert row is not None and secret not in row[0] and secret not in row[1]

    with mm_db.transaction() as conn:
        assert user_api_key(conn, user.id, openai) == secret
    # The ciphertext only opens for its own user and provider.
    other = make_user(db)
    db.execute(
        "INSERT INTO user_api_keys (user_id, provider_id, encrypted_key, encrypted_data_key, key_last4)"
        " SELECT %s, provider_id, encrypted_key, encrypted_data_key, key_last4 FROM user_api_keys WHERE user_id = %s",
        (other.id, user.id),
    )
    with pytest.raises(Exception), mm_db.transaction() as conn:  # noqa: B017 - KMS refuses the wrong context
        user_api_key(conn, other.id, openai)

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "platform-key")
    sources = {m["apiName"]: m["keySource"] for m in client.get("/api/ai/models", headers=user.headers).json()["items"]}
    assert (
        sources["gpt-4.1"] == "user"
        and sources["gemini-2.5-pro"] == "platform"
        and sources["claude-sonnet-4-5"] == "none"
    )

    assert client.delete(f"/api/users/me/api-keys/{openai}", headers=user.headers).status_code == 204
    assert client.get(f"/api/users/me/api-keys/{openai}", headers=user.headers).status_code == 404
    bad = client.put(f"/api/users/me/api-keys/{openai}", json={"apiKey": "has spaces inside"}, headers=user.headers)
    assert bad.status_code == 422


def test_only_admins_decide_where_providers_are_called(
    client: TestClient, catalog: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    co_admin = make_user(db, role="co_admin")
    openai = catalog["openai"]
    moved = client.patch(
        f"/api/admin/ai-providers/{openai}",
        json={"apiBaseUrl": "http://169.254.169.254/latest"},
        headers=co_admin.headers,
    )
    assert moved.status_code == 403
    assert (
        client.patch(
            f"/api/admin/ai-providers/{openai}", json={"name": "OpenAI (EU)"}, headers=co_admin.headers
        ).status_code
        == 200
    )
    added = client.post(
        "/api/admin/ai-providers",
        json={"slug": "x", "name": "X", "kind": "openai", "apiBaseUrl": "http://10.0.0.1/v1"},
        headers=co_admin.headers,
    )
    assert added.status_code == 403
    row = db.execute("SELECT api_base_url FROM ai_providers WHERE id = %s", (openai,)).fetchone()
    assert row == ("https://api.openai.com/v1",)


BAD_INPUT: list[tuple[str, str, Any, int]] = [
    (
        "POST",
        "/api/admin/ai-providers",
        {"slug": "x", "name": "A\u0000B", "kind": "openai", "apiBaseUrl": "https://x.example"},
        422,
    ),
    (
        "POST",
        "/api/admin/ai-providers",
        {"slug": "x", "name": "A\ud800", "kind": "openai", "apiBaseUrl": "https://x.example"},
        422,
    ),
    ("POST", "/api/admin/ai-providers", {"slug": "x", "name": "X", "kind": "openai", "apiBaseUrl": None}, 422),
    ("POST", "/api/admin/ai-providers", [], 422),
    ("PATCH", "/api/admin/ai-providers/{openai}", {"name": None}, 422),
    ("PATCH", "/api/admin/ai-providers/{openai}", {"isEnabled": None}, 422),
    ("PATCH", "/api/admin/ai-providers/{openai}", {"apiBaseUrl": None}, 422),
    ("PATCH", "/api/admin/ai-providers/{openai}", {"name": "\u0000"}, 422),
    ("PATCH", "/api/admin/ai-providers/not-a-uuid", {"name": "X"}, 404),
    ("GET", "/api/admin/ai-providers/not-a-uuid", None, 404),
    ("DELETE", "/api/admin/ai-providers/00000000-0000-0000-0000-000000000000", None, 404),
    (
        "POST",
        "/api/admin/ai-models",
        {"providerId": "{openai}", "displayName": "M", "apiName": "m", "inputPricePerMillionTokens": 1e7},
        422,
    ),
    ("POST", "/api/admin/ai-models", {"providerId": "{openai}", "displayName": "M", "apiName": "m\u0000"}, 422),
    ("POST", "/api/admin/ai-models", {"providerId": "not-a-uuid", "displayName": "M", "apiName": "m"}, 422),
    (
        "POST",
        "/api/admin/ai-models",
        {"providerId": "00000000-0000-0000-0000-000000000000", "displayName": "M", "apiName": "m"},
        422,
    ),
    ("PATCH", "/api/admin/ai-models/{model}", {"displayName": None}, 422),
    ("PATCH", "/api/admin/ai-models/{model}", {"outputPricePerMillionTokens": "NaN"}, 422),
    ("PATCH", "/api/admin/ai-models/{model}", {"outputPricePerMillionTokens": "1000000"}, 422),
    ("PATCH", "/api/admin/ai-models/{model}", {"description": "\ud83d"}, 422),
    ("PATCH", "/api/admin/ai-models/{model}", {"contextWindow": 2**40}, 422),
    ("DELETE", "/api/admin/ai-models/not-a-uuid", None, 404),
    ("PUT", "/api/users/me/api-keys/{openai}", {"apiKey": "sk-\u0000abcdefgh"}, 422),
    ("PUT", "/api/users/me/api-keys/{openai}", {"apiKey": "sk-\ud800abcdefgh"}, 422),
    ("PUT", "/api/users/me/api-keys/{openai}", {"apiKey": "ключ-0123456789"}, 422),  # no header can carry it
    ("PUT", "/api/users/me/api-keys/{openai}", {"apiKey": "   short        "}, 422),
    ("PUT", "/api/users/me/api-keys/{openai}", None, 422),
    ("PUT", "/api/users/me/api-keys/not-a-uuid", {"apiKey": "sk-0123456789"}, 404),
    ("PUT", "/api/users/me/api-keys/00000000-0000-0000-0000-000000000000", {"apiKey": "sk-0123456789"}, 404),
    ("GET", "/api/users/me/api-keys/not-a-uuid", None, 404),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if value.startswith(("/", "{")) else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body", "status"), BAD_INPUT)
def test_bad_input_is_a_4xx_that_changes_nothing(
    client: TestClient,
    admin: Account,
    catalog: dict[str, Any],
    db: psycopg.Connection[Any],
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    model = db.execute("SELECT id FROM ai_models WHERE api_name = 'gpt-4.1'").fetchone()
    assert model is not None
    ids = {"openai": str(catalog["openai"]), "model": str(model[0])}
    tables = ("ai_providers", "ai_models", "user_api_keys", "audit_logs")

    def snapshot() -> list[Any]:
        return [db.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in tables]

    before = snapshot()
    kwargs: dict[str, Any] = {"headers": admin.headers}
    if body is not None or method == "PUT":
        kwargs["content"] = json.dumps(_fill(body, ids))
        kwargs["headers"] = {**admin.headers, "Content-Type": "application/json"}
    response = client.request(method, _fill(path, ids), **kwargs)
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert snapshot() == before
