"""Operators' tools and scheduled work: admin bootstrap, the clean-up schedule, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from devstack.stack import LocalStack
from devstack.template import REPO_ROOT, Template


def _user_id(db: psycopg.Connection, email: str) -> object:  # type: ignore[type-arg]
    db.execute(
        "INSERT INTO users (email, password_hash, role, email_verified) VALUES (%s, 'x', 'user', TRUE)", (email,)
    )
    row = db.execute("SELECT id FROM users WHERE email = %s", (email,)).fetchone()
    assert row is not None
    return row[0]


def test_cleanup_schedule_deletes_only_expired_rows(stack: LocalStack, db: psycopg.Connection) -> None:  # type: ignore[type-arg]
    user = _user_id(db, "ann@example.com")
    for token_hash, expires in (("old", "now() - interval '3 days'"), ("live", "now() + interval '1 day'")):
        db.execute(
            "INSERT INTO sessions (user_id, refresh_token_hash, family_id, expires_at)"
            f" VALUES (%s, %s, gen_random_uuid(), {expires})",
            (user, token_hash),
        )
    db.execute("INSERT INTO rate_limits (bucket, window_start, count) VALUES ('login:x', now() - interval '2 days', 3)")
    db.execute("INSERT INTO rate_limits (bucket, window_start, count) VALUES ('login:x', now(), 1)")

    assert stack.scheduler is not None
    result = stack.scheduler.run_now("MaintenanceFunction")

    assert result["failed"] == {}, result
    assert result["tasks"]["expired"]["sessions"] == 1
    assert result["tasks"]["expired"]["rateLimits"] == 1
    assert [r[0] for r in db.execute("SELECT refresh_token_hash FROM sessions").fetchall()] == ["live"]
    assert db.execute("SELECT count(*) FROM rate_limits").fetchone() == (1,)


def test_admin_bootstrap_cli_creates_a_verified_admin_once(database_url: str, db: psycopg.Connection) -> None:  # type: ignore[type-arg]
    env = {**os.environ, "DATABASE_URL": database_url, "MM_ADMIN_PASSWORD": "correct horse battery"}
    command = [sys.executable, "-m", "mmctl", "create-admin", "--email", " Root@Example.COM "]
    first = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    second = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout and "already exists" in second.stdout
    rows = db.execute("SELECT email, role, email_verified, password_hash FROM users").fetchall()
    assert len(rows) == 1
    email, role, verified, password_hash = rows[0]
    assert (email, role, verified) == ("root@example.com", "admin", True)
    assert password_hash.startswith("$argon2id$")


def test_migrate_cli_reports_an_up_to_date_database(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run(
        [sys.executable, "-m", "mmctl", "migrate"], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_openapi_cli_writes_the_document_and_the_route_index(tmp_path: Path) -> None:
    from devstack.openapi import build_openapi, route_index

    document, routes = tmp_path / "openapi.json", tmp_path / "docs" / "routes.md"
    command = [sys.executable, "-m", "mmctl", "openapi", "--output", str(document), "--routes", str(routes)]
    # A tool run, as on a laptop: none of the functions' environment (no bucket, queue or key).
    function_variables = {name for spec in Template.load().functions() for name in spec.environment}
    env = {name: value for name, value in os.environ.items() if name not in function_variables}
    result = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(document.read_text(encoding="utf-8")) == build_openapi()
    assert routes.read_text(encoding="utf-8") == route_index()
