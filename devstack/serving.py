"""An ASGI app served over real HTTP on a loopback port, in a thread: what each emulator's server is.

The socket is bound and listening when the object is made, so ``url`` works at once and a first request waits in
the backlog, not in a retry loop. Accepted connections inherit TCP_NODELAY: without it a kept-alive connection's
next answer waits 40 ms for the client's delayed ACK (Nagle), every call.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any, Self

from starlette.types import ASGIApp


class LoopbackServer:
    """Serve the app ``make_app`` builds at ``url`` from :meth:`start` to :meth:`stop` (port 0: a free one)."""

    thread_name = "loopback-server"

    def __init__(self, make_app: Callable[[], ASGIApp], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._make_app = make_app
        self.host = host
        self._socket = socket.create_server((host, port), backlog=128)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port = int(self._socket.getsockname()[1])
        self.url = f"http://{host}:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def stopping(self) -> None:
        """Before the server stops: release what may hold a request (faults waiting to be released)."""

    def stopped(self) -> None:
        """After the server stopped: end the app's own threads."""

    def start(self) -> Self:
        import uvicorn

        config = uvicorn.Config(
            self._make_app(),
            log_level="warning",
            server_header=False,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
        self.stopped()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
