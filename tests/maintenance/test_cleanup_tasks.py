"""The scheduled clean-up's tasks (functions/maintenance): each with rows it must change and rows it must leave,
run twice (the second run changes nothing), through the handler's task input or the hourly schedule."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.aws import client as aws_client
from devstack.lambdas import FunctionError
from devstack.stack import LocalStack
from mm_common.ai.jobs import ABANDONED_CODE, ABANDONED_MESSAGE
from mm_common.deployments import ABANDONED_LINE, FAILED_MESSAGE
from tests.projects.support import create_project
from tests.support.identity import Account, make_organization, make_user

HOURLY = {
    "expired",
    "abandoned_jobs",
    "stalled_jobs",
    "deployments",
    "preview_builds",
    "imports",
    "mirrors",
    "unrecorded_blobs",
    "trials",
    "retention",
    "easypanel",
}


def run(stack: LocalStack, *tasks: str) -> dict[str, dict[str, int]]:
    """The maintenance function invoked with ``{"tasks": [...]}``, as a schedule's constant input does; no task
    may fail."""
    assert stack.runtime is not None
    result = stack.runtime.invoke("MaintenanceFunction", {"tasks": list(tasks)})
    assert result["failed"] == {}, result
    assert set(result["tasks"]) == set(tasks)
    return result["tasks"]  # type: ignore[no-any-return]


@pytest.fixture
def owner(db: psycopg.Connection[Any]) -> Account:
    return make_user(db, full_name="Olga Owner")


@pytest.fixture
def org(db: psycopg.Connection[Any], owner: Account) -> Any:
    return make_organization(db, owner)


def insert_project(db: psycopg.Connection[Any], org: Any, **recorded: str) -> Any:
    slug = f"p-{uuid.uuid4().hex[:8]}"
    columns = ["organization_id", "name", "slug", *recorded]
    row = db.execute(
        f"INSERT INTO projects ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id",
        (org, slug, slug, *recorded.values()),
    ).fetchone()
    assert row is not None
    return row[0]


# ------------------------------------------------------------------------------------------ the handler
def test_the_schedule_runs_the_hourly_tasks_and_an_input_names_others(stack: LocalStack) -> None:
    assert stack.scheduler is not None and stack.runtime is not None
    scheduled = stack.scheduler.run_now("MaintenanceFunction")
    assert scheduled["failed"] == {}, scheduled
    assert set(scheduled["tasks"]) == HOURLY  # not the full blob sweep: its own, slower schedule
    assert set(run(stack, "blob_sweep")) == {"blob_sweep"}
    with pytest.raises(FunctionError, match="unknown clean-up task"):
        stack.runtime.invoke("MaintenanceFunction", {"tasks": ["expired", "no_such_task"]})


# --------------------------------------------------------------------------------------- generation jobs
def test_jobs_nothing_took_up_for_hours_end_failed_and_the_chat_shows_why(
    stack: LocalStack, client: TestClient, db: psycopg.Connection[Any], owner: Account, org: Any
) -> None:
    project = insert_project(db, org)

    def job(status: str, **times: str) -> Any:
        chat = db.execute("INSERT INTO chats (project_id) VALUES (%s) RETURNING id", (project,)).fetchone()
        assert chat is not None
        row = db.execute(
            """
            INSERT INTO generation_jobs (chat_id, project_id, organization_id, status, lease_owner, lease_expires_at,
                                         created_at, cancel_requested_at, created_by)
            VALUES (%s, %s, %s, %s, %s, now() - %s::interval, now() - %s::interval,
                    CASE WHEN %s THEN now() - interval '4 hours' END, %s)
            RETURNING id
            """,
            (
                chat[0],
                project,
                org,
                status,
                "dead-worker" if status == "running" else None,
                times.get("lease_ended", "-1 hour"),  # negative: the lease still runs
                times.get("created", "1 minute"),
                "canceled" in times,
                owner.id,
            ),
        ).fetchone()
        assert row is not None
        return row[0]

    lost_worker = job("running", lease_ended="3 hours", created="4 hours")
    never_taken = job("queued", created="3 hours")
    recently_lost = job("running", lease_ended="10 minutes", created="30 minutes")  # re-announced first
    being_canceled = job("running", lease_ended="3 hours", created="4 hours", canceled="yes")
    long_but_alive = job("running", lease_ended="-10 minutes", created="5 hours")
    finished = job("succeeded", created="5 hours")

    assert run(stack, "abandoned_jobs") == {"abandoned_jobs": {"failed": 2}}
    assert run(stack, "abandoned_jobs") == {"abandoned_jobs": {"failed": 0}}

    statuses = dict(db.execute("SELECT id, status FROM generation_jobs").fetchall())
    assert statuses == {
        lost_worker: "failed",
        never_taken: "failed",
        recently_lost: "running",
        being_canceled: "running",  # the stalled-jobs task ends it canceled, not failed
        long_but_alive: "running",
        finished: "succeeded",
    }
    shown = client.get(f"/api/jobs/{lost_worker}", headers=owner.headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["job"]["status"] == "failed"
    assert shown.json()["job"]["error"] == {"code": ABANDONED_CODE, "message": ABANDONED_MESSAGE}
    ended = db.execute("SELECT lease_owner, finished_at IS NOT NULL FROM generation_jobs WHERE id = %s", (lost_worker,))
    assert ended.fetchone() == (None, True)


# ------------------------------------------------------------------------------------------- deployments
@pytest.fixture
def machines(stack: LocalStack) -> Iterator[dict[str, str]]:
    """State machines of this test in moto's Step Functions: one that waits an hour (its executions stay
    RUNNING), one that succeeds and one that fails at once. Executions still running are stopped after."""
    assert stack.moto is not None
    sfn = aws_client("stepfunctions", stack.moto.endpoint)
    tag = uuid.uuid4().hex[:8]
    definitions = {
        "hold": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}},
        "done": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "broken": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "test"}}},
    }
    arns = {
        name: sfn.create_state_machine(
            name=f"cleanup-{name}-{tag}",
            definition=json.dumps(definition),
            roleArn="arn:aws:iam::123456789012:role/cleanup-test",
        )["stateMachineArn"]
        for name, definition in definitions.items()
    }
    yield arns
    for arn in arns.values():
        for execution in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            sfn.stop_execution(executionArn=execution["executionArn"])


def _execution(stack: LocalStack, machine: str, wanted: str) -> str:
    """An execution of ``machine``, once Step Functions reports ``wanted`` for it (looked at without waits)."""
    assert stack.moto is not None
    sfn = aws_client("stepfunctions", stack.moto.endpoint)
    arn: str = sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex)["executionArn"]
    for _ in range(10_000):
        status = sfn.describe_execution(executionArn=arn)["status"]
        if status == wanted:
            return arn
        assert status == "RUNNING", status
    raise AssertionError(f"{arn} is still {status}")


def test_stuck_deployments_are_reconciled_with_their_executions(
    stack: LocalStack, db: psycopg.Connection[Any], org: Any, machines: dict[str, str]
) -> None:
    def deployment(status: str, minutes: int, arn: str | None) -> Any:
        project = insert_project(db, org)
        db.execute("UPDATE projects SET status = 'building' WHERE id = %s", (project,))
        row = db.execute(
            """
            INSERT INTO deployment_logs (project_id, status, started_at, execution_arn, completed_at)
            VALUES (%s, %s, now() - make_interval(mins => %s), %s,
                    CASE WHEN %s IN ('success', 'failed') THEN now() END)
            RETURNING id
            """,
            (project, status, minutes, arn, status),
        ).fetchone()
        assert row is not None
        return row[0]

    missing_arn = machines["hold"].replace(":stateMachine:", ":execution:") + ":never-started"
    still_running = deployment("running", 40, _execution(stack, machines["hold"], "RUNNING"))
    execution_succeeded = deployment("running", 40, _execution(stack, machines["done"], "SUCCEEDED"))
    execution_failed = deployment("pending", 40, _execution(stack, machines["broken"], "FAILED"))
    execution_missing = deployment("running", 40, missing_arn)
    never_started = deployment("pending", 40, None)
    running_too_long = deployment("running", 180, _execution(stack, machines["hold"], "RUNNING"))
    recent = deployment("running", 10, None)
    finished = deployment("success", 300, None)

    assert run(stack, "deployments") == {"deployments": {"failed": 5}}
    assert run(stack, "deployments") == {"deployments": {"failed": 0}}

    rows = db.execute(
        "SELECT d.id, d.status, d.error_message, p.status FROM deployment_logs d JOIN projects p ON p.id = d.project_id"
    ).fetchall()
    state = {row[0]: row[1:] for row in rows}
    ended = (execution_succeeded, execution_failed, execution_missing, never_started, running_too_long)
    for deployment_id in ended:
        assert state[deployment_id] == ("failed", FAILED_MESSAGE, "error"), deployment_id
    for deployment_id, status in ((still_running, "running"), (recent, "running"), (finished, "success")):
        assert state[deployment_id][0] == status, deployment_id
    lines = db.execute("SELECT deployment_id, line FROM deployment_log_lines ORDER BY deployment_id, seq").fetchall()
    assert sorted(lines) == sorted((deployment_id, ABANDONED_LINE) for deployment_id in ended)


# ----------------------------------------------------------------------------------------------- blobs
def test_the_full_blob_sweep_collects_what_nothing_refers_to_after_the_grace_period(
    stack: LocalStack, client: TestClient, db: psycopg.Connection[Any], owner: Account, org: Any
) -> None:
    create_project(client, owner, org, template="blank")  # a version: a manifest and its blobs
    assert stack.moto is not None
    s3 = aws_client("s3", stack.moto.endpoint)
    bucket = stack.outputs["SnapshotsBucket"]
    gone_org = uuid.uuid4()  # an organization deleted since: its blob rows outlive it

    def blob(organization: Any, sha: str, age: str) -> str:
        key = f"orgs/{organization}/blobs/{sha}"
        s3.put_object(Bucket=bucket, Key=key, Body=b"bytes")
        db.execute(
            "INSERT INTO snapshot_blobs (organization_id, sha256, size, created_at)"
            " VALUES (%s, %s, 5, now() - %s::interval)",
            (organization, sha, age),
        )
        return key

    referenced = {
        f"orgs/{org}/blobs/{row[0]}"
        for row in db.execute("SELECT sha256 FROM snapshot_blobs WHERE organization_id = %s", (org,)).fetchall()
    }
    assert referenced
    db.execute("UPDATE snapshot_blobs SET created_at = now() - interval '3 days'")  # out of the grace period
    orphan = blob(org, "a" * 64, "3 days")
    uploading = blob(org, "b" * 64, "1 minute")  # a version being written now may be about to refer to it
    of_gone_org = blob(gone_org, "c" * 64, "3 days")

    assert run(stack, "blob_sweep") == {"blob_sweep": {"collected": 2, "failedOrganizations": 0}}
    assert run(stack, "blob_sweep") == {"blob_sweep": {"collected": 0, "failedOrganizations": 0}}

    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="orgs/").get("Contents", [])}
    assert orphan not in keys and of_gone_org not in keys
    assert uploading in keys and referenced <= keys
    recorded = {
        f"orgs/{row[0]}/blobs/{row[1]}" for row in db.execute("SELECT organization_id, sha256 FROM snapshot_blobs")
    }
    assert recorded == referenced | {uploading}


# ---------------------------------------------------------------------------------------------- trials
def test_trials_that_ended_without_a_subscription_become_free_with_an_email(
    stack: LocalStack, client: TestClient, db: psycopg.Connection[Any]
) -> None:
    def organization(status: str, *, trial_ends: str | None, subscription: str | None = None) -> tuple[Any, str]:
        owner = make_user(db)
        organization_id = make_organization(db, owner, f"Trial {uuid.uuid4().hex[:6]}", tier="pro")
        db.execute(
            """
            UPDATE organizations SET subscription_status = %s, trial_ends_at = now() + %s::interval,
                stripe_subscription_id = %s,
                past_due_since = CASE WHEN %s = 'past_due' THEN now() - interval '60 days' END
            WHERE id = %s
            """,
            (status, trial_ends, subscription, status, organization_id),
        )
        return organization_id, owner.email

    ended, ended_owner = organization("trialing", trial_ends="-1 day")
    subscribed, subscribed_owner = organization("trialing", trial_ends="-1 day", subscription="sub_123")
    running, running_owner = organization("trialing", trial_ends="3 days")
    past_due, _ = organization("past_due", trial_ends=None)

    assert run(stack, "trials") == {"trials": {"endedTrials": 1, "emailsSent": 1}}
    assert run(stack, "trials") == {"trials": {"endedTrials": 0, "emailsSent": 0}}

    rows = db.execute("SELECT id, subscription_tier, subscription_status, trial_ends_at IS NULL FROM organizations")
    state = {row[0]: row[1:] for row in rows.fetchall()}
    assert state[ended] == ("free", "active", True)
    assert state[subscribed] == ("pro", "trialing", False)  # Stripe ends its own trials (the webhook)
    assert state[running] == ("pro", "trialing", False)
    assert state[past_due] == ("pro", "past_due", True)  # acts as Free already (plans.effective_tier)
    mail = client.get("/dev/mail.json").json()
    ended_mail = [m for m in mail if "has ended" in m["subject"]]
    assert [m["to"] for m in ended_mail] == [ended_owner]
    assert not [m for m in ended_mail if m["to"] in (subscribed_owner, running_owner)]
    audited = db.execute("SELECT organization_id FROM audit_logs WHERE action = 'organization.trial_ended'")
    assert audited.fetchall() == [(ended,)]


# ------------------------------------------------------------------------------------------- retention
def test_audit_rows_and_token_counters_older_than_their_retention_are_deleted_in_batches(
    stack: LocalStack, db: psycopg.Connection[Any], org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import maintenance_fn.service

    monkeypatch.setattr(maintenance_fn.service, "BATCH", 2)  # five old rows: three batches
    for age in ("400 days", "401 days", "500 days", "700 days", "800 days", "10 days", "1 day"):
        db.execute(
            "INSERT INTO audit_logs (action, organization_id, created_at) VALUES ('x.y', %s, now() - %s::interval)",
            (org, age),
        )
    for months_ago in (0, 1, 14, 30):
        db.execute(
            "INSERT INTO token_usage (organization_id, period_month, prompt_tokens)"
            " VALUES (%s, date_trunc('month', now() - make_interval(months => %s))::date, 1)",
            (org, months_ago),
        )

    assert run(stack, "retention") == {"retention": {"auditLogs": 5, "tokenUsage": 2}}
    assert run(stack, "retention") == {"retention": {"auditLogs": 0, "tokenUsage": 0}}
    assert db.execute("SELECT count(*) FROM audit_logs").fetchone() == (2,)
    assert db.execute("SELECT count(*) FROM token_usage").fetchone() == (2,)

    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "5")
    monkeypatch.setenv("TOKEN_USAGE_RETENTION_DAYS", "1")
    assert run(stack, "retention") == {"retention": {"auditLogs": 1, "tokenUsage": 1}}
    assert run(stack, "retention") == {"retention": {"auditLogs": 0, "tokenUsage": 0}}
    # The current month's counter is the quota: never deleted, whatever the retention says.
    months = db.execute("SELECT period_month = date_trunc('month', now())::date FROM token_usage").fetchall()
    assert months == [(True,)]


# ------------------------------------------------------------------------------------------- Easypanel
def test_easypanel_services_no_project_records_are_destroyed(
    stack: LocalStack, db: psycopg.Connection[Any], org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mm_common.config import get_settings
    from mm_common.deploy.easypanel import EasypanelClient

    server = stack.easypanel
    assert server is not None
    slug = db.execute("SELECT slug FROM organizations WHERE id = %s", (org,)).fetchone()[0]  # type: ignore[index]
    unrelated = f"elsewhere-{uuid.uuid4().hex[:8]}"
    with EasypanelClient(server.url, token=server.emulator.api_token) as panel:
        panel.ensure_project(slug)
        for name in (f"{slug}-gone", f"{slug}-live", "hand-made"):
            panel.create_app(slug, name)
        panel.create_database("postgres", slug, f"{slug}-gone-db")
        panel.ensure_project(unrelated)
        panel.create_app(unrelated, f"{slug}-elsewhere")
    insert_project(db, org, easypanel_project_id=slug, easypanel_app_id=f"{slug}-live")

    def services() -> set[tuple[str, str]]:
        with EasypanelClient(server.url, token=server.emulator.api_token) as panel:
            listing = panel.list_projects_and_services()
        return {(s.project_name, s.name) for s in listing.services if s.project_name in (slug, unrelated)}

    before = services()
    with monkeypatch.context() as unset:  # no panel configured: nothing to do
        unset.setenv("EASYPANEL_URL", "")
        get_settings.cache_clear()
        assert run(stack, "easypanel") == {"easypanel": {"destroyed": 0}}
    get_settings.cache_clear()
    assert services() == before

    assert run(stack, "easypanel") == {"easypanel": {"destroyed": 2}}
    assert run(stack, "easypanel") == {"easypanel": {"destroyed": 0}}
    assert services() == before - {(slug, f"{slug}-gone"), (slug, f"{slug}-gone-db")}


def test_the_blob_sweep_deletes_nothing_of_an_organization_whose_manifest_it_cannot_read(
    stack: LocalStack, client: TestClient, db: psycopg.Connection[Any], owner: Account, org: Any
) -> None:
    project = create_project(client, owner, org, template="blank")
    assert stack.moto is not None
    s3 = aws_client("s3", stack.moto.endpoint)
    bucket = stack.outputs["SnapshotsBucket"]
    manifest = db.execute("SELECT manifest_key FROM project_versions WHERE project_id = %s", (project["id"],))
    s3.delete_object(Bucket=bucket, Key=manifest.fetchone()[0])  # type: ignore[index]
    db.execute("UPDATE snapshot_blobs SET created_at = now() - interval '3 days'")
    before = db.execute("SELECT count(*) FROM snapshot_blobs").fetchone()

    # Without the manifest, every blob would look unreferenced: the organization is left whole, and said so.
    assert run(stack, "blob_sweep") == {"blob_sweep": {"collected": 0, "failedOrganizations": 1}}
    assert db.execute("SELECT count(*) FROM snapshot_blobs").fetchone() == before


def test_preview_builds_left_unfinished_end_failed_or_closed(
    stack: LocalStack, client: TestClient, db: psycopg.Connection[Any], owner: Account, org: Any
) -> None:
    project = create_project(client, owner, org)
    version = project["currentVersionId"]

    def build(status: str, started_minutes_ago: int | None, label: str | None = None) -> Any:
        row = db.execute(
            """
            INSERT INTO preview_builds
                (project_id, version_id, status, label, checking, created_at, started_at, ready_at)
            VALUES (%s, %s, %s, %s, %s, now() - interval '2 hours', now() - make_interval(mins => %s),
                    CASE WHEN %s = 'ready' THEN now() - make_interval(mins => %s) END)
            RETURNING id
            """,
            (
                project["id"],
                version,
                status,
                label,
                status == "ready",
                started_minutes_ago,
                status,
                started_minutes_ago,
            ),
        ).fetchone()
        assert row is not None
        return row[0]

    stopped_worker = build("building", 60)
    lost_message = build("queued", None)
    still_building = build("building", 2)
    check_never_ended = build("ready", 60, "a" * 26)
    db.execute("DELETE FROM preview_builds WHERE status = 'queued' AND id <> %s", (lost_message,))

    assert run(stack, "preview_builds") == {"preview_builds": {"failed": 2}}
    assert run(stack, "preview_builds") == {"preview_builds": {"failed": 0}}

    rows = {
        row[0]: row[1:]
        for row in db.execute("SELECT id, status, checking, finished_at IS NOT NULL, message FROM preview_builds")
    }
    assert rows[stopped_worker][:3] == ("failed", False, True)
    assert "did not finish" in rows[stopped_worker][3]
    assert rows[lost_message][0] == "failed"
    assert rows[still_building][:3] == ("building", False, False)
    # A site that went up keeps being served; only the never-ending type check is closed.
    assert rows[check_never_ended][:3] == ("ready", False, True)


def test_imports_left_unfinished_end_failed(
    stack: LocalStack, db: psycopg.Connection[Any], owner: Account, org: Any
) -> None:
    def an_import(status: str, minutes: int) -> Any:
        row = db.execute(
            "INSERT INTO imports (organization_id, created_by, status, created_at, started_at)"
            " VALUES (%s, %s, %s, now() - make_interval(mins => %s), now() - make_interval(mins => %s)) RETURNING id",
            (org, owner.id, status, minutes, minutes),
        ).fetchone()
        assert row is not None
        return row[0]

    stopped = an_import("importing", 300)
    db.execute("INSERT INTO import_apps (import_id, source_app_id, project_name) VALUES (%s, 1, 'App')", (stopped,))
    running = an_import("importing", 10)
    finished = an_import("completed", 300)

    assert run(stack, "imports") == {"imports": {"failed": 1}}
    assert run(stack, "imports") == {"imports": {"failed": 0}}
    statuses = dict(db.execute("SELECT id, status FROM imports").fetchall())
    assert statuses == {stopped: "failed", running: "importing", finished: "completed"}
    app = db.execute("SELECT status, errors FROM import_apps WHERE import_id = %s", (stopped,)).fetchone()
    assert app is not None and app[0] == "failed" and "stopped" in app[1][0]["message"]
