"""The HTTP surface every function shares: health, OpenAPI, the error shape, correlation ids."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from fastapi import FastAPI
from pydantic import Field
from starlette.testclient import TestClient

from devstack.stack import LocalStack
from mm_common import __version__
from mm_common.api import create_app, lambda_handler
from mm_common.config import get_settings
from mm_common.errors import Conflict
from mm_common.models import ApiModel


def test_health_reports_database_and_version(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": __version__}
    uuid.UUID(response.headers["x-correlation-id"])


def test_health_answers_503_with_a_reason_when_the_database_is_down_then_heals(
    client: TestClient, stack: LocalStack, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    # Every environment's connection dies, and the database cannot be reached any more.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
    monkeypatch.setenv("DB_HOST", "127.0.0.1")
    monkeypatch.setenv("DB_PORT", "1")  # nothing listens there
    get_settings.cache_clear()
    try:
        down = client.get("/api/health")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable" and body["database"] == "unavailable"
    assert body["error"]["code"] == "database_unavailable"
    assert body["error"]["details"]["reason"] == "the database cannot be reached"
    assert "127.0.0.1" not in down.text and "Traceback" not in down.text

    # Back: the next request reconnects on its own.
    assert client.get("/api/health").json()["database"] == "ok"


def test_unknown_route_answers_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "There is nothing at this address.", "details": None}
    }
    assert response.headers["x-correlation-id"]


def test_wrong_method_answers_405_with_allow(client: TestClient) -> None:
    response = client.delete("/api/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


def test_openapi_document_describes_the_whole_api(client: TestClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/health" in document["paths"]
    assert document["components"]["schemas"]["Health"]["required"] == ["status", "database", "version"]


def test_supplied_correlation_id_is_echoed(client: TestClient) -> None:
    response = client.get("/api/health", headers={"X-Correlation-Id": "req-abc-123"})
    assert response.headers["x-correlation-id"] == "req-abc-123"


def test_spa_and_client_routes_are_served_at_root(client: TestClient) -> None:
    for path in ("/", "/projects/123"):
        response = client.get(path)
        assert response.status_code == 200
        assert "<title>MoreMinimore</title>" in response.text


# --- the app factory's error handling, on a small app of its own -----------------------------


class Widget(ApiModel):
    display_name: str = Field(min_length=1)
    size: int


def _probe_app() -> FastAPI:
    app = create_app("probe")

    @app.post("/api/widgets", status_code=201)
    def create_widget(widget: Widget) -> Widget:
        return widget

    @app.post("/api/conflict")
    def conflict() -> None:
        raise Conflict("That name is taken.", code="name_taken", details={"field": "name"})

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret internals at /srv/db password=hunter2")

    return app


@pytest.fixture(scope="module")
def probe() -> TestClient:
    return TestClient(_probe_app(), raise_server_exceptions=False)


def test_camel_case_on_the_wire(probe: TestClient) -> None:
    response = probe.post("/api/widgets", json={"displayName": "Knob", "size": 3})
    assert response.status_code == 201
    assert response.json() == {"displayName": "Knob", "size": 3}


def test_invalid_body_answers_422_naming_the_field(probe: TestClient) -> None:
    response = probe.post("/api/widgets", json={"displayName": "", "size": "big"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    fields = {detail["field"] for detail in error["details"]}
    assert fields == {"displayName", "size"}
    assert "displayName" in error["message"]


def test_unknown_fields_are_rejected(probe: TestClient) -> None:
    response = probe.post("/api/widgets", json={"displayName": "Knob", "size": 3, "admin": True})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "admin"


def test_api_errors_keep_their_code_status_and_details(probe: TestClient) -> None:
    response = probe.post("/api/conflict")
    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "name_taken", "message": "That name is taken.", "details": {"field": "name"}}
    }


def test_unhandled_errors_answer_500_without_internals(probe: TestClient) -> None:
    response = probe.get("/api/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert response.headers["x-correlation-id"]


def test_lambda_handler_serves_http_api_events() -> None:
    handler = lambda_handler(_probe_app())
    event = {
        "version": "2.0",
        "routeKey": "POST /api/widgets",
        "rawPath": "/api/widgets",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "example.com"},
        "requestContext": {
            "http": {"method": "POST", "path": "/api/widgets", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4"},
            "requestId": "abc-request",
            "routeKey": "POST /api/widgets",
            "stage": "$default",
        },
        "body": '{"displayName": "Knob", "size": 1}',
        "isBase64Encoded": False,
    }

    class Context:
        function_name = "probe"
        memory_limit_in_mb = 128
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe"
        aws_request_id = "abc-request"

    result = handler(event, Context())
    assert result["statusCode"] == 201
    assert result["headers"]["x-correlation-id"] == "abc-request"
