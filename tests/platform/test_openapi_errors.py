"""The OpenAPI document tells the truth about errors: every operation lists the error statuses it
can answer, each in the error shape (ErrorBody), never FastAPI's {detail} schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.dependencies.utils import get_flat_params
from starlette.testclient import TestClient

from devstack.openapi import build_openapi, http_apps
from devstack.stack import LocalStack
from mm_common.api import api_routes, create_app, errors
from mm_common.auth import declared_action
from mm_common.errors import STATUS_DESCRIPTIONS
from mm_common.permissions import PERMISSIONS, Scope

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture(scope="module")
def document(stack: LocalStack) -> dict[str, Any]:
    # The stack gives the functions their environment: they refuse to import without it.
    return build_openapi()


def _expected_statuses(route: Any) -> set[int]:
    """What the rules say, from what the route declares (not from the generated document)."""
    action = declared_action(route)
    assert action is not None, f"{route.path} declares no action"
    scope = PERMISSIONS[action].scope
    has_parameters = bool(get_flat_params(route.dependant))
    has_body = route.body_field is not None
    expected = {500}
    if scope is not Scope.PUBLIC:
        expected |= {401, 403, 429}
    if "{" in route.path_format or scope is Scope.ORGANIZATION:
        expected.add(404)
    if has_parameters or has_body:
        expected.add(422)
    if has_body:
        expected.add(400)
    return expected


def test_every_operation_documents_its_error_statuses_in_the_error_shape(document: dict[str, Any]) -> None:
    checked = 0
    for app in http_apps().values():
        for route in api_routes(app.routes):
            for method in route.methods - {"HEAD"}:
                responses = document["paths"][route.path_format][method.lower()]["responses"]
                statuses = {int(key) for key in responses if int(key) >= 400}
                missing = _expected_statuses(route) - statuses
                assert not missing, f"{method} {route.path_format} does not document {sorted(missing)}"
                for status in statuses:
                    response = responses[str(status)]
                    assert response["content"] == {"application/json": {"schema": ERROR_BODY}}, (route.path, status)
                    declared = route.responses.get(status) or route.responses.get(str(status)) or {}
                    # A route may say more precisely what a status means for it; else the standard meaning.
                    meaning = declared.get("description") or STATUS_DESCRIPTIONS[status]
                    assert response["description"] == meaning, (route.path, status)
                checked += 1
    assert checked >= 50


def test_the_error_shape_is_a_component_and_fastapis_is_gone(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert schemas["ErrorBody"]["properties"]["error"] == {"$ref": "#/components/schemas/ApiError"}
    assert schemas["ApiError"]["required"] == ["code", "message", "details"]
    text = json.dumps(document)
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    assert "Validation Error" not in text  # FastAPI's description of its 422


def test_health_documents_its_503(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/health"]["get"]["responses"]
    assert set(responses) == {"200", "500", "503"}


def test_routes_add_their_own_statuses_with_errors() -> None:
    app = create_app("probe-openapi")

    @app.put("/api/things/{id}", responses=errors(409, 412))
    def put_thing(id: str) -> dict[str, str]:
        return {"id": id}

    @app.get("/api/plain")
    def plain() -> dict[str, str]:
        return {}

    operations = app.openapi()["paths"]
    responses = operations["/api/things/{id}"]["put"]["responses"]
    assert set(responses) == {"200", "404", "409", "412", "422", "500", "503"}
    assert responses["409"]["description"] == STATUS_DESCRIPTIONS[409]
    assert responses["412"]["content"] == {"application/json": {"schema": ERROR_BODY}}
    # No parameters, public (no action declared): the last-resort 500 and maintenance mode's 503.
    assert set(operations["/api/plain"]["get"]["responses"]) == {"200", "500", "503"}
    # What is documented is what the app answers.
    missing = TestClient(app).put("/api/things/x?unused=%zz")
    assert missing.status_code == 422 and set(missing.json()) == {"error"}


def test_errors_refuses_a_status_without_a_meaning() -> None:
    with pytest.raises(ValueError, match="418"):
        errors(409, 418)


def test_maintenance_modes_503_is_documented_except_where_it_lets_requests_through() -> None:
    from mm_common.api import MAINTENANCE_EXEMPT_PATHS

    document = build_openapi()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if path not in MAINTENANCE_EXEMPT_PATHS:
                assert "503" in operation["responses"], (method, path)
    # Signing in stays open during maintenance (and answers no 503 of its own).
    assert "503" not in document["paths"]["/api/auth/login"]["post"]["responses"]
