"""make dev: python -m devstack [serve | run-schedule FUNCTION]."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp


def http_server(app: ASGIApp, port: int) -> uvicorn.Server:
    """The local stack's HTTP server: loopback only, and no ``Server`` banner (CloudFront and API
    Gateway answer without uvicorn's)."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", server_header=False))


def serve() -> None:
    from devstack.stack import LocalStack, StackConfig

    config = StackConfig()
    print(f"[stack] starting (data in {config.data_dir})")
    stack = LocalStack(config).start()
    try:
        print(
            "\n".join(
                [
                    "",
                    "  MoreMinimore is running (Ctrl-C stops everything; data is kept):",
                    f"    App        {config.url}/",
                    f"    API        {config.url}/api/health",
                    f"    OpenAPI    {config.url}/api/openapi.json",
                    f"    Mailbox    {config.url}/dev/mail   ({config.url}/dev/mail.json)",
                    f"    AWS (moto) {stack.moto.endpoint if stack.moto else ''}",
                    "",
                ]
            ),
            flush=True,
        )
        # Ctrl-C: uvicorn shuts down, then passes the signal on (uvicorn.run swallows it too).
        with contextlib.suppress(KeyboardInterrupt):
            http_server(stack.asgi_app(), config.port).run()
    finally:
        stack.stop()
        print("[stack] stopped; data saved")


def run_schedule(function: str) -> None:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/dev/schedules/{function}"
    response = httpx.post(url, timeout=120)
    print(response.text)
    sys.exit(0 if response.status_code == 200 else 1)


def main() -> None:
    parser = argparse.ArgumentParser(prog="devstack")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the whole stack (default)")
    run = sub.add_parser("run-schedule", help="fire a scheduled function of the running stack now")
    run.add_argument("function", help="logical id in infra/template.yaml, e.g. MaintenanceFunction")
    args = parser.parse_args()
    if args.command == "run-schedule":
        run_schedule(args.function)
    else:
        serve()


if __name__ == "__main__":
    main()
