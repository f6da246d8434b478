"""Shared fixtures: one local stack per test session (real Postgres, moto, the real handlers).

Postgres is the embedded server (pgserver) unless DATABASE_URL names an existing one; the
tests use their own database on it, recreated at the start of the session. Every test starts
with empty tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.stack import LocalStack, StackConfig

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


@pytest.fixture(scope="session")
def _table_names(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        ).fetchall()
    return [row[0] for row in rows]


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that use the database start from empty tables (cheaper than a database each)."""
    yield
    if "database_url" in request.fixturenames or "stack" in request.fixturenames:
        url = request.getfixturevalue("database_url")
        tables = request.getfixturevalue("_table_names")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A direct connection for arranging and checking rows."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def client(stack: LocalStack) -> Iterator[TestClient]:
    """HTTP through the local gateway: HTTP API events into the real Lambda handlers."""
    with TestClient(stack.asgi_app(), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client
