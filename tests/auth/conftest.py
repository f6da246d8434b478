"""Fixtures of the identity tests: clients at other network addresses, settings from the
environment, and a clock held still inside rate-limit windows."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from devstack.stack import LocalStack
from mm_common import ratelimit
from mm_common.config import get_settings


@pytest.fixture
def client_at(stack: LocalStack) -> Iterator[Callable[[str], TestClient]]:
    """A client whose requests come from the given network address (an office, a phone...)."""
    opened: list[TestClient] = []

    def at(address: str) -> TestClient:
        client = TestClient(stack.asgi_app(), base_url="http://127.0.0.1:8000", client=(address, 50000))
        opened.append(client.__enter__())
        return client

    yield at
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set environment variables the functions read, for this test only (settings are cached)."""

    def apply(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def still_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """Hold time in the middle of every rate-limit window, so no test straddles a window's end."""
    now = 1_800_000_000.0 + 450.0  # 7.5 minutes into a 15-minute window, 30 s into a minute
    monkeypatch.setattr(ratelimit, "clock", lambda: now)
    return now
