"""``python -m mmctl cleanup``: an operator runs clean-up tasks now, against any DATABASE_URL."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.support.cli import mmctl
from tests.support.identity import make_user


def test_cleanup_runs_the_named_tasks_now_and_again_changes_nothing(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    user = make_user(db)
    db.execute(
        "INSERT INTO sessions (user_id, refresh_token_hash, family_id, expires_at)"
        " VALUES (%s, 'old', gen_random_uuid(), now() - interval '3 days')",
        (user.id,),
    )
    for age in ("400 days", "2 days"):
        db.execute("INSERT INTO audit_logs (action, created_at) VALUES ('x.y', now() - %s::interval)", (age,))

    first = mmctl(database_url, "cleanup", "run", "retention", "expired")
    assert first.returncode == 0, first.stderr
    lines = [line for line in first.stdout.splitlines() if line.startswith(("expired:", "retention:"))]
    assert lines[0].startswith("expired: sessions 1,")
    assert lines[1] == "retention: auditLogs 1, tokenUsage 0"
    assert db.execute("SELECT count(*) FROM audit_logs").fetchone() == (1,)
    assert db.execute("SELECT refresh_token_hash FROM sessions WHERE refresh_token_hash = 'old'").fetchone() is None

    again = mmctl(database_url, "cleanup", "run", "retention", "expired")
    assert again.returncode == 0, again.stderr
    assert "retention: auditLogs 0, tokenUsage 0" in again.stdout
    assert "expired: sessions 0," in again.stdout


def test_cleanup_lists_the_tasks_and_refuses_unknown_ones(database_url: str) -> None:
    listed = mmctl(database_url, "cleanup", "list")
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert {"expired", "deployments", "blob_sweep", "easypanel", "trials", "retention"} <= set(names)
    assert "blob_sweep  (not hourly" in listed.stdout

    unknown = mmctl(database_url, "cleanup", "run", "no_such_task")
    assert unknown.returncode != 0 and "unknown clean-up task" in unknown.stderr
    nothing = mmctl(database_url, "cleanup", "run")
    assert nothing.returncode != 0 and "Name the task" in nothing.stderr
