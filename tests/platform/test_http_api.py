"""The HTTP surface every function shares: health, OpenAPI, the error shape, correlation ids."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

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
from mm_common.models import RequestModel
from mm_common.observability import for_service


def test_health_reports_database_and_version(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": __version__, "maintenance": False}
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
    assert document["components"]["schemas"]["Health"]["required"] == ["status", "database", "version", "maintenance"]


def test_supplied_correlation_id_is_echoed(client: TestClient) -> None:
    response = client.get("/api/health", headers={"X-Correlation-Id": "req-abc-123"})
    assert response.headers["x-correlation-id"] == "req-abc-123"


def test_spa_and_client_routes_are_served_at_root(client: TestClient) -> None:
    for path in ("/", "/projects/123", "/organization"):
        response = client.get(path)
        assert response.status_code == 200
        assert "<title>MoreMinimore</title>" in response.text
        assert response.headers["cache-control"] == "no-cache"  # a new release shows on reload


def test_a_missing_file_is_a_404_not_the_spa(client: TestClient) -> None:
    for path in ("/assets/index-missing.js", "/logo.png", "/projects/123/app.css"):
        response = client.get(path)
        assert response.status_code == 404
        assert "<title>" not in response.text


# --- the app factory's error handling, on a small app of its own -----------------------------


class Widget(RequestModel):
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


def test_lambda_handler_takes_the_path_as_api_gateway_decoded_it() -> None:
    # HTTP API has already percent-decoded rawPath: "a%41" is the file's real name. Mangum would
    # decode it once more ("aA"); the function must not.
    app = create_app("probe-path")

    @app.get("/api/echo/{path:path}")
    def echo(path: str) -> dict[str, str]:
        return {"path": path}

    handler = lambda_handler(app)
    event = {
        "version": "2.0",
        "routeKey": "GET /api/echo/{path+}",
        "rawPath": "/api/echo/a%41 b%2F",
        "rawQueryString": "",
        "headers": {"host": "example.com"},
        "requestContext": {
            "http": {"method": "GET", "path": "/api/echo/a%41 b%2F", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4"},
            "requestId": "path-request",
            "routeKey": "GET /api/echo/{path+}",
            "stage": "$default",
        },
        "pathParameters": {"path": "a%41 b%2F"},
        "isBase64Encoded": False,
    }

    class Context:
        function_name = "probe-path"
        memory_limit_in_mb = 128
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:probe-path"
        aws_request_id = "path-request"

    result = handler(event, Context())
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"path": "a%41 b%2F"}


# --- database refusals: one handler, 409/422 in the error shape, never values in the logs ------


class _Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def logged(service: str) -> Iterator[list[str]]:
    """The service's log lines while the block runs, formatted as in Lambda (JSON, extras and
    correlation id included)."""
    logger = for_service(service).logger
    handler = _Lines(logger.registered_handler.formatter)
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


SECRET = "s3cret-Value-1234"


@pytest.fixture(scope="module")
def database_probe(database_url: str) -> TestClient:
    app = create_app("probe-database")

    def run(*statements: str) -> None:
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "CREATE TEMP TABLE thing (id int PRIMARY KEY, name varchar(40) NOT NULL UNIQUE"
                " CHECK (name <> 'forbidden'), parent int REFERENCES thing (id))"
            )
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]  # fixed test statements

    cases = {
        "unique": (f"INSERT INTO thing VALUES (1, '{SECRET}')", f"INSERT INTO thing VALUES (2, '{SECRET}')"),
        "check": ("INSERT INTO thing VALUES (1, 'forbidden')",),
        "not-null": ("INSERT INTO thing VALUES (1, NULL)",),
        "foreign-key": (f"INSERT INTO thing VALUES (1, '{SECRET}', 99)",),
        "too-long": (f"INSERT INTO thing VALUES (1, '{SECRET * 5}')",),
        "not-a-uuid": (f"SELECT '{SECRET}'::uuid",),
        "out-of-range": ("SELECT 2147483647::int + 1",),
        "unmapped": (f"SELECT '{SECRET}' FROM no_such_table",),
    }

    @app.post("/api/fail/{case}")
    def fail(case: str) -> None:
        run(*cases[case])

    @app.post("/api/nul")
    def nul() -> None:
        with psycopg.connect(database_url) as conn:
            conn.execute("SELECT %s", (f"{SECRET}\x00",))

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unique", 409, "conflict"),
        ("check", 422, "validation_failed"),
        ("not-null", 422, "validation_failed"),
        ("foreign-key", 422, "validation_failed"),
        ("too-long", 422, "validation_failed"),
        ("not-a-uuid", 422, "validation_failed"),
        ("out-of-range", 422, "validation_failed"),
        ("unmapped", 500, "internal_error"),
    ],
)
def test_database_refusals_answer_in_the_error_shape_and_log_no_values(
    database_probe: TestClient, case: str, status: int, code: str
) -> None:
    with logged("probe-database") as lines:
        response = database_probe.post(f"/api/fail/{case}", headers={"X-Correlation-Id": f"corr-{case}"})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert SECRET not in response.text and "DETAIL" not in response.text
    [line] = [json.loads(line) for line in lines]
    assert line["correlation_id"] == f"corr-{case}" and line["error_type"].startswith("psycopg.errors.")
    assert line["sqlstate"] and line["stack"]
    log_text = "\n".join(lines)
    assert SECRET not in log_text and "Failing row" not in log_text and "DETAIL" not in log_text


def test_a_unique_violation_logs_the_constraint_and_table(database_probe: TestClient) -> None:
    with logged("probe-database") as lines:
        database_probe.post("/api/fail/unique")
    [line] = [json.loads(line) for line in lines]
    assert line["error_type"] == "psycopg.errors.UniqueViolation"
    assert (line["sqlstate"], line["constraint"], line["table"], line["route"]) == (
        "23505",
        "thing_name_key",
        "thing",
        "/api/fail/{case}",
    )


def test_text_postgres_cannot_store_answers_422(database_probe: TestClient) -> None:
    response = database_probe.post("/api/nul")
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_failed"


def test_the_last_resort_500_logs_no_exception_message(probe: TestClient) -> None:
    with logged("probe") as lines:
        assert probe.get("/api/boom").status_code == 500
    [line] = [json.loads(line) for line in lines]
    assert line["error_type"] == "builtins.RuntimeError" and line["route"] == "/api/boom"
    assert any("test_http_api.py" in frame for frame in line["stack"])
    assert "hunter2" not in lines[0] and "/srv/db" not in lines[0]
