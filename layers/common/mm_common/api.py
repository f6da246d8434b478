"""FastAPI app factory and Lambda entry point shared by every HTTP function.

Each function builds its app with :func:`create_app` and exports ``handler =
lambda_handler(app)``; API Gateway (HTTP API, payload 2.0) invokes that handler through Mangum.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mangum import Mangum
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from mm_common import __version__
from mm_common.errors import STATUS_CODES, ApiError, error_body
from mm_common.observability import for_service

CORRELATION_HEADER = "X-Correlation-Id"


def _correlation_id(request: Request) -> str:
    supplied = request.headers.get(CORRELATION_HEADER, "").strip()
    if supplied and len(supplied) <= 128 and supplied.isprintable():
        return supplied
    event = request.scope.get("aws.event") or {}
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else str(uuid.uuid4())


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
        details.append(
            {
                "field": ".".join(loc) or None,
                "in": str(err["loc"][0]) if err.get("loc") else None,
                "message": err.get("msg", "invalid value"),
                "type": err.get("type"),
            }
        )
    return details


def create_app(service: str, *, title: str | None = None) -> FastAPI:
    obs = for_service(service)
    app = FastAPI(
        title=title or f"MoreMinimore {service} API",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # the whole API's document is served by the system function
    )
    app.state.service = service

    @app.middleware("http")
    async def correlation(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        correlation_id = _correlation_id(request)
        request.state.correlation_id = correlation_id
        obs.logger.set_correlation_id(correlation_id)
        try:
            response = await call_next(request)
        except Exception:
            obs.logger.exception("unhandled error", extra={"path": request.url.path})
            response = JSONResponse(
                error_body("internal_error", "Something went wrong on our side. Please try again."),
                status_code=500,
            )
        response.headers[CORRELATION_HEADER] = correlation_id
        return response

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {}
        where = f" ({first['field']})" if first.get("field") else ""
        return JSONResponse(
            error_body(
                "validation_failed",
                f"The request is not valid{where}: {first.get('message', '')}".rstrip(": "),
                details,
            ),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "http_error")
        message = {
            404: "There is nothing at this address.",
            405: "This method is not allowed here.",
        }.get(exc.status_code, str(exc.detail))
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    return app


def lambda_handler(app: FastAPI) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Wrap an app as a Lambda handler for HTTP API events, with Powertools wired in."""
    obs = for_service(app.state.service)
    adapter = Mangum(app, lifespan="off", api_gateway_base_path="/")

    @obs.logger.inject_lambda_context(clear_state=True)
    @obs.tracer.capture_lambda_handler(capture_response=False)
    @obs.metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return adapter(event, context)  # type: ignore[arg-type]

    wrapped: Callable[[dict[str, Any], Any], dict[str, Any]] = handler
    return wrapped
