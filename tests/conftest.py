"""Shared fixtures: one local stack per test session (real Postgres, moto, the real handlers).

Postgres is the embedded server (pgserver) unless DATABASE_URL names an existing one; the
tests use their own database on it, recreated at the start of the session. Every test starts
with empty tables.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.aws import client as aws_client
from devstack.stack import LocalStack, StackConfig
from tests.support.identity import Account, make_organization, make_user

TEST_DATABASE = "mm_test"

# The browser journeys (tests/web) need the built web app and Chromium: `make test-web` runs them.
collect_ignore = [] if os.environ.get("MM_WEB_TESTS") else ["web"]


def start_test_stack(
    tmp_path_factory: pytest.TempPathFactory, port: int, database_name: str = TEST_DATABASE
) -> LocalStack:
    """A local stack of this test session's own; `port` is the address its APP_URL names (the
    API tests never bind it; the browser journeys serve the stack there)."""
    config = StackConfig(
        data_dir=tmp_path_factory.mktemp("stack"),
        port=port,
        database_name=database_name,
        recreate_database=True,
        stack_name="mm-test",
        run_workers=False,  # tests drive pollers and schedules themselves, deterministically
        persist=False,
    )
    return LocalStack(config).start()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = start_test_stack(tmp_path_factory, port=8000)
    yield local
    local.stop()


@pytest.fixture(scope="session")
def database_url(stack: LocalStack) -> str:
    return stack.database_url


# Reference data the migrations seed (the tiers' limits): emptied with the rest, then put back as migrated.
SEEDED_TABLES = ("plans",)


@pytest.fixture(scope="session")
def _table_names(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture(scope="session")
def _seeded_rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The seeded tables' rows as the migrations left them (read before any test changes them)."""
    with psycopg.connect(database_url) as conn:
        return {table: conn.execute(f'SELECT * FROM "{table}"').fetchall() for table in SEEDED_TABLES}


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that use the database start from empty tables (cheaper than a database each)."""
    uses_database = "database_url" in request.fixturenames or "stack" in request.fixturenames
    if uses_database:
        request.getfixturevalue("_seeded_rows")  # read once, before the first test can change them
    yield
    if uses_database:
        wait_for_executions(request.getfixturevalue("stack"))
        url = request.getfixturevalue("database_url")
        tables = request.getfixturevalue("_table_names")
        seeded = request.getfixturevalue("_seeded_rows")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
            for table, rows in seeded.items():
                if rows:
                    marks = ", ".join(["%s"] * len(rows[0]))
                    with conn.cursor() as cursor:
                        cursor.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
        # The emptied system settings are the defaults again at once, not when this process's cache expires.
        from mm_common import system_settings

        system_settings.clear_cache()


def wait_for_executions(stack: LocalStack, timeout_s: float = 180.0) -> None:
    """Let the state machine executions a test started (a deploy accepted through the API) end
    before their tables are emptied: they run on in moto's threads and write to those tables.
    Polls moto's own view of them, no sleeping; fails after ``timeout_s``."""
    machines = [arn for arn in stack.outputs.values() if ":stateMachine:" in arn]
    if not machines or stack.moto is None:
        return
    sfn = aws_client("stepfunctions", stack.moto.endpoint)
    deadline = time.monotonic() + timeout_s
    for machine in machines:
        while sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1)["executions"]:
            if time.monotonic() > deadline:
                raise AssertionError(f"executions of {machine} still run after {timeout_s} s")


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A direct connection for arranging and checking rows."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def owner(db: psycopg.Connection[Any]) -> Account:
    """A verified user (a suite may define its own, e.g. with a name it shows)."""
    return make_user(db)


@pytest.fixture
def org(db: psycopg.Connection[Any], owner: Account) -> Any:
    """An organization of ``owner``'s (Enterprise: no plan limits)."""
    return make_organization(db, owner)


@pytest.fixture(scope="session")
def client(stack: LocalStack) -> Iterator[TestClient]:
    """HTTP through the local gateway: HTTP API events into the real Lambda handlers."""
    with TestClient(stack.asgi_app(), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client
