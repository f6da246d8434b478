"""Every AI turn follows the design system: the model gets its tokens, fonts and rules (and a page's override
when the prompt names that page), seen through the fake provider; the context preview shows it and its cost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.stack import LocalStack
from tests.support.fake_providers import DEFAULT_API_KEY, FakeProviders, drain, seed_local_model
from tests.support.identity import Account, make_organization, make_user


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server


@pytest.fixture
def world(client: TestClient, db: psycopg.Connection[Any], stack: LocalStack, fake: FakeProviders) -> dict[str, Any]:
    drain(stack, "JobsQueue")  # messages other tests left behind
    owner = make_user(db)
    org = make_organization(db, owner)
    provider, model = seed_local_model(db, fake)
    key = client.put(f"/api/users/me/api-keys/{provider}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers)
    assert key.status_code == 200, key.text
    project = client.post(
        "/api/projects",
        json={"organizationId": str(org), "name": "Ledger", "template": "blank", "description": "a fintech dashboard"},
        headers=owner.headers,
    ).json()["project"]
    chat = client.post(f"/api/projects/{project['id']}/chats", json={}, headers=owner.headers).json()["chat"]
    return {"owner": owner, "model": model, "project": project, "chat": chat}


def ask(client: TestClient, stack: LocalStack, world: dict[str, Any], content: str) -> None:
    owner: Account = world["owner"]
    posted = client.post(
        f"/api/chats/{world['chat']['id']}/messages",
        json={"content": content, "modelId": str(world["model"]), "mode": "ask"},
        headers=owner.headers,
    )
    assert posted.status_code == 202, posted.text
    assert sum(poller.poll_once() for poller in stack.pollers["GenerationWorkerFunction"]) == 1
    job = client.get(f"/api/jobs/{posted.json()['job']['id']}", headers=owner.headers).json()["job"]
    assert job["status"] == "succeeded", job


def system_prompt(fake: FakeProviders) -> str:
    messages = fake.requests[-1].body["messages"]
    assert messages[0]["role"] == "system"
    return str(messages[0]["content"])


def preview(client: TestClient, world: dict[str, Any], prompt: str) -> dict[str, Any]:
    owner: Account = world["owner"]
    response = client.get(
        f"/api/chats/{world['chat']['id']}/context-preview",
        params={"prompt": prompt, "modelId": str(world["model"])},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_next_ai_turn_follows_the_design_system(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any]
) -> None:
    owner: Account = world["owner"]
    design_url = f"/api/projects/{world['project']['id']}/design-system"

    # Without a design system the prompt has none, and the preview says so.
    ask(client, stack, world, "what is this project?")
    assert "## Design system" not in system_prompt(fake)
    assert preview(client, world, "hello")["designSystem"] is None

    generated = client.post(design_url, json={}, headers=owner.headers)
    assert generated.status_code == 201, generated.text
    document = generated.json()["designSystem"]["document"]
    edited = client.patch(design_url, json={"light": {"primary": "#FFF59D"}}, headers=owner.headers)
    primary = edited.json()["designSystem"]["document"]["tokens"]["light"]["primary"]
    page = client.post(
        design_url, json={"pageName": "Pricing", "description": "a pricing page with plan tiers"}, headers=owner.headers
    )
    assert page.status_code == 201, page.text
    override = page.json()["designSystem"]["override"]

    ask(client, stack, world, "add a settings screen")
    sent = system_prompt(fake)
    assert "## Design system" in sent and "mm-write" in sent
    assert f"--primary {primary}" in sent  # the edited, contrast-checked token
    assert document["typography"]["heading"]["family"] in sent and "Avoid: " in sent
    assert "Page: Pricing" not in sent
    master_sent = sent

    # A prompt naming a page with an override carries that override.
    ask(client, stack, world, "make the pricing page clearer")
    sent = system_prompt(fake)
    assert "Page: Pricing (its overrides below win over the master)." in sent
    assert override["pattern"]["sections"] and " > ".join(override["pattern"]["sections"]) in sent

    shown = preview(client, world, "make the pricing page clearer")["designSystem"]
    assert shown["pageName"] == "Pricing" and "Page: Pricing" in shown["text"]
    assert 0 < shown["tokens"] < 2000
    plain = preview(client, world, "add a footer")
    assert plain["designSystem"]["pageName"] is None and f"--primary {primary}" in plain["designSystem"]["text"]
    assert plain["systemTokens"] > plain["designSystem"]["tokens"]
    assert plain["designSystem"]["text"] in master_sent  # exactly what the turn without a page carried
