"""Admin analytics, health and the failure logs: every number equals a count made here from the rows the test
inserted; zero days are present; ranges are checked; co-admins read, members do not."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.aws import client as aws_client
from devstack.stack import LocalStack
from tests.support.identity import Account, make_organization, make_user

Db = psycopg.Connection[Any]

TODAY = datetime.now(UTC).date()
FROM = TODAY - timedelta(days=44)
TO = TODAY
RANGE = {"from": FROM.isoformat(), "to": TO.isoformat()}


def noon(day: date) -> datetime:
    """Midday UTC of a day: far from either of its edges."""
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def days_of_range() -> list[str]:
    return [(FROM + timedelta(days=i)).isoformat() for i in range((TO - FROM).days + 1)]


# ------------------------------------------------------------------------------------------- rows


def project(db: Db, org: uuid.UUID, *, status: str = "draft", stopped: bool = False, deleted: bool = False) -> Any:
    row = db.execute(
        "INSERT INTO projects (organization_id, name, slug, status, deployment_stopped, deleted_at)"
        " VALUES (%s, 'P', %s, %s, %s, CASE WHEN %s THEN now() END) RETURNING id",
        (org, f"p-{uuid.uuid4().hex[:10]}", status, stopped, deleted),
    ).fetchone()
    assert row is not None
    return row[0]


def chat(db: Db, project_id: Any) -> Any:
    row = db.execute("INSERT INTO chats (project_id, title) VALUES (%s, 'c') RETURNING id", (project_id,)).fetchone()
    assert row is not None
    return row[0]


def message(db: Db, chat_id: Any, at: datetime) -> None:
    db.execute("INSERT INTO messages (chat_id, role, content, created_at) VALUES (%s, 'user', 'hi', %s)", (chat_id, at))


def version(db: Db, project_id: Any, number: int, at: datetime) -> None:
    db.execute(
        "INSERT INTO project_versions (project_id, number, manifest_key, created_at) VALUES (%s, %s, 'm', %s)",
        (project_id, number, at),
    )


def model(db: Db, provider_slug: str, api_name: str) -> Any:
    provider = db.execute(
        "INSERT INTO ai_providers (name, slug, kind, api_base_url) VALUES (%s, %s, 'openai', 'https://x.test')"
        " ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        (provider_slug, provider_slug),
    ).fetchone()
    assert provider is not None
    row = db.execute(
        "INSERT INTO ai_models (display_name, api_name, provider_id) VALUES (%s, %s, %s) RETURNING id",
        (api_name, api_name, provider[0]),
    ).fetchone()
    assert row is not None
    return row[0]


def job(
    db: Db,
    org: uuid.UUID,
    project_id: Any,
    *,
    status: str,
    finished_at: datetime | None = None,
    model_id: Any = None,
    tokens: tuple[int, int | None] | None = None,
    error: tuple[str, str] | None = None,
    lease_expires_at: datetime | None = None,
    created_at: datetime | None = None,
) -> Any:
    row = db.execute(
        """
        INSERT INTO generation_jobs (chat_id, project_id, organization_id, status, finished_at, model_id,
            prompt_tokens, completion_tokens, error_code, error_message, lease_expires_at, created_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, COALESCE(%s, now())) RETURNING id
        """,
        (
            chat(db, project_id),
            project_id,
            org,
            status,
            finished_at,
            model_id,
            tokens[0] if tokens else None,
            tokens[1] if tokens else None,
            error[0] if error else None,
            error[1] if error else None,
            lease_expires_at,
            created_at,
        ),
    ).fetchone()
    assert row is not None
    return row[0]


def deployment(db: Db, project_id: Any, status: str, completed_at: datetime) -> Any:
    row = db.execute(
        "INSERT INTO deployment_logs (project_id, status, started_at, completed_at, error_message)"
        " VALUES (%s, %s, %s - interval '5 minutes', %s, CASE WHEN %s = 'failed' THEN 'Deployment failed.' END)"
        " RETURNING id",
        (project_id, status, completed_at, completed_at, status),
    ).fetchone()
    assert row is not None
    return row[0]


def subscribed(db: Db, owner: Account, *, tier: str, status: str, interval: str | None, stripe: bool = True) -> None:
    org = make_organization(db, owner, tier=tier)
    db.execute(
        "UPDATE organizations SET stripe_subscription_id = %s, subscription_status = %s, subscription_interval = %s"
        " WHERE id = %s",
        (f"sub_{uuid.uuid4().hex}" if stripe else None, status, interval, org),
    )


def invoice(db: Db, org: uuid.UUID, *, status: str, amount: int, currency: str, paid_at: datetime | None) -> None:
    db.execute(
        "INSERT INTO invoices (organization_id, amount_due, amount_paid, currency, status, paid_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (org, amount, amount if status == "paid" else 0, currency, status, paid_at),
    )


def get_analytics(client: TestClient, who: Account, **params: str) -> dict[str, Any]:
    response = client.get("/api/admin/analytics", params=params or RANGE, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["analytics"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------ tests


def test_totals_series_and_revenue_equal_the_rows_inserted(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    owner = make_user(db)
    unverified = [make_user(db, verified=False) for _ in range(2)]
    # Sign-ups on given days of the range (and one before it).
    signup_days = {ago(3): 2, ago(10): 1, ago(44): 1}
    for day, n in signup_days.items():
        for _ in range(n):
            user = make_user(db)
            db.execute("UPDATE users SET created_at = %s WHERE id = %s", (noon(day), user.id))
    early = make_user(db)
    db.execute("UPDATE users SET created_at = %s WHERE id = %s", (noon(ago(60)), early.id))
    accounts_today = [admin, owner, *unverified]

    org = make_organization(db, owner)
    # Active projects: a message 3 days ago; a version 20 days ago; a message 40 days ago (neither window);
    # a deleted one with a message today (not counted anywhere).
    recent = project(db, org, status="deployed")
    versioned = project(db, org, status="deployed", stopped=True)
    old = project(db, org)
    deleted = project(db, org, deleted=True)
    message_days = {ago(3): 3, ago(40): 2, ago(0): 1}
    recent_chat, old_chat, deleted_chat = chat(db, recent), chat(db, old), chat(db, deleted)
    for _ in range(message_days[ago(3)]):
        message(db, recent_chat, noon(ago(3)))
    for _ in range(message_days[ago(40)]):
        message(db, old_chat, noon(ago(40)))
    message(db, deleted_chat, datetime.now(UTC) - timedelta(minutes=5))
    message(db, old_chat, noon(ago(50)))  # before the range
    version(db, versioned, 1, noon(ago(25)))
    version(db, versioned, 2, noon(ago(20)))
    version(db, old, 1, noon(ago(40)))

    # Tokens per day and model; failed jobs per day; a failed job an hour ago; stuck jobs.
    gpt, claude = model(db, "openai", "gpt-x"), model(db, "anthropic", "claude-y")
    used = [(gpt, ago(5), (100, 50)), (gpt, ago(5), (10, 5)), (claude, ago(2), (7, 3)), (gpt, ago(1), (1, 1))]
    for model_id, day, tokens in used:
        job(db, org, recent, status="succeeded", finished_at=noon(day), model_id=model_id, tokens=tokens)
    failed_days = [ago(6), ago(6), ago(8)]
    for day in failed_days:
        job(db, org, recent, status="failed", finished_at=noon(day), error=("provider_error", "boom"))
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    job(db, org, recent, status="failed", finished_at=an_hour_ago, error=("x", "y"))
    job(db, org, recent, status="running", lease_expires_at=datetime.now(UTC) - timedelta(minutes=1))
    job(db, org, recent, status="queued", created_at=datetime.now(UTC) - timedelta(minutes=30))
    job(db, org, recent, status="running", lease_expires_at=datetime.now(UTC) + timedelta(minutes=10))
    job(db, org, recent, status="queued")

    # Deployments by the day they ended.
    ended = [("success", ago(4)), ("success", ago(4)), ("failed", ago(4)), ("failed", ago(9)), ("success", ago(70))]
    for status, day in ended:
        deployment(db, recent, status, noon(day))
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    deployment(db, recent, "failed", two_hours_ago)

    # Subscriptions (the plans' display prices), and invoices paid in the range and outside it.
    for tier, status, interval, stripe in [
        ("pro", "active", "month", True),
        ("pro", "trialing", "year", True),
        ("pro", "past_due", "month", True),
        ("pro", "canceled", "month", True),  # not current
        ("pro", "active", "month", False),  # set by hand: no subscription
        ("enterprise", "active", "year", True),  # no display price
    ]:
        subscribed(db, make_user(db), tier=tier, status=status, interval=interval, stripe=stripe)
    invoice(db, org, status="paid", amount=1000, currency="usd", paid_at=noon(ago(3)))
    invoice(db, org, status="paid", amount=2500, currency="usd", paid_at=noon(ago(30)))
    invoice(db, org, status="paid", amount=700, currency="eur", paid_at=noon(ago(1)))
    invoice(db, org, status="paid", amount=9999, currency="usd", paid_at=noon(ago(50)))
    invoice(db, org, status="open", amount=5000, currency="usd", paid_at=None)

    got = get_analytics(client, admin)
    assert (got["from"], got["to"]) == (FROM.isoformat(), TO.isoformat())

    # Totals.
    users = db.execute("SELECT count(*) FROM users").fetchone()
    assert users is not None
    expected_users = len(accounts_today) + sum(signup_days.values()) + 1 + 6  # + early + the subscribers
    assert users[0] == expected_users  # the fixture counted what this test made, nothing else
    assert got["totals"] == {
        "users": expected_users,
        "verifiedUsers": expected_users - len(unverified),
        "organizations": 1 + 6,
        "projects": 4 - 1,
        "activeProjects7d": 1,
        "activeProjects30d": 2,
        "liveDeployments": 1,
    }

    # Series: one entry per day of the range, zero days included.
    days = days_of_range()
    series = got["series"]
    signups_today = len(accounts_today) + 6
    expected_signups = {d.isoformat(): n for d, n in signup_days.items()}
    expected_signups[TODAY.isoformat()] = signups_today
    assert series["signups"] == [{"day": d, "count": expected_signups.get(d, 0)} for d in days]
    expected_messages = {d.isoformat(): n for d, n in message_days.items()}
    assert series["messages"] == [{"day": d, "count": expected_messages.get(d, 0)} for d in days]
    tokens: dict[tuple[str, str], int] = {}
    for model_id, day, (prompt, completion) in used:
        key = (day.isoformat(), "gpt-x" if model_id == gpt else "claude-y")
        tokens[key] = tokens.get(key, 0) + prompt + completion
    # Only the days a model used tokens on: a day without an entry for a model had none.
    assert series["aiTokens"] == [
        {"day": d, "provider": provider, "model": name, "tokens": tokens[(d, name)]}
        for d in days
        for provider, name in [("anthropic", "claude-y"), ("openai", "gpt-x")]
        if tokens.get((d, name))
    ]
    expected_deployments: dict[str, dict[str, int]] = {}
    for status, day in [*ended, ("failed", two_hours_ago.date())]:
        counts = expected_deployments.setdefault(day.isoformat(), {"succeeded": 0, "failed": 0})
        counts["succeeded" if status == "success" else "failed"] += 1
    assert series["deployments"] == [
        {"day": d, **expected_deployments.get(d, {"succeeded": 0, "failed": 0})} for d in days
    ]
    failed_per_day: dict[str, int] = {}
    for day in [*failed_days, an_hour_ago.date()]:
        failed_per_day[day.isoformat()] = failed_per_day.get(day.isoformat(), 0) + 1
    assert series["failedJobs"] == [{"day": d, "count": failed_per_day.get(d, 0)} for d in days]

    # Revenue: pro = active monthly + trialing yearly / 12 + past due monthly, at the plans' display prices.
    prices = {
        row[0]: (row[1], row[2])
        for row in db.execute("SELECT tier, monthly_price_cents, yearly_price_cents FROM plans")
    }
    monthly, yearly = prices["pro"]
    assert got["revenue"] == {
        "mrrByTier": {"enterprise": 0, "free": 0, "pro": 2 * monthly + round(yearly / 12)},
        "paidInvoices": {"count": 3, "amountByCurrency": {"usd": 3500, "eur": 700}},
    }

    # Health: stuck = running past its lease + queued for 30 minutes; failed in the last 24 h.
    assert {k: v for k, v in got["health"].items() if k != "queues"} == {
        "stuckJobs": 2,
        "failedJobs24h": 1,
        "failedDeployments24h": 1,
    }


def test_a_tier_nobody_subscribes_to_brings_no_revenue(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    make_organization(db, admin, "Free org", tier="free")
    priced = db.execute("SELECT count(*) FROM plans WHERE monthly_price_cents > 0").fetchone()
    assert priced is not None and priced[0] > 0  # the seeded Pro plan has a price: the case this is about
    revenue = get_analytics(client, admin)["revenue"]
    assert revenue["mrrByTier"] == {"enterprise": 0, "free": 0, "pro": 0}


def test_the_range_defaults_to_the_last_30_days_and_is_bounded(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    got = get_analytics(client, admin, to=TODAY.isoformat())
    assert [entry["day"] for entry in got["series"]["messages"]] == [
        (TODAY - timedelta(days=29 - i)).isoformat() for i in range(30)
    ]
    widest = {"from": (TODAY - timedelta(days=365)).isoformat(), "to": TODAY.isoformat()}
    assert len(get_analytics(client, admin, **widest)["series"]["signups"]) == 366
    for params in [
        {"from": (TODAY - timedelta(days=366)).isoformat(), "to": TODAY.isoformat()},  # 367 days
        {"from": TODAY.isoformat(), "to": (TODAY - timedelta(days=1)).isoformat()},  # backwards
        {"from": "2026-13-01"},
        {"to": "yesterday"},
    ]:
        response = client.get("/api/admin/analytics", params=params, headers=admin.headers)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["code"] in ("invalid_range", "validation_failed")


@pytest.mark.parametrize("path", ["/api/admin/analytics", "/api/admin/failed-jobs", "/api/admin/failed-deployments"])
def test_admins_and_co_admins_read_members_do_not(client: TestClient, db: Db, path: str) -> None:
    for role in ("admin", "co_admin"):
        assert client.get(path, headers=make_user(db, role=role).headers).status_code == 200
    assert client.get(path, headers=make_user(db).headers).status_code == 403
    assert client.get(path).status_code == 401


def test_failed_jobs_list_the_failures_latest_first_with_their_error(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="co_admin")
    org = make_organization(db, make_user(db), name="Failing Inc")
    where = project(db, org)
    gpt = model(db, "openai", "gpt-x")
    failed = [
        job(db, org, where, status="failed", finished_at=noon(ago(n)), model_id=gpt, error=(f"code_{n}", f"why {n}"))
        for n in (3, 1, 2)
    ]
    job(db, org, where, status="succeeded", finished_at=noon(ago(1)), model_id=gpt, tokens=(1, 1))
    job(db, org, where, status="canceled", finished_at=noon(ago(1)))

    first = client.get("/api/admin/failed-jobs", params={"limit": 2}, headers=admin.headers).json()
    assert [item["id"] for item in first["items"]] == [str(failed[1]), str(failed[2])]
    item = first["items"][0]
    assert (item["errorCode"], item["errorMessage"], item["organizationName"], item["provider"], item["model"]) == (
        "code_1",
        "why 1",
        "Failing Inc",
        "openai",
        "gpt-x",
    )
    rest = client.get(
        "/api/admin/failed-jobs", params={"limit": 2, "cursor": first["nextCursor"]}, headers=admin.headers
    ).json()
    assert [item["id"] for item in rest["items"]] == [str(failed[0])]
    assert rest["nextCursor"] is None


def test_failed_deployments_show_the_step_that_failed_and_the_last_log_lines(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    org = make_organization(db, make_user(db))
    where = project(db, org)
    deployment(db, where, "success", noon(ago(1)))
    older = deployment(db, where, "failed", noon(ago(5)))
    failed = deployment(db, where, "failed", noon(ago(2)))
    db.execute(
        "INSERT INTO deployment_steps (deployment_id, step, status, started_at, attempts, detail) VALUES"
        " (%s, 'Prepare', 'succeeded', now() - interval '3 minutes', 1, 'node'),"
        " (%s, 'PushToGitea', 'failed', now() - interval '2 minutes', 3, 'This step failed.'),"
        " (%s, 'MarkFailed', 'failed', now() - interval '1 minute', 1, NULL)",
        (failed, failed, failed),
    )
    for n in range(7):
        db.execute(
            "INSERT INTO deployment_log_lines (deployment_id, step, line) VALUES (%s, 'PushToGitea', %s)",
            (failed, f"line {n}"),
        )

    page = client.get("/api/admin/failed-deployments", headers=admin.headers).json()
    assert [item["id"] for item in page["items"]] == [str(failed), str(older)]
    item = page["items"][0]
    assert (item["failedStep"], item["failedStepDetail"], item["failedStepAttempts"]) == (
        "PushToGitea",
        "This step failed.",
        3,
    )
    assert [line["line"] for line in item["logLines"]] == [f"line {n}" for n in range(2, 7)]
    assert page["items"][1]["failedStep"] is None and page["items"][1]["logLines"] == []


def drain(sqs: Any, url: str) -> None:
    """Delete every message of the queue (PurgeQueue may run once a minute only)."""
    while received := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        for message in received:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def jobs_queues(stack: LocalStack) -> Iterator[tuple[Any, str, str]]:
    """The stack's jobs queue and its dead-letter queue, emptied before and after (other tests read them)."""
    assert stack.moto is not None
    sqs = aws_client("sqs", stack.moto.endpoint)
    queue, dead = stack.outputs["JobsQueue"], stack.outputs["JobsDeadLetterQueue"]
    for url in (queue, dead):
        drain(sqs, url)
    yield sqs, queue, dead
    for url in (queue, dead):
        drain(sqs, url)


