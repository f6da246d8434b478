"""Platform routes: health, the API's OpenAPI document, and answers for unknown routes.

API Gateway sends every request that matches no declared route to this function (the
template's ``$default`` route), so unknown paths and wrong methods get the API's error shape.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import Request
from fastapi.responses import JSONResponse

from mm_common import __version__, db
from mm_common.api import create_app, lambda_handler
from mm_common.auth import Caller, require
from mm_common.errors import error_body
from mm_common.models import ApiModel
from mm_common.observability import for_service
from mm_common.permissions import Action

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

app = create_app("system")
log = for_service("system").logger


class Health(ApiModel):
    status: str
    database: str
    version: str


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    return loaded


# Path parameters that take the rest of the path (FastAPI "{path:path}", API Gateway "{path+}").
GREEDY_PARAMETERS = {"path", "proxy"}


def _compile_path(path: str) -> re.Pattern[str]:
    parts = []
    for segment in path.strip("/").split("/"):
        param = re.fullmatch(r"\{(\w+)\}", segment)
        if param:
            parts.append(".+" if param.group(1) in GREEDY_PARAMETERS else "[^/]+")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$")


@lru_cache(maxsize=1)
def _route_patterns() -> list[tuple[re.Pattern[str], frozenset[str]]]:
    return [
        (_compile_path(path), frozenset(m.upper() for m in operations if m.upper() in HTTP_METHODS))
        for path, operations in openapi_document().get("paths", {}).items()
    ]


def _db_failure_reason(exc: psycopg.Error) -> str:
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return "the database did not answer in time"
    if isinstance(exc, psycopg.OperationalError):
        return "the database cannot be reached"
    return "the database answered with an error"


@app.get("/api/health", response_model=Health, summary="Liveness and database check")
def health(_: Annotated[Caller, require(Action.PUBLIC)]) -> Any:
    try:
        db.fetch_one("SELECT 1")
    except psycopg.Error as exc:
        reason = _db_failure_reason(exc)
        log.warning("health check failed", extra={"reason": reason, "error_type": type(exc).__name__})
        body = {"status": "unavailable", "database": "unavailable", "version": __version__}
        body.update(error_body("database_unavailable", f"The service is unavailable: {reason}.", {"reason": reason}))
        return JSONResponse(body, status_code=503)
    return Health(status="ok", database="ok", version=__version__)


@app.get("/api/openapi.json", summary="OpenAPI 3.1 document of the whole API")
def openapi(_: Annotated[Caller, require(Action.PUBLIC)]) -> JSONResponse:
    return JSONResponse(openapi_document())


@app.api_route("/{path:path}", methods=HTTP_METHODS, include_in_schema=False)
def unmatched_route(request: Request, _: Annotated[Caller, require(Action.PUBLIC)]) -> JSONResponse:
    path = request.url.path
    allowed: set[str] = set()
    for pattern, methods in _route_patterns():
        if pattern.match(path):
            allowed |= methods
    if allowed and request.method not in allowed:
        return JSONResponse(
            error_body("method_not_allowed", f"{request.method} is not allowed on {path}."),
            status_code=405,
            headers={"Allow": ", ".join(sorted(allowed))},
        )
    return JSONResponse(error_body("not_found", "There is nothing at this address."), status_code=404)


handler = lambda_handler(app)
