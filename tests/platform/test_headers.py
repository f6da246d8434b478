"""Headers of every answer: API answers are never stored by a cache nor sniffed into another type,
the SPA gets its security headers (the template's CloudFront policy, applied locally too), and the
local stack shows no server banner."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import Response
from starlette.testclient import TestClient

from devstack.__main__ import http_server
from devstack.stack import LocalStack
from devstack.template import Template
from mm_common.api import create_app
from tests.support.identity import make_user

SPA_CSP_DIRECTIVES = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    # Import files go straight to S3 (the local stack's /_s3 path; S3's regional endpoint in AWS).
    "connect-src 'self' http://127.0.0.1:8000/_s3",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    # The Preview pane frames the preview sites (the local stack's domain; PreviewDomain in AWS).
    "frame-src *.preview.localhost:*",
}


def _api_answers(client: TestClient, db: Any) -> dict[str, httpx.Response]:
    user = make_user(db)
    return {
        "ok": client.get("/api/health"),
        "unknown route": client.get("/api/no-such-thing"),
        "wrong method": client.delete("/api/health"),
        "not signed in": client.get("/api/projects"),
        "signed in": client.get("/api/organizations", headers=user.headers),
        "invalid query": client.get("/api/organizations?limit=%zz", headers=user.headers),
        "invalid body": client.post(
            "/api/organizations", content=b"{", headers={**user.headers, "Content-Type": "application/json"}
        ),
        # Answered by API Gateway itself (a dangling escape), not by a function.
        "gateway's own": client.get("/api/projects/100%25"),
    }


def test_every_api_answer_is_neither_stored_nor_sniffed(client: TestClient, db: Any) -> None:
    for what, response in _api_answers(client, db).items():
        assert response.headers.get("x-content-type-options") == "nosniff", what
        assert response.headers.get("cache-control") == "no-store", what


def test_api_answers_carry_the_api_behaviours_security_headers(client: TestClient, db: Any) -> None:
    expected = {h.name.lower(): h.value for h in Template.load().response_headers("/api/*")}
    assert expected["strict-transport-security"].startswith("max-age=") and expected["x-frame-options"] == "DENY"
    for what, response in _api_answers(client, db).items():
        for name, value in expected.items():
            assert response.headers.get(name) == value, (what, name)


def test_a_route_that_sets_its_own_cache_control_keeps_it() -> None:
    app = create_app("probe-headers")

    @app.get("/api/public-thing")
    def public_thing(response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "public, max-age=60"
        return {"ok": "yes"}

    @app.get("/api/plain")
    def plain() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    probe = TestClient(app, raise_server_exceptions=False)
    own = probe.get("/api/public-thing")
    assert own.headers["cache-control"] == "public, max-age=60" and own.headers["x-content-type-options"] == "nosniff"
    for path in ("/api/plain", "/api/boom", "/api/missing"):
        response = probe.get(path)
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["x-content-type-options"] == "nosniff", path


def test_the_template_gives_the_spa_its_security_headers(stack: LocalStack) -> None:
    assert stack.resolver is not None
    headers = {h.name: h for h in Template.load().response_headers(resolve=stack.resolver.resolve)}
    assert headers["Strict-Transport-Security"].value.startswith("max-age=63072000")
    assert headers["X-Frame-Options"].value == "DENY"
    assert headers["X-Content-Type-Options"].value == "nosniff"
    assert headers["Referrer-Policy"].value == "strict-origin-when-cross-origin"
    directives = {d.strip() for d in headers["Content-Security-Policy"].value.split(";")}
    assert directives == SPA_CSP_DIRECTIVES
    assert all(h.override for h in headers.values())


def test_the_local_stack_serves_the_spa_with_the_templates_security_headers(
    client: TestClient, stack: LocalStack
) -> None:
    assert stack.resolver is not None
    expected = {h.name.lower(): h.value for h in Template.load().response_headers(resolve=stack.resolver.resolve)}
    for path in ("/", "/projects/123"):
        response = client.get(path)
        assert response.status_code == 200
        for name, value in expected.items():
            assert response.headers.get(name) == value, (path, name)


def test_api_errors_pass_through_cloudfront_unchanged() -> None:
    # CloudFront's custom error responses apply to every behaviour: a 403 or 404 from the API
    # would reach the client as a 200 with the SPA's HTML. Client-side routes use a function.
    config = Template.load().resources["Distribution"]["Properties"]["DistributionConfig"]
    assert not config.get("CustomErrorResponses")
    associations = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert [a["EventType"] for a in associations] == ["viewer-request"]
    api = next(b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*")
    assert "FunctionAssociations" not in api


@pytest.fixture
def served(stack: LocalStack) -> Iterator[str]:
    """The stack behind the real HTTP server `make dev` runs, on a socket already listening."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = http_server(stack.asgi_app(), listener.getsockname()[1])
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def test_the_local_stack_shows_no_server_banner(served: str) -> None:
    for path in ("/api/health", "/api/no-such-thing", "/"):
        response = httpx.get(served + path, timeout=30)
        assert "server" not in response.headers, path
        assert response.headers["x-content-type-options"] == "nosniff", path