def test_a_queue_with_messages_shows_its_depth(client: TestClient, db: Db, jobs_queues: tuple[Any, str, str]) -> None:
    sqs, queue, dead = jobs_queues
    for n in range(3):
        sqs.send_message(QueueUrl=queue, MessageBody=f'{{"jobId": "{uuid.uuid4()}", "n": {n}}}')
    sqs.send_message(QueueUrl=dead, MessageBody="dead letter")
    queues = {q["name"]: q for q in get_analytics(client, make_user(db, role="admin"))["health"]["queues"]}
    assert queues["generation-jobs"] == {"name": "generation-jobs", "depth": 3, "dlqDepth": 1}
    assert queues["gitea-mirror"]["depth"] is not None
    assert queues["preview-builds"]["depth"] is not None


def test_a_queue_that_cannot_be_read_is_reported_without_depth(
    client: TestClient, db: Db, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mm_common.config import get_settings

    missing = stack.outputs["GiteaMirrorQueue"].rsplit("/", 1)[0] + "/no-such-queue"
    monkeypatch.setenv("GITEA_MIRROR_QUEUE_URL", missing)
    get_settings.cache_clear()
    try:
        got = get_analytics(client, make_user(db, role="admin"))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    queues = {q["name"]: q for q in got["health"]["queues"]}
    assert queues["gitea-mirror"] == {"name": "gitea-mirror", "depth": None, "dlqDepth": None}
    assert queues["generation-jobs"]["depth"] is not None


def test_ended_days_are_counted_once_and_kept_the_day_in_progress_live(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    talk = chat(db, project(db, make_organization(db, admin)))
    message(db, talk, noon(ago(3)))
    message(db, talk, datetime.now(UTC))
    params = {"from": ago(3).isoformat(), "to": TODAY.isoformat()}

    def messages() -> dict[str, int]:
        return {e["day"]: e["count"] for e in get_analytics(client, admin, **params)["series"]["messages"]}

    assert messages() == {ago(3).isoformat(): 1, ago(2).isoformat(): 0, ago(1).isoformat(): 0, TODAY.isoformat(): 1}
    kept = db.execute("SELECT day, count FROM analytics_daily_counts WHERE metric = 'messages' ORDER BY day").fetchall()
    assert kept[:2] == [(ago(3), 1), (ago(2), 0)]  # (yesterday too, unless it ended less than an hour ago)
    message(db, talk, datetime.now(UTC))
    assert messages()[TODAY.isoformat()] == 2


def test_kept_token_sums_equal_the_raw_sums_and_asking_twice_gives_the_same_answer(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    org = make_organization(db, admin)
    where = project(db, org)
    gpt, claude, gone = model(db, "openai", "gpt-k"), model(db, "anthropic", "claude-k"), model(db, "openai", "old")
    for model_id, day, tokens in [
        (gpt, ago(9), (100, 50)),
        (gpt, ago(9), (7, None)),
        (claude, ago(9), (3, 4)),
        (gpt, ago(4), (1, 2)),
        (gone, ago(4), (20, 20)),
        (None, ago(4), (5, 5)),  # its model was deleted before the day was counted
        (claude, ago(0), (11, 11)),
    ]:
        job(db, org, where, status="succeeded", finished_at=noon(day), model_id=model_id, tokens=tokens)
    job(db, org, where, status="failed", finished_at=noon(ago(4)), model_id=gpt, error=("x", "y"))
    deployment(db, where, "success", noon(ago(9)))
    deployment(db, where, "failed", noon(ago(4)))
    params = {"from": ago(10).isoformat(), "to": TODAY.isoformat()}

    first = get_analytics(client, admin, **params)
    raw = db.execute(
        "SELECT (finished_at AT TIME ZONE 'UTC')::date, model_id,"
        " sum(COALESCE(prompt_tokens, 0) + COALESCE(completion_tokens, 0))"
        " FROM generation_jobs WHERE status = 'succeeded' AND (finished_at AT TIME ZONE 'UTC')::date < %s"
        " GROUP BY 1, 2",
        (ago(1),),
    ).fetchall()
    kept = db.execute("SELECT day, model_id, tokens FROM analytics_daily_tokens").fetchall()
    assert sorted(kept, key=str) == sorted(raw, key=str)
    totals = db.execute(
        "SELECT day, count FROM analytics_daily_counts WHERE metric = 'tokens' AND count > 0"
    ).fetchall()
    assert sorted(totals) == [(ago(9), 164), (ago(4), 53)]

    # Asking again reads what was kept: the same answer, nothing counted twice.
    assert get_analytics(client, admin, **params) == first
    assert db.execute("SELECT count(*) FROM analytics_daily_tokens").fetchone() == (len(kept),)

    # A model deleted later is reported as a model since deleted, as when its days are counted from the jobs.
    def tokens_of(day: date) -> dict[tuple[str | None, str | None], int]:
        entries = get_analytics(client, admin, **params)["series"]["aiTokens"]
        return {(e["provider"], e["model"]): e["tokens"] for e in entries if e["day"] == day.isoformat()}

    assert tokens_of(ago(4)) == {("openai", "gpt-k"): 3, ("openai", "old"): 40, (None, None): 10}
    db.execute("DELETE FROM ai_models WHERE id = %s", (gone,))
    assert tokens_of(ago(4)) == {("openai", "gpt-k"): 3, (None, None): 50}
    assert tokens_of(TODAY)[("anthropic", "claude-k")] == 22  # the day in progress: counted live

    # Ended days stay as counted when their rows go later (the project deleted with its jobs and deployments).
    before = get_analytics(client, admin, **params)["series"]
    db.execute("DELETE FROM projects WHERE id = %s", (where,))
    after = get_analytics(client, admin, **params)["series"]
    closed = [d.isoformat() for d in (ago(9), ago(4))]
    for name in ("aiTokens", "deployments", "failedJobs"):
        assert [e for e in after[name] if e["day"] in closed] == [e for e in before[name] if e["day"] in closed]
    assert {e["day"]: e["succeeded"] + e["failed"] for e in after["deployments"]}[ago(9).isoformat()] == 1


def test_a_day_kept_by_a_concurrent_request_while_this_one_counts_it_is_not_an_error(
    client: TestClient, db: Db, database_url: str
) -> None:
    admin = make_user(db, role="admin")
    org = make_organization(db, admin)
    deployment(db, project(db, org), "failed", noon(ago(2)))
    params = {"from": ago(2).isoformat(), "to": ago(2).isoformat()}
    # Another request counted the day and has not committed yet: this one waits for it, then keeps nothing.
    with psycopg.connect(database_url) as other:
        other.execute(
            "INSERT INTO analytics_daily_counts (metric, day, count) VALUES"
            " ('deployments_failed', %s, 1), ('deployments_succeeded', %s, 0)",
            (ago(2), ago(2)),
        )
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(get_analytics, client, admin, **params)
            for _ in range(200):
                waiting = db.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND query LIKE '%analytics_daily_counts%'"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                threading.Event().wait(0.05)
            else:
                raise AssertionError("the request never waited for the other one's rows")
            other.commit()
            got = pending.result(timeout=30)
    assert got["series"]["deployments"] == [{"day": ago(2).isoformat(), "succeeded": 0, "failed": 1}]
    kept = db.execute("SELECT metric, count FROM analytics_daily_counts WHERE metric LIKE 'deployments%' ORDER BY 1")
    assert kept.fetchall() == [("deployments_failed", 1), ("deployments_succeeded", 0)]


def test_active_projects_read_the_kept_activity_and_the_days_not_ended(client: TestClient, db: Db) -> None:
    admin = make_user(db, role="admin")
    org = make_organization(db, admin)
    talking, versioned, quiet = project(db, org), project(db, org), project(db, org)
    talk = chat(db, talking)
    message(db, talk, noon(ago(3)))
    version(db, versioned, 1, noon(ago(20)))
    message(db, chat(db, quiet), noon(ago(40)))

    def active() -> tuple[int, int]:
        totals = get_analytics(client, admin)["totals"]
        return totals["activeProjects7d"], totals["activeProjects30d"]

    assert active() == (1, 2)
    kept = db.execute("SELECT project_id, last_at FROM analytics_project_activity ORDER BY last_at").fetchall()
    assert kept == [(versioned, noon(ago(20))), (talking, noon(ago(3)))]
    # Activity on the day in progress counts at once, for projects not active lately too.
    message(db, chat(db, versioned), datetime.now(UTC))
    version(db, quiet, 1, datetime.now(UTC))
    assert active() == (3, 3)
    # Kept activity stays when its chat is deleted later; a deleted project is not counted.
    db.execute("DELETE FROM chats WHERE id = %s", (talk,))
    db.execute("UPDATE projects SET deleted_at = now() WHERE id = %s", (quiet,))
    assert active() == (2, 2)


def test_days_the_first_step_did_not_keep_are_kept_by_the_read(
    client: TestClient, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    admin = make_user(db, role="admin")
    org = make_organization(db, admin)
    message(db, chat(db, project(db, org)), noon(ago(2)))
    params = {"from": ago(3).isoformat(), "to": ago(2).isoformat()}
    get_analytics(client, admin, **{"from": TODAY.isoformat()})  # the admin function is loaded
    # As when a day ends between the two steps: the first finds nothing to keep.
    monkeypatch.setattr(sys.modules["admin_fn.queries.analytics"], "first_day_not_kept", lambda *_: None)
    got = get_analytics(client, admin, **params)["series"]
    assert got["messages"] == [{"day": ago(3).isoformat(), "count": 0}, {"day": ago(2).isoformat(), "count": 1}]
    kept = db.execute("SELECT day, count FROM analytics_daily_counts WHERE metric = 'messages' ORDER BY day")
    assert kept.fetchall() == [(ago(3), 0), (ago(2), 1)]
