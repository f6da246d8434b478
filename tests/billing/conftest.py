"""Billing tests: the stack's Stripe emulator, delivering its signed webhooks over real HTTP to the stack's own
webhook route (a listener of the test stack on a free port), and an owner with a Free organization."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from devstack.stack import LocalStack
from devstack.stripe import StripeServer
from tests.support.identity import Account, make_organization, make_user


@pytest.fixture(scope="session")
def stack_listener(stack: LocalStack) -> Iterator[str]:
    """The test stack served over HTTP on a free port (the gateway, the real handlers): where webhooks go."""
    import uvicorn

    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(stack.asgi_app(), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


@pytest.fixture
def stripe_server(stack: LocalStack, stack_listener: str) -> Iterator[StripeServer]:
    """The stack's Stripe emulator, its webhooks sent to the stack (in the thread that made the change)."""
    assert stack.stripe is not None
    emulator = stack.stripe.emulator
    emulator.faults.clear()
    emulator.configure_webhook(f"{stack_listener}/api/billing/webhook")
    yield stack.stripe
    emulator.faults.clear()
    emulator.deliver_pending()  # nothing of this test's left to arrive during the next one
    emulator.configure_webhook(None)


@pytest.fixture
def owner(db: psycopg.Connection[Any]) -> Account:
    return make_user(db, full_name="Olivia Owner")


@pytest.fixture
def org(db: psycopg.Connection[Any], owner: Account) -> Any:
    return make_organization(db, owner, name="Rocket", tier="free")
