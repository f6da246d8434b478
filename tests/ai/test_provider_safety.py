"""Who may decide where providers are called and with which platform key, and what the platform
refuses to call: through the real handlers (catalog routes and the generation worker)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.aws import client as aws_client
from devstack.stack import LocalStack
from mm_common import db as mm_db
from mm_common.ai.catalog import BUILTIN_PROVIDERS, seed_catalog
from mm_common.config import DEFAULT_PLATFORM_KEY_NAMES
from tests.support.fake_providers import DEFAULT_API_KEY, FakeProviders, ai_settings, private_networks
from tests.support.identity import Account, make_organization, make_user

SERVER_SECRET = "server-secret-value-0123456789"


@pytest.fixture
def catalog(database_url: str) -> dict[str, Any]:
    with mm_db.transaction() as conn:
        seed_catalog(conn)
        return {r["slug"]: r["id"] for r in conn.execute("SELECT slug, id FROM ai_providers").fetchall()}


@pytest.fixture
def admin(db: psycopg.Connection[Any]) -> Account:
    return make_user(db, role="admin")


@pytest.fixture
def co_admin(db: psycopg.Connection[Any]) -> Account:
    return make_user(db, role="co_admin")


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server


def provider_row(db: psycopg.Connection[Any], provider_id: Any) -> tuple[Any, ...]:
    row = db.execute("SELECT api_base_url, env_var_name FROM ai_providers WHERE id = %s", (provider_id,)).fetchone()
    assert row is not None
    return tuple(row)


def new_provider(client: TestClient, account: Account, url: str, **extra: Any) -> Any:
    body = {"slug": "custom", "name": "Custom", "kind": "openai_compatible", "apiBaseUrl": url, **extra}
    return client.post("/api/admin/ai-providers", json=body, headers=account.headers)


# --- The platform key: a name from the operator's allow-list, chosen by admins only ---------------


def test_seeded_providers_name_only_allowed_platform_keys() -> None:
    allowed = set(DEFAULT_PLATFORM_KEY_NAMES.split(","))
    for slug, _name, kind, _url, env_var_name in BUILTIN_PROVIDERS:
        assert env_var_name is None or env_var_name in allowed, slug
        if kind == "openai_compatible":
            assert env_var_name is None  # a local model server needs no platform key


@pytest.mark.parametrize("name", ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DB_SECRET_ARN", "JWT_SECRET"])
def test_a_provider_cannot_name_any_server_variable_as_its_key(
    client: TestClient, admin: Account, catalog: dict[str, Any], db: psycopg.Connection[Any], name: str
) -> None:
    with private_networks(allowed=True):
        created = new_provider(client, admin, "https://llm.example.com/v1", envVarName=name)
    assert created.status_code == 422
    error = created.json()["error"]
    assert error["details"][0]["field"] == "envVarName"
    assert "OPENAI_API_KEY" in error["message"] and "AI_PLATFORM_KEY_NAMES" in error["message"]
    assert db.execute("SELECT count(*) FROM ai_providers WHERE slug = 'custom'").fetchone() == (0,)

    changed = client.patch(
        f"/api/admin/ai-providers/{catalog['openai']}", json={"envVarName": name}, headers=admin.headers
    )
    assert changed.status_code == 422
    assert provider_row(db, catalog["openai"]) == ("https://api.openai.com/v1", "OPENAI_API_KEY")


def test_the_operator_decides_which_names_are_platform_keys(
    client: TestClient, admin: Account, catalog: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    openai = catalog["openai"]
    with ai_settings(AI_PLATFORM_KEY_NAMES="OPENAI_API_KEY,MY_GATEWAY_KEY"):
        changed = client.patch(
            f"/api/admin/ai-providers/{openai}", json={"envVarName": "MY_GATEWAY_KEY"}, headers=admin.headers
        )
        assert changed.status_code == 200 and changed.json()["provider"]["envVarName"] == "MY_GATEWAY_KEY"
        refused = client.patch(
            f"/api/admin/ai-providers/{openai}", json={"envVarName": "ANTHROPIC_API_KEY"}, headers=admin.headers
        )
        assert refused.status_code == 422
    cleared = client.patch(f"/api/admin/ai-providers/{openai}", json={"envVarName": None}, headers=admin.headers)
    assert cleared.status_code == 200 and cleared.json()["provider"]["envVarName"] is None


def test_changing_the_platform_key_is_admin_only_and_audited_by_name(
    client: TestClient,
    admin: Account,
    co_admin: Account,
    catalog: dict[str, Any],
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-platform-value-0001")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-anthropic-platform-value-0002")
    openai = catalog["openai"]
    moved = client.patch(
        f"/api/admin/ai-providers/{openai}", json={"envVarName": "ANTHROPIC_API_KEY"}, headers=co_admin.headers
    )
    assert moved.status_code == 403 and moved.json()["error"]["code"] == "admin_only"
    assert provider_row(db, openai)[1] == "OPENAI_API_KEY"
    # Co-admins still manage the rest of the catalog.
    renamed = client.patch(f"/api/admin/ai-providers/{openai}", json={"name": "OpenAI (EU)"}, headers=co_admin.headers)
    assert renamed.status_code == 200

    changed = client.patch(
        f"/api/admin/ai-providers/{openai}", json={"envVarName": "ANTHROPIC_API_KEY"}, headers=admin.headers
    )
    assert changed.status_code == 200 and changed.json()["provider"]["envVarName"] == "ANTHROPIC_API_KEY"
    rows = db.execute(
        "SELECT user_id, metadata FROM audit_logs WHERE action = 'ai_provider.update' AND resource_id = %s"
        " ORDER BY created_at",
        (openai,),
    ).fetchall()
    assert [r[0] for r in rows] == [co_admin.id, admin.id]
    assert rows[-1][1]["envVarName"] == {"from": "OPENAI_API_KEY", "to": "ANTHROPIC_API_KEY"}
    logged = json.dumps([r[1] for r in rows])
    assert "platform-value" not in logged  # names, never the keys


def test_a_name_outside_the_allow_list_in_the_database_yields_no_key(
    client: TestClient,
    stack: LocalStack,
    fake: FakeProviders,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A row written before the allow-list existed (or by hand) names a server variable.
    monkeypatch.setenv("MM_TEST_SERVER_SECRET", SERVER_SECRET)
    with private_networks(allowed=True):
        world = make_world(client, db, stack, fake.base_url("openai_compatible"), env_var_name="MM_TEST_SERVER_SECRET")
        owner: Account = world["owner"]
        sources = {
            m["apiName"]: m["keySource"] for m in client.get("/api/ai/models", headers=owner.headers).json()["items"]
        }
        assert sources == {"coder": "none"}
        job = ask(client, world)
        assert run_worker(stack) == 1
    sent = json.dumps([r.headers for r in fake.requests])
    assert len(fake.requests) == 1 and SERVER_SECRET not in sent
    assert fake.requests[0].header("authorization") is None
    failed = client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "invalid_api_key"


# --- Where providers are called -------------------------------------------------------------------

ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data",
    "http://[fd00:ec2::254]/latest",
    "http://metadata.google.internal/computeMetadata/v1",
    "http://[::ffff:169.254.169.254]/v1",
    "http://169.254.1.1:8080/v1",
    "http://[fe80::1]/v1",
    "http://0.0.0.0:11434/v1",
    "http://[::]:8080/v1",
    "http://224.0.0.1/v1",
]
PRIVATE = [
    "http://127.0.0.1:1234/v1",
    "http://localhost:11434/v1",
    "http://[::1]:8080/v1",
    "http://10.0.0.5/v1",
    "http://172.16.3.4/v1",
    "http://192.168.1.10:8080/v1",
    "http://2130706433:8080/v1",
    "http://[::ffff:127.0.0.1]/v1",
]


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_link_local_and_metadata_addresses_are_refused_on_save(
    client: TestClient, admin: Account, catalog: dict[str, Any], db: psycopg.Connection[Any], url: str
) -> None:
    with private_networks(allowed=True):
        created = new_provider(client, admin, url)
        changed = client.patch(
            f"/api/admin/ai-providers/{catalog['openai']}", json={"apiBaseUrl": url}, headers=admin.headers
        )
    for response in (created, changed):
        assert response.status_code == 422
        assert response.json()["error"]["details"][0]["field"] == "apiBaseUrl"
        assert "does not call" in response.json()["error"]["message"]
    assert db.execute("SELECT count(*) FROM ai_providers WHERE slug = 'custom'").fetchone() == (0,)
    assert provider_row(db, catalog["openai"])[0] == "https://api.openai.com/v1"


@pytest.mark.parametrize("url", PRIVATE)
def test_private_and_loopback_addresses_are_refused_on_save_unless_allowed(
    client: TestClient, admin: Account, catalog: dict[str, Any], db: psycopg.Connection[Any], url: str
) -> None:
    with private_networks(allowed=False):
        refused = new_provider(client, admin, url)
        moved = client.patch(
            f"/api/admin/ai-providers/{catalog['openai']}", json={"apiBaseUrl": url}, headers=admin.headers
        )
    assert refused.status_code == 422 and moved.status_code == 422
    assert "AI_ALLOW_PRIVATE_NETWORKS" in refused.json()["error"]["message"]
    assert provider_row(db, catalog["openai"])[0] == "https://api.openai.com/v1"
    with private_networks(allowed=True):
        assert new_provider(client, admin, url).status_code == 201


def test_moving_a_provider_is_audited_with_both_addresses(
    client: TestClient, admin: Account, catalog: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    moved = client.patch(
        f"/api/admin/ai-providers/{catalog['openai']}",
        json={"apiBaseUrl": "https://eu.api.openai.com/v1"},
        headers=admin.headers,
    )
    assert moved.status_code == 200
    row = db.execute("SELECT metadata FROM audit_logs WHERE action = 'ai_provider.update'").fetchone()
    assert row is not None
    assert row[0]["baseUrl"] == {"from": "https://api.openai.com/v1", "to": "https://eu.api.openai.com/v1"}


def test_a_provider_resolving_to_a_refused_address_fails_the_job_without_a_call(
    client: TestClient,
    stack: LocalStack,
    fake: FakeProviders,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The row says a harmless-looking name (saved while it resolved elsewhere, or written by
    # hand); at call time it resolves to loopback.
    port = int(fake.url.rsplit(":", 1)[1])
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port_: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "models.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port_)))]
        return real(host, port_, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with private_networks(allowed=False):
        world = make_world(client, db, stack, f"http://models.example.test:{port}/v1")
        owner: Account = world["owner"]
        client.put(
            f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers
        )
        job = ask(client, world)
        assert run_worker(stack) == 1
    failed = client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "provider_address_refused"
    assert "models.example.test is a private or loopback address" in failed["error"]["message"]
    assert fake.requests == []

    with private_networks(allowed=True):  # the operator allows a model server on its own network
        job = ask(client, world, "again")
        assert run_worker(stack) == 1
    done = client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]
    assert done["status"] == "succeeded"
    assert fake.requests[0].header("host") == f"models.example.test:{port}"


# --- Helpers: a project and chat whose model is served by the fake --------------------------------


def make_world(
    client: TestClient, db: psycopg.Connection[Any], stack: LocalStack, base_url: str, env_var_name: str | None = None
) -> dict[str, Any]:
    drain_jobs(stack)
    owner = make_user(db)
    org = make_organization(db, owner)
    provider = db.execute(
        "INSERT INTO ai_providers (slug, name, kind, api_base_url, env_var_name)"
        " VALUES ('local', 'Local', 'openai_compatible', %s, %s) RETURNING id",
        (base_url, env_var_name),
    ).fetchone()
    assert provider is not None
    model = db.execute(
        "INSERT INTO ai_models (provider_id, display_name, api_name, context_window, max_output_tokens)"
        " VALUES (%s, 'Local coder', 'coder', 32000, 4000) RETURNING id",
        (provider[0],),
    ).fetchone()
    assert model is not None
    project = client.post(
        "/api/projects", json={"organizationId": str(org), "name": "Site", "template": "blank"}, headers=owner.headers
    ).json()["project"]
    chat = client.post(f"/api/projects/{project['id']}/chats", json={}, headers=owner.headers).json()["chat"]
    return {"owner": owner, "provider": provider[0], "model": model[0], "chat": chat}


def drain_jobs(stack: LocalStack) -> None:
    assert stack.moto is not None
    sqs = aws_client("sqs", stack.moto.endpoint)
    queue = stack.outputs["JobsQueue"]
    while received := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for message in received:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def run_worker(stack: LocalStack) -> int:
    return sum(poller.poll_once() for poller in stack.pollers["GenerationWorkerFunction"])


def ask(client: TestClient, world: dict[str, Any], content: str = "hello") -> Any:
    owner: Account = world["owner"]
    posted = client.post(
        f"/api/chats/{world['chat']['id']}/messages",
        json={"content": content, "modelId": str(world["model"]), "mode": "ask"},
        headers=owner.headers,
    )
    assert posted.status_code == 202, posted.text
    return posted.json()["job"]


def test_the_catalog_says_whether_the_platform_key_is_set_never_what_it_is(
    client: TestClient, admin: Account, catalog: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    value = "sk-openai-platform-value-0003"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    unset = client.get(f"/api/admin/ai-providers/{catalog['openai']}", headers=admin.headers)
    assert unset.json()["provider"]["hasPlatformKey"] is False
    monkeypatch.setenv("OPENAI_API_KEY", value)
    listed = client.get("/api/admin/ai-providers", headers=admin.headers)
    openai = next(p for p in listed.json()["items"] if p["id"] == str(catalog["openai"]))
    assert openai["hasPlatformKey"] is True
    assert value not in listed.text
