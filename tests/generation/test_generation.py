"""A chat message becomes a job; the worker (real handler, real SQS through moto) calls a fake
provider speaking the real wire format; the answer becomes a proposal that approval applies."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import psycopg
import pytest
from psycopg.types.json import Jsonb
from starlette.testclient import TestClient

from devstack.aws import client as aws_client
from devstack.stack import LocalStack
from mm_common.config import get_settings
from tests.support.fake_providers import DEFAULT_API_KEY, FakeProviders, Reply, drain, seed_local_model
from tests.support.identity import Account, add_member, make_organization, make_user

ANSWER = [
    "I added an about page.\n",
    '<mm-write path="about.html" description="About page">\n<h1>About us</h1>\n',
    "<p>Fish &amp; chips</p>\n</mm-write>\n",
    "<mm-chat-summary>Add an about page</mm-chat-summary>",
]


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server


@pytest.fixture
def world(client: TestClient, db: psycopg.Connection[Any], stack: LocalStack, fake: FakeProviders) -> dict[str, Any]:
    assert stack.moto is not None
    drain(stack, "JobsQueue")  # messages other tests left behind
    owner = make_user(db)
    org = make_organization(db, owner)
    provider, model = seed_local_model(db, fake)
    project = client.post(
        "/api/projects", json={"organizationId": str(org), "name": "Site", "template": "blank"}, headers=owner.headers
    ).json()["project"]
    chat = client.post(f"/api/projects/{project['id']}/chats", json={}, headers=owner.headers).json()["chat"]
    return {"owner": owner, "org": org, "provider": provider, "model": model, "project": project, "chat": chat}


def run_worker(stack: LocalStack) -> int:
    return sum(poller.poll_once() for poller in stack.pollers["GenerationWorkerFunction"])


def ask(client: TestClient, world: dict[str, Any], content: str = "add an about page", **extra: Any) -> Any:
    owner: Account = world["owner"]
    return client.post(
        f"/api/chats/{world['chat']['id']}/messages",
        json={"content": content, "modelId": str(world["model"]), **extra},
        headers=owner.headers,
    )


def test_message_to_proposal_to_version_and_redelivery_changes_nothing(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    owner: Account = world["owner"]
    assert (
        client.put(
            f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers
        ).status_code
        == 200
    )
    fake.script.chunks = ANSWER
    posted = ask(client, world)
    assert posted.status_code == 202
    job = posted.json()["job"]
    assert job["status"] == "queued"
    busy = ask(client, world, "and another thing")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "generation_in_progress"

    assert run_worker(stack) == 1
    done = client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]
    assert done["status"] == "succeeded" and done["output"] == "".join(ANSWER)
    assert done["usage"] == {"promptTokens": 21, "completionTokens": 9}
    tail = client.get(f"/api/jobs/{job['id']}", params={"since": 10}, headers=owner.headers).json()["job"]
    assert tail["output"] == "".join(ANSWER)[10:] and tail["outputLength"] == len("".join(ANSWER))
    # The provider got our protocol rules, the project's code and the prompt, with the user's key.
    request = fake.requests[-1]
    assert request.header("authorization") == f"Bearer {DEFAULT_API_KEY}"
    sent = json.dumps(request.body)
    assert "mm-write" in sent and "add an about page" in sent and "index.html" in sent

    messages = client.get(f"/api/chats/{world['chat']['id']}/messages", headers=owner.headers).json()["items"]
    assistant = messages[-1]
    assert assistant["role"] == "assistant" and assistant["approvalState"] == "pending"
    assert client.get(f"/api/chats/{world['chat']['id']}", headers=owner.headers).json()["chat"]["title"]

    approved = client.post(f"/api/messages/{assistant['id']}/approve", headers=owner.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["message"]["approvalState"] == "approved"
    about = client.get(f"/api/projects/{world['project']['id']}/files/about.html", headers=owner.headers).json()
    assert about["content"] == "<h1>About us</h1>\n<p>Fish &amp; chips</p>\n"  # entities kept as written
    versions = client.get(f"/api/projects/{world['project']['id']}/versions", headers=owner.headers).json()["items"]
    assert versions[0]["source"] == "ai" and versions[0]["messageId"] == assistant["id"]
    assert versions[0]["message"] == "Add an about page"
    again = client.post(f"/api/messages/{assistant['id']}/approve", headers=owner.headers)
    assert again.status_code == 409

    # SQS delivers the same job again: nothing changes.
    assert stack.moto is not None
    aws_client("sqs", stack.moto.endpoint).send_message(
        QueueUrl=stack.outputs["JobsQueue"], MessageBody=json.dumps({"jobId": job["id"]})
    )
    requests_before = len(fake.requests)
    assert run_worker(stack) == 1
    assert len(fake.requests) == requests_before
    assert db.execute("SELECT count(*) FROM messages WHERE role = 'assistant'").fetchone() == (1,)
    usage = db.execute(
        "SELECT prompt_tokens, completion_tokens, metered_prompt_tokens, metered_completion_tokens FROM token_usage"
    ).fetchone()
    assert usage == (21, 9, 0, 0)  # counted for analytics; the user's own key: nothing metered


def test_platform_key_is_metered_and_the_quota_stops_jobs_before_any_call(
    client: TestClient,
    stack: LocalStack,
    fake: FakeProviders,
    world: dict[str, Any],
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The operator allows the provider's variable as a platform key, and sets it.
    monkeypatch.setenv("AI_PLATFORM_KEY_NAMES", "MM_TEST_PLATFORM_KEY")
    monkeypatch.setenv("MM_TEST_PLATFORM_KEY", DEFAULT_API_KEY)
    get_settings.cache_clear()
    try:
        first = ask(client, world, mode="ask").json()["job"]
        assert run_worker(stack) == 1
        owner: Account = world["owner"]
        assert client.get(f"/api/jobs/{first['id']}", headers=owner.headers).json()["job"]["status"] == "succeeded"
        metered = db.execute("SELECT metered_prompt_tokens, metered_completion_tokens FROM token_usage").fetchone()
        assert metered == (21, 9)

        # The organization is on the Free plan, and an admin set the free tier's quota below what was used.
        db.execute("UPDATE organizations SET subscription_tier = 'free'")
        db.execute("UPDATE plans SET monthly_ai_tokens = 25 WHERE tier = 'free'")
        requests_before = len(fake.requests)
        second = ask(client, world, "more please").json()["job"]
        assert run_worker(stack) == 1
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    failed = client.get(f"/api/jobs/{second['id']}", headers=owner.headers).json()["job"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "quota_exceeded"
    assert "API key" in failed["error"]["message"]
    assert len(fake.requests) == requests_before


def test_a_refused_key_fails_the_job_with_a_clear_reason(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any]
) -> None:
    owner: Account = world["owner"]
    client.put(
        f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": "sk-wrong-key-123456"}, headers=owner.headers
    )
    job = ask(client, world).json()["job"]
    assert run_worker(stack) == 1
    failed = client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "invalid_api_key"
    assert "sk-wrong" not in json.dumps(failed)


def test_provider_hiccups_are_retried_inside_the_job(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any]
) -> None:
    owner: Account = world["owner"]
    client.put(f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers)
    fake.script.replies = [Reply(status=500)]
    job = ask(client, world, mode="ask").json()["job"]
    assert run_worker(stack) == 1
    assert client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]["status"] == "succeeded"
    assert len(fake.requests) == 2


def test_canceling_a_queued_job_means_it_never_runs(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any]
) -> None:
    owner: Account = world["owner"]
    job = ask(client, world).json()["job"]
    canceled = client.post(f"/api/jobs/{job['id']}/cancel", headers=owner.headers).json()["job"]
    assert canceled["status"] == "canceled"
    assert run_worker(stack) == 1
    assert fake.requests == []
    assert ask(client, world, "next").status_code == 202  # the chat is free again


def test_other_organizations_jobs_and_messages_do_not_exist(
    client: TestClient, world: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    job = ask(client, world).json()["job"]
    stranger = make_user(db)
    make_organization(db, stranger, "Elsewhere")
    assert client.get(f"/api/jobs/{job['id']}", headers=stranger.headers).status_code == 404
    assert client.post(f"/api/jobs/{job['id']}/cancel", headers=stranger.headers).status_code == 404
    assert client.post(f"/api/messages/{job['userMessageId']}/approve", headers=stranger.headers).status_code == 404


def test_auto_approve_applies_the_answer_at_once(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any]
) -> None:
    owner: Account = world["owner"]
    client.put(f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers)
    client.patch(f"/api/projects/{world['project']['id']}", json={"autoApprove": True}, headers=owner.headers)
    fake.script.chunks = ANSWER
    ask(client, world)
    assert run_worker(stack) == 1
    messages = client.get(f"/api/chats/{world['chat']['id']}/messages", headers=owner.headers).json()["items"]
    assert messages[-1]["approvalState"] == "approved"
    about = client.get(f"/api/projects/{world['project']['id']}/files/about.html", headers=owner.headers)
    assert about.status_code == 200


def test_auto_approve_applies_nothing_for_someone_who_may_no_longer_edit(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    owner: Account = world["owner"]
    pid = world["project"]["id"]
    client.patch(f"/api/projects/{pid}", json={"autoApprove": True}, headers=owner.headers)
    editor = make_user(db)
    add_member(db, world["org"], editor, "member", ["view", "edit"])
    client.put(f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=editor.headers)
    fake.script.chunks = ANSWER
    asked = client.post(
        f"/api/chats/{world['chat']['id']}/messages",
        json={"content": "add an about page", "modelId": str(world["model"])},
        headers=editor.headers,
    )
    assert asked.status_code == 202, asked.text
    # While the model answers, the editor is made read-only.
    db.execute(
        "UPDATE organization_members SET permissions = %s WHERE user_id = %s AND organization_id = %s",
        (Jsonb(["view"]), editor.id, world["org"]),
    )
    assert run_worker(stack) == 1
    answer = client.get(f"/api/chats/{world['chat']['id']}/messages", headers=owner.headers).json()["items"][-1]
    assert answer["role"] == "assistant" and answer["approvalState"] == "pending"  # for an editor to decide
    assert client.get(f"/api/projects/{pid}/files/about.html", headers=owner.headers).status_code == 404


def test_undo_restores_the_turns_source_and_retry_asks_again(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any]
) -> None:
    owner: Account = world["owner"]
    pid = world["project"]["id"]
    client.put(f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers)
    fake.script.chunks = ANSWER
    ask(client, world)
    run_worker(stack)
    chat = world["chat"]["id"]
    answer = client.get(f"/api/chats/{chat}/messages", headers=owner.headers).json()["items"][-1]
    client.post(f"/api/messages/{answer['id']}/approve", headers=owner.headers)
    assert client.get(f"/api/projects/{pid}/files/about.html", headers=owner.headers).status_code == 200

    undone = client.post(f"/api/chats/{chat}/undo", headers=owner.headers)
    assert undone.status_code == 200
    assert client.get(f"/api/projects/{pid}/files/about.html", headers=owner.headers).status_code == 404
    history = client.get(f"/api/projects/{pid}/versions", headers=owner.headers).json()["items"]
    assert [v["source"] for v in history[:3]] == ["restore", "ai", "template"]  # forward-only

    retried = client.post(f"/api/chats/{chat}/retry", headers=owner.headers)
    assert retried.status_code == 202
    assert run_worker(stack) == 1
    job = client.get(f"/api/jobs/{retried.json()['job']['id']}", headers=owner.headers).json()["job"]
    assert job["status"] == "succeeded"
    assistants = [
        m
        for m in client.get(f"/api/chats/{chat}/messages", headers=owner.headers).json()["items"]
        if m["role"] == "assistant"
    ]
    assert len(assistants) == 2


def test_context_preview_shows_what_would_be_sent(client: TestClient, world: dict[str, Any]) -> None:
    owner: Account = world["owner"]
    pid = world["project"]["id"]
    client.put(f"/api/projects/{pid}/files/package-lock.json", json={"content": "{}"}, headers=owner.headers)
    client.put(f"/api/projects/{pid}/files/big.txt", json={"content": "x" * 200_000}, headers=owner.headers)
    preview = client.get(
        f"/api/chats/{world['chat']['id']}/context-preview",
        params={"prompt": "fix index.html", "modelId": str(world["model"])},
        headers=owner.headers,
    )
    assert preview.status_code == 200
    body = preview.json()
    included = [f["path"] for f in body["included"]]
    assert "index.html" in included and "package-lock.json" not in included + body["listed"]
    assert "big.txt" in body["listed"]  # does not fit the 32k window
    assert body["fileTokens"] <= body["budget"] and body["contextWindow"] == 32000


class _Registry(BaseHTTPRequestHandler):
    """A fake npm registry: the abbreviated package document, as the real one serves it."""

    known: ClassVar[dict[str, str]] = {"zod": "3.23.8"}

    def do_GET(self) -> None:
        name = self.path.lstrip("/").replace("%2F", "/")
        if name in self.known:
            body = json.dumps({"name": name, "dist-tags": {"latest": self.known[name]}, "versions": {}}).encode()
            self.send_response(200)
        else:
            body = json.dumps({"error": "Not found"}).encode()
            self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("NPM_REGISTRY_URL", url)
    yield url
    server.shutdown()
    server.server_close()


def test_dependencies_are_resolved_through_the_registry(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any], registry: str
) -> None:
    owner: Account = world["owner"]
    client.put(f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers)
    fake.script.chunks = ['<mm-add-dependency packages="zod no-such-package-xyz"></mm-add-dependency>']
    ask(client, world)
    run_worker(stack)
    chat = world["chat"]["id"]
    answer = client.get(f"/api/chats/{chat}/messages", headers=owner.headers).json()["items"][-1]
    assert answer["approvalState"] == "pending"
    assert client.post(f"/api/messages/{answer['id']}/approve", headers=owner.headers).status_code == 200
    package = client.get(f"/api/projects/{world['project']['id']}/files/package.json", headers=owner.headers).json()
    assert json.loads(package["content"])["dependencies"] == {"zod": "^3.23.8"}


def test_a_crashed_delivery_is_taken_over_and_a_live_one_is_not(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    owner: Account = world["owner"]
    client.put(f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers)
    job = ask(client, world, mode="ask").json()["job"]
    # Another worker holds the job with a live lease: this delivery must leave it alone.
    db.execute(
        "UPDATE generation_jobs SET status = 'running', lease_owner = 'other', attempts = 1,"
        " lease_expires_at = now() + interval '10 minutes' WHERE id = %s",
        (job["id"],),
    )
    assert run_worker(stack) == 1
    assert fake.requests == []
    # That worker died mid-stream: once its lease expires, a redelivery finishes the job once.
    db.execute(
        "UPDATE generation_jobs SET lease_expires_at = now() - interval '1 second', output = 'Hel' WHERE id = %s",
        (job["id"],),
    )
    assert stack.moto is not None
    aws_client("sqs", stack.moto.endpoint).send_message(
        QueueUrl=stack.outputs["JobsQueue"], MessageBody=json.dumps({"jobId": job["id"]})
    )
    assert run_worker(stack) == 1
    done = client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]
    assert done["status"] == "succeeded" and done["output"] == "Hello, wörld! ✨"
    assert db.execute("SELECT count(*) FROM messages WHERE role = 'assistant'").fetchone() == (1,)


def test_a_poison_message_ends_in_the_dead_letter_queue(stack: LocalStack, world: dict[str, Any]) -> None:
    assert stack.moto is not None
    sqs = aws_client("sqs", stack.moto.endpoint)
    drain(stack, "JobsDeadLetterQueue")
    sqs.send_message(QueueUrl=stack.outputs["JobsQueue"], MessageBody="not json at all")
    pollers = stack.pollers["GenerationWorkerFunction"]
    delays = [p.retry_delay_s for p in pollers]
    try:
        for poller in pollers:
            poller.retry_delay_s = 0  # the failed message is visible again at once
        for _ in range(4):  # maxReceiveCount is 3
            run_worker(stack)
    finally:
        for poller, delay in zip(pollers, delays, strict=True):
            poller.retry_delay_s = delay
    dead = sqs.receive_message(QueueUrl=stack.outputs["JobsDeadLetterQueue"]).get("Messages", [])
    assert [m["Body"] for m in dead] == ["not json at all"]


def test_maintenance_requeues_jobs_nothing_is_working_on(
    stack: LocalStack, world: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    chat = world["chat"]["id"]
    stalled = db.execute(
        "INSERT INTO generation_jobs (chat_id, project_id, organization_id, status, lease_owner, lease_expires_at)"
        " VALUES (%s, %s, %s, 'running', 'dead-worker', now() - interval '5 minutes') RETURNING id",
        (chat, world["project"]["id"], world["org"]),
    ).fetchone()
    assert stalled is not None
    assert stack.scheduler is not None
    drain(stack, "JobsQueue")
    result = stack.scheduler.run_now("MaintenanceFunction")
    assert result["tasks"]["stalled_jobs"]["requeued"] == 1
    assert stack.moto is not None
    queued = aws_client("sqs", stack.moto.endpoint).receive_message(QueueUrl=stack.outputs["JobsQueue"])["Messages"]
    assert [json.loads(m["Body"])["jobId"] for m in queued] == [str(stalled[0])]


# ------------------------------------------------------------------------ jobs nothing works on


def _worker_died(db: psycopg.Connection[Any], job_id: str, *, expired: str) -> None:
    """The job as a worker that died left it: running, its lease ended ``expired`` ago."""
    db.execute(
        "UPDATE generation_jobs SET status = 'running', lease_owner = 'dead-worker', attempts = 1,"
        " started_at = now(), lease_expires_at = now() - %s::interval WHERE id = %s",
        (expired, job_id),
    )


def test_canceling_a_job_whose_worker_died_ends_it_and_frees_the_chat(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    owner: Account = world["owner"]
    job = ask(client, world).json()["job"]
    _worker_died(db, job["id"], expired="1 second")
    canceled = client.post(f"/api/jobs/{job['id']}/cancel", headers=owner.headers)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["job"]["status"] == "canceled" and canceled.json()["job"]["finishedAt"]
    assert ask(client, world, "next").status_code == 202  # the chat's one active turn is free
    drain(stack, "JobsQueue")
    # A late delivery of the canceled job runs nothing.
    assert stack.moto is not None
    aws_client("sqs", stack.moto.endpoint).send_message(
        QueueUrl=stack.outputs["JobsQueue"], MessageBody=json.dumps({"jobId": job["id"]})
    )
    assert run_worker(stack) == 1
    assert fake.requests == []
    assert client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]["status"] == "canceled"


def test_canceling_a_job_a_live_worker_runs_asks_the_worker_to_stop(
    client: TestClient, world: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    owner: Account = world["owner"]
    job = ask(client, world).json()["job"]
    db.execute(
        "UPDATE generation_jobs SET status = 'running', lease_owner = 'live-worker', attempts = 1,"
        " lease_expires_at = now() + interval '10 minutes' WHERE id = %s",
        (job["id"],),
    )
    canceled = client.post(f"/api/jobs/{job['id']}/cancel", headers=owner.headers).json()["job"]
    assert canceled["status"] == "running"  # the worker ends it at its next flush
    state = db.execute("SELECT cancel_requested_at IS NOT NULL FROM generation_jobs WHERE id = %s", (job["id"],))
    assert state.fetchone() == (True,)
    busy = ask(client, world, "next")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "generation_in_progress"


def test_maintenance_ends_a_canceled_job_whose_worker_died(
    client: TestClient, stack: LocalStack, world: dict[str, Any], db: psycopg.Connection[Any]
) -> None:
    owner: Account = world["owner"]
    job = ask(client, world).json()["job"]
    db.execute(
        "UPDATE generation_jobs SET status = 'running', lease_owner = 'doomed', attempts = 1,"
        " lease_expires_at = now() + interval '10 minutes' WHERE id = %s",
        (job["id"],),
    )
    client.post(f"/api/jobs/{job['id']}/cancel", headers=owner.headers)  # asked while the worker lived
    _worker_died(db, job["id"], expired="5 minutes")
    drain(stack, "JobsQueue")
    assert stack.scheduler is not None
    result = stack.scheduler.run_now("MaintenanceFunction")
    assert result["tasks"]["stalled_jobs"]["canceled"] == 1
    assert result["tasks"]["stalled_jobs"]["requeued"] == 0  # nothing to announce: it is over
    ended = client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]
    assert ended["status"] == "canceled" and ended["finishedAt"]
    assert ask(client, world, "next").status_code == 202


# -------------------------------------------------------------------- what models send us


def test_nul_in_a_models_answer_is_dropped_and_the_answer_recorded(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any]
) -> None:
    owner: Account = world["owner"]
    client.put(f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers)
    fake.script.chunks = ["Hel\x00lo", " wo\x00rld"]
    job = ask(client, world, mode="ask").json()["job"]
    assert run_worker(stack) == 1
    done = client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]
    assert done["status"] == "succeeded" and done["output"] == "Hello world"
    chat_id = world["chat"]["id"]
    question, answer = client.get(f"/api/chats/{chat_id}/messages", headers=owner.headers).json()["items"][-2:]
    assert answer["role"] == "assistant" and answer["content"] == "Hello world"
    assert done["assistantMessageId"] == answer["id"]
    # The answer is activity: the chat moved on after the question was asked.
    chat = client.get(f"/api/chats/{chat_id}", headers=owner.headers).json()["chat"]
    assert datetime.fromisoformat(chat["updatedAt"]) > datetime.fromisoformat(question["createdAt"])


class _RawOpenAI(BaseHTTPRequestHandler):
    """An OpenAI-compatible server whose stream carries an unpaired surrogate escape ("\\ud800"),
    which JSON allows and a decoder turns into a string no UTF-8 column can store."""

    protocol_version = "HTTP/1.0"
    events: ClassVar[list[str]] = [
        '{"choices":[{"index":0,"delta":{"content":"bad \\ud800 half"}}]}',
        '{"choices":[{"index":0,"delta":{"content":" and \\udfff too"},"finish_reason":"stop"}]}',
    ]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        body = "".join(f"data: {event}\n\n" for event in self.events) + "data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        self.wfile.write(body.encode("ascii"))

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def raw_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RawOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_an_unpaired_surrogate_in_a_models_answer_is_replaced_and_the_answer_recorded(
    client: TestClient, stack: LocalStack, world: dict[str, Any], db: psycopg.Connection[Any], raw_server: str
) -> None:
    owner: Account = world["owner"]
    db.execute("UPDATE ai_providers SET api_base_url = %s WHERE id = %s", (raw_server, world["provider"]))
    client.put(f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers)
    job = ask(client, world, mode="ask").json()["job"]
    assert run_worker(stack) == 1
    done = client.get(f"/api/jobs/{job['id']}", headers=owner.headers).json()["job"]
    assert done["status"] == "succeeded", done
    assert done["output"] == "bad \ufffd half and \ufffd too"
    answer = client.get(f"/api/chats/{world['chat']['id']}/messages", headers=owner.headers).json()["items"][-1]
    assert answer["content"] == done["output"]


def test_approving_dependencies_into_a_broken_package_json_is_a_conflict_that_changes_nothing(
    client: TestClient, stack: LocalStack, fake: FakeProviders, world: dict[str, Any], registry: str
) -> None:
    owner: Account = world["owner"]
    pid = world["project"]["id"]
    client.put(f"/api/users/me/api-keys/{world['provider']}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers)
    fake.script.chunks = ['<mm-add-dependency packages="zod"></mm-add-dependency>']
    ask(client, world)
    run_worker(stack)
    answer = client.get(f"/api/chats/{world['chat']['id']}/messages", headers=owner.headers).json()["items"][-1]
    assert answer["approvalState"] == "pending"
    versions_before = client.get(f"/api/projects/{pid}/versions", headers=owner.headers).json()["items"]
    for broken in ("{not json", "[1, 2]", '{"dependencies": ["zod"]}', "[" * 100_000):
        written = client.put(f"/api/projects/{pid}/files/package.json", json={"content": broken}, headers=owner.headers)
        assert written.status_code in (200, 201), written.text
        refused = client.post(f"/api/messages/{answer['id']}/approve", headers=owner.headers)
        assert refused.status_code == 409, (broken[:20], refused.text)
        assert refused.json()["error"]["code"] == "invalid_package_json"
        package = client.get(f"/api/projects/{pid}/files/package.json", headers=owner.headers).json()
        assert package["content"] == broken
    messages = client.get(f"/api/chats/{world['chat']['id']}/messages", headers=owner.headers).json()["items"]
    assert messages[-1]["approvalState"] == "pending"
    versions_after = client.get(f"/api/projects/{pid}/versions", headers=owner.headers).json()["items"]
    # Writing package.json made no versions either; the refused approvals made none.
    assert [v["id"] for v in versions_after] == [v["id"] for v in versions_before]
