"""Browser journeys: Debian's Chromium driven by Playwright against the local stack over real HTTP.

The stack (tests/conftest.py) is served by uvicorn at its own URL, the address the refresh
cookie's CSRF check expects; the built SPA (frontend/dist, made by `make test`) is what it serves at /.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from devstack.stack import BUILT_SPA, LocalStack
from devstack.template import REPO_ROOT
from tests.conftest import start_test_stack

SCREENSHOTS = REPO_ROOT / "frontend" / "test-results" / "screenshots"
AXE = REPO_ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"


def chromium_path() -> str:
    # The real binary skips the Debian wrapper script (faster start, no shell noise).
    for candidate in (
        "/usr/lib/chromium/chromium",
        shutil.which("chromium") or "",
        shutil.which("chromium-browser") or "",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("Chromium is not installed: `make test` installs it (apt-get install chromium)")


@pytest.fixture(scope="session")
def web_listener() -> Iterator[socket.socket]:
    # A free port, bound and listening before the stack starts (its APP_URL names the port) and
    # before the server thread runs: the browser's first connection waits in the backlog instead
    # of the test waiting for the server, and a `make dev` on :8000 is left alone.
    listener = socket.create_server(("127.0.0.1", 0))
    yield listener
    listener.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, web_listener: socket.socket) -> Iterator[LocalStack]:
    # A database of their own: against DATABASE_URL the API tests run at the same time.
    local = start_test_stack(tmp_path_factory, port=web_listener.getsockname()[1], database_name="mm_web_test")
    yield local
    local.stop()


@pytest.fixture(scope="session")
def web(stack: LocalStack, web_listener: socket.socket) -> Iterator[str]:
    if not (BUILT_SPA / "index.html").exists():
        raise RuntimeError("frontend/dist is missing: build the web app first (`make web`)")
    listener = web_listener
    server = uvicorn.Server(uvicorn.Config(stack.asgi_app(), log_level="warning", server_header=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    yield stack.config.url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def base_url(web: str) -> str:
    return web


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path(),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}
