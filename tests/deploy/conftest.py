"""Fixtures of the deploy tests that use the local stack: an owner and their organization; deploy executions
end with the test that started them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from devstack.stack import LocalStack
from tests.conftest import wait_for_executions
from tests.support.identity import Account, make_organization, make_user


@pytest.fixture
def owner(db: psycopg.Connection[Any]) -> Account:
    return make_user(db, full_name="Ada Lovelace")


@pytest.fixture
def org(db: psycopg.Connection[Any], owner: Account) -> Any:
    return make_organization(db, owner)


@pytest.fixture(autouse=True)
def _deploy_executions_end_with_their_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Deploy executions a test started (through the API or directly) run the real state machine in the
    background; each test waits for its own to end, so none still writes while the next test's tables are
    emptied. Builds and health checks are looked at without waiting between looks (the emulator's builds
    advance on each look)."""
    if "stack" not in request.fixturenames and "client" not in request.fixturenames:
        yield
        return
    stack: LocalStack = request.getfixturevalue("stack")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEPLOY_POLL_SECONDS", "0")
        yield
        # Before the poll delay is restored: executions still running keep looking without waits.
        wait_for_executions(stack)
