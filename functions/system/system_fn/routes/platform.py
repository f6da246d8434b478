"""Health, the platform's status (maintenance, announcement, sign-ups), the API's OpenAPI document,
and answers for routes nothing else serves.

API Gateway sends every request that matches no declared route to this function (the
template's ``$default`` route), so unknown paths and wrong methods get the API's error shape.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mm_common import __version__, system_settings
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.errors import error_body
from mm_common.observability import for_service
from mm_common.permissions import Action
from system_fn import service
from system_fn.schemas import Health, MaintenanceStatus, PlatformStatus, StatusEnvelope

router = APIRouter()
Anyone = Annotated[Caller, require(Action.PUBLIC)]


@router.get("/api/health", response_model=Health, summary="Liveness and database check", responses=errors(503))
def health(_: Anyone) -> Any:
    reason = service.database_problem()
    if reason is not None:
        for_service("system").logger.warning("health check failed", extra={"reason": reason})
        body = {"status": "unavailable", "database": "unavailable", "version": __version__}
        body.update(error_body("database_unavailable", f"The service is unavailable: {reason}.", {"reason": reason}))
        return JSONResponse(body, status_code=503)
    maintenance = system_settings.current().maintenance.on
    return Health(status="ok", database="ok", version=__version__, maintenance=maintenance)


@router.get(
    "/api/system/status",
    response_model=StatusEnvelope,
    summary="Maintenance mode, the announcement and the sign-up policy (for the web app's banner and pages)",
)
def status(_: Anyone) -> StatusEnvelope:
    settings = system_settings.current()
    maintenance = settings.maintenance
    return StatusEnvelope(
        status=PlatformStatus(
            maintenance=MaintenanceStatus(
                on=maintenance.on, message=maintenance.shown_message if maintenance.on else None
            ),
            announcement=settings.announcement,
            signups=settings.signups,
        )
    )


@router.get("/api/openapi.json", summary="OpenAPI 3.1 document of the whole API")
def openapi(_: Anyone) -> JSONResponse:
    return JSONResponse(service.openapi_document())


@router.api_route("/{path:path}", methods=service.HTTP_METHODS, include_in_schema=False)
def unmatched_route(request: Request, _: Anyone) -> JSONResponse:
    path = request.url.path
    allowed = service.allowed_methods(path)
    if allowed and request.method not in allowed:
        return JSONResponse(
            error_body("method_not_allowed", f"{request.method} is not allowed on {path}."),
            status_code=405,
            headers={"Allow": ", ".join(sorted(allowed))},
        )
    return JSONResponse(error_body("not_found", "There is nothing at this address."), status_code=404)
