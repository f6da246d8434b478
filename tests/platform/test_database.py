"""The layer's Postgres access: transactions, healing, RDS Proxy-safe settings."""

from __future__ import annotations

import threading

import psycopg
import pytest

from devstack.lambdas import LambdaRuntime
from devstack.stack import LocalStack
from mm_common import db as mm_db
from mm_common.config import get_settings


def _in_environment(stack: LocalStack, func):  # type: ignore[no-untyped-def]
    """Run on one of the stack's execution environments (threads own their connections)."""
    runtime: LambdaRuntime | None = stack.runtime
    assert runtime is not None
    return runtime.run_in_environment(func)


def test_transaction_commits_and_rolls_back(stack: LocalStack, db: psycopg.Connection) -> None:  # type: ignore[type-arg]
    def work() -> None:
        with mm_db.transaction() as conn:
            conn.execute("INSERT INTO system_settings (key, value) VALUES ('kept', '1')")
        with pytest.raises(RuntimeError), mm_db.transaction() as conn:
            conn.execute("INSERT INTO system_settings (key, value) VALUES ('dropped', '1')")
            raise RuntimeError("abort")

    _in_environment(stack, work)
    keys = [row[0] for row in db.execute("SELECT key FROM system_settings ORDER BY key").fetchall()]
    assert keys == ["kept"]


def test_connection_is_reused_and_healed_after_the_backend_dies(stack: LocalStack, database_url: str) -> None:
    def backend_pid() -> int:
        row = mm_db.fetch_one("SELECT pg_backend_pid() AS pid")
        assert row is not None
        return int(row["pid"])

    first = _in_environment(stack, backend_pid)
    # Kill every backend of the test database, as a proxy idle timeout or failover would.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
    healed = _in_environment(stack, backend_pid)
    assert healed != first


def test_one_environment_keeps_one_connection(stack: LocalStack) -> None:
    pids = []

    def run() -> None:
        for _ in range(3):
            row = mm_db.fetch_one("SELECT pg_backend_pid() AS pid")
            assert row is not None
            pids.append(row["pid"])

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert len(set(pids)) == 1


def test_no_server_side_prepared_statements(stack: LocalStack) -> None:
    def run() -> int:
        for _ in range(10):
            mm_db.fetch_one("SELECT 1 AS one WHERE %s::int = 1", (1,))
        row = mm_db.fetch_one("SELECT count(*) AS n FROM pg_prepared_statements")
        assert row is not None
        return int(row["n"])

    assert _in_environment(stack, run) == 0


def test_statement_timeout_applies_per_transaction(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "100")
    get_settings.cache_clear()
    try:

        def run() -> str:
            with pytest.raises(psycopg.errors.QueryCanceled):
                mm_db.fetch_one("SELECT pg_sleep(2)")
            row = mm_db.fetch_one("SELECT current_setting('statement_timeout') AS t")
            assert row is not None
            return str(row["t"])

        assert _in_environment(stack, run) == "100ms"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_functions_reach_postgres_through_the_template_secret(stack: LocalStack) -> None:
    # The local stack wires DB_HOST + DB_SECRET_ARN like AWS; no DATABASE_URL in the functions.
    settings = get_settings()
    assert settings.database_url == ""
    assert settings.db_secret_arn.startswith("arn:aws:secretsmanager:")
