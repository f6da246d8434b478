"""The migration runner: applies once, in order; refuses edited or unknown files; serialises."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from devstack.stack import LocalStack
from mm_common.migrate import MIGRATIONS_DIR, MigrationError, discover, migrate


@pytest.fixture
def fresh_url(stack: LocalStack) -> str:
    assert stack.postgres is not None
    return stack.postgres.ensure_database("mm_migrations_test", recreate=True)


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}


def test_first_run_applies_everything_and_second_run_nothing(fresh_url: str) -> None:
    applied = migrate(fresh_url)
    assert [m.version for m in applied] == [m.version for m in discover()]
    assert migrate(fresh_url) == []
    tables = _tables(fresh_url)
    # The spec's schema, with the code storage table and what the next capabilities need.
    for table in (
        "users",
        "organizations",
        "organization_members",
        "projects",
        "project_versions",
        "project_files",
        "chats",
        "messages",
        "prompts",
        "ai_providers",
        "ai_models",
        "user_api_keys",
        "design_systems",
        "deployment_logs",
        "invoices",
        "subscription_events",
        "audit_logs",
        "sessions",
        "email_verification_tokens",
        "password_reset_tokens",
        "invitations",
        "rate_limits",
        "generation_jobs",
        "schema_migrations",
    ):
        assert table in tables


def test_times_are_timestamptz(fresh_url: str) -> None:
    migrate(fresh_url)
    with psycopg.connect(fresh_url) as conn:
        naive = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'"
        ).fetchall()
        has_subscription = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'organizations'"
            " AND column_name = 'stripe_subscription_id'"
        ).fetchone()
    assert naive == []
    assert has_subscription is not None


def test_an_edited_applied_migration_is_refused(fresh_url: str, migrations_copy: Path) -> None:
    migrate(fresh_url, migrations_copy)
    first = sorted(migrations_copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an edit after the fact\n")
    with pytest.raises(MigrationError, match="edited after it was applied"):
        migrate(fresh_url, migrations_copy)


def test_a_new_file_is_applied_and_a_failing_one_changes_nothing(fresh_url: str, migrations_copy: Path) -> None:
    migrate(fresh_url, migrations_copy)
    (migrations_copy / "9001_add_probe.sql").write_text("CREATE TABLE probe_one (id int);")
    (migrations_copy / "9002_broken.sql").write_text("CREATE TABLE probe_two (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.Error):
        migrate(fresh_url, migrations_copy)
    tables = _tables(fresh_url)
    assert "probe_one" in tables and "probe_two" not in tables
    with psycopg.connect(fresh_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]
    assert versions[-1] == 9001


def test_migrations_unknown_to_the_code_are_refused(fresh_url: str, migrations_copy: Path) -> None:
    migrate(fresh_url, migrations_copy)
    newest = sorted(migrations_copy.glob("*.sql"))[-1]
    newest.unlink()
    with pytest.raises(MigrationError, match="does not know"):
        migrate(fresh_url, migrations_copy)


def test_badly_named_files_are_refused(migrations_copy: Path) -> None:
    (migrations_copy / "2-oops.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lower_snake"):
        discover(migrations_copy)


def test_concurrent_runners_apply_each_migration_once(fresh_url: str) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(len(migrate(fresh_url)))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [0, 0, len(discover())]
