"""FastAPI app factory and Lambda entry point shared by every HTTP function.

Each function builds its app with :func:`create_app` and exports ``handler =
lambda_handler(app)``; API Gateway (HTTP API, payload 2.0) invokes that handler through Mangum.

Every app gets the same edge (:class:`RequestEdge`: the path as API Gateway gave it, the
correlation id, refusing input no handler could use, the headers of every answer, the
last-resort 500), the same exception handlers (one error shape, database refusals included) and
the same documented error responses in its OpenAPI operations.

Bad input: a body that cannot be read as JSON at all (not UTF-8, malformed, or not sent as
JSON) answers 400 ``invalid_body``; a request whose parameters or JSON fields are wrong, or that
holds text no handler can use, answers 422 ``validation_failed`` naming each one.

Nothing here imports psycopg (a tenth of a second of every cold start): a database error can only
exist once :mod:`mm_common.db` has imported it for a query, so the edge recognizes one through
``sys.modules`` and maps it then.
"""

from __future__ import annotations

import re
import sys
import traceback
import uuid
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from mangum import Mangum
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mm_common import __version__, system_settings
from mm_common.errors import ERROR_SCHEMAS, STATUS_CODES, STATUS_DESCRIPTIONS, ApiError, error_body
from mm_common.observability import Observability, for_service
from mm_common.permissions import GlobalRole

if TYPE_CHECKING:
    import psycopg

CORRELATION_HEADER = "X-Correlation-Id"
# Every answer of the API is about one caller (some carry tokens or secrets): no cache keeps it
# unless the route says otherwise with its own Cache-Control, and no browser second-guesses its type.
DEFAULT_CACHE_CONTROL = "no-store"
ERROR_BODY_REF = "#/components/schemas/ErrorBody"

# Input refused before any handler runs. In the path (already decoded by API Gateway): control
# characters (no identifier or project file path may hold one; the router would otherwise answer
# 404, or match "a.txt\n" as "a.txt") and lone surrogates.
_UNUSABLE_IN_PATH = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_PERCENT_ENCODED = re.compile(rb"(?:[^%]|%[0-9A-Fa-f]{2})*", re.DOTALL)
_JSON_MEDIA_TYPE = re.compile(r"\s*application/(?:[^;\s]+\+)?json\s*(?:;|$)", re.IGNORECASE)


# ---------------------------------------------------------------------------------- the edge
def _correlation_id(scope: Scope) -> str:
    supplied = Headers(scope=scope).get(CORRELATION_HEADER, "").strip()
    if supplied and len(supplied) <= 128 and supplied.isprintable():
        return supplied
    event = scope.get("aws.event") or {}
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else str(uuid.uuid4())


def _use_the_gateways_path(scope: Scope) -> None:
    """Route on the path exactly as API Gateway hands it over.

    HTTP API percent-decodes the request path itself (``rawPath``); Mangum would decode it once
    more (``unquote``), turning a file named ``a%41`` into ``aA``. The handler takes it as given.
    """
    event = scope.get("aws.event")
    if isinstance(event, dict) and event.get("version") == "2.0":
        raw_path = event.get("rawPath")
        if isinstance(raw_path, str) and raw_path:
            scope["path"] = raw_path
            scope["raw_path"] = None


def _decode_query_component(raw: bytes) -> str:
    """One name or value of a query string, decoded strictly (ValueError says what is wrong)."""
    if not _PERCENT_ENCODED.fullmatch(raw):
        raise ValueError("has a % that is not followed by two hexadecimal digits")
    try:
        text = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text once percent-decoded") from None
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    return text


def _input_refusal(scope: Scope) -> JSONResponse | None:
    """422 for a path or query string no handler could use (what models refuse in bodies)."""
    details: list[dict[str, Any]] = []
    found = _UNUSABLE_IN_PATH.search(scope["path"])
    if found:
        what = "a lone surrogate" if found.group() >= "\ud800" else "a control character"
        details.append({"field": None, "in": "path", "message": f"The path contains {what}.", "type": "unusable_text"})
    for part in bytes(scope.get("query_string") or b"").split(b"&"):
        raw_name, _, raw_value = part.partition(b"=")
        name: str | None = None
        try:
            name = _decode_query_component(raw_name)
            _decode_query_component(raw_value)
        except ValueError as problem:
            subject = f"The query parameter '{name}'" if name is not None else "A query parameter's name"
            details.append({"field": name, "in": "query", "message": f"{subject} {problem}.", "type": "unusable_text"})
    if not details:
        return None
    return JSONResponse(
        error_body("validation_failed", f"The request is not valid: {_lower_first(details[0]['message'])}", details),
        status_code=422,
    )


def _lower_first(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that replays it to the app."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


def _json_body_refusal(body: bytes) -> str | None:
    # JSON is UTF-8 (RFC 8259). Decoding would otherwise replace bytes (silently changing text) or
    # guess UTF-16/32 from NUL bytes, which no JSON text in UTF-8 contains.
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "The body is not UTF-8 text: send JSON encoded as UTF-8."
    if "\x00" in text:
        return "The body is not UTF-8 JSON (it contains NUL bytes): send JSON encoded as UTF-8."
    return None


def _frames(exc: BaseException) -> list[str]:
    return [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(exc.__traceback__)]


def _database_fields(exc: psycopg.Error) -> dict[str, Any]:
    """What may be logged about a database error: names, never values.

    The message (str(exc)) can carry "DETAIL: Key (email)=(...)" or "Failing row contains (...)"
    with a user's data, file contents or secrets, so it is never logged.
    """
    diag = exc.diag
    return {
        "sqlstate": exc.sqlstate,
        "constraint": diag.constraint_name,
        "table": diag.table_name,
        "column": diag.column_name,
    }


def _qualified_name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def _causes(exc: BaseException) -> list[BaseException]:
    chain, seen = [], {id(exc)}
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def error_log_fields(scope: Scope, exc: BaseException) -> dict[str, Any]:
    """How an error is logged: its class, where it was raised and the route; never its message
    (exception messages quote values: rows, bodies, secrets). The correlation id is on every line."""
    route = scope.get("route")
    causes = _causes(exc)
    fields: dict[str, Any] = {
        "error_type": _qualified_name(exc),
        "method": scope.get("method"),
        "route": getattr(route, "path", None),
        "stack": _frames(exc),
    }
    if causes:
        fields["causes"] = [{"error_type": _qualified_name(c), "stack": _frames(c)} for c in causes]
    database_error = next((e for e in (exc, *causes) if _is_database_error(e)), None)
    if database_error is not None:
        fields.update(_database_fields(database_error))
    return fields


def _is_database_error(exc: BaseException) -> TypeGuard[psycopg.Error]:
    """Whether ``exc`` is a psycopg error, without importing psycopg: no such error can exist
    before a query has imported it."""
    error_class = getattr(sys.modules.get("psycopg"), "Error", None)
    return isinstance(error_class, type) and isinstance(exc, error_class)


# What maintenance mode lets through, whoever asks: signing in (so an administrator can), health
# and status (the web app's maintenance page), Stripe's webhook (Stripe would retry it for days)
# and the API's document. Every other request passes only with an administrator's or co-admin's
# access token.
MAINTENANCE_EXEMPT_PATHS = frozenset(
    {
        "/api/health",
        "/api/system/status",
        "/api/openapi.json",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/logout",
        "/api/billing/webhook",
    }
)
MAINTENANCE_ROLES = frozenset({GlobalRole.ADMIN, GlobalRole.CO_ADMIN})


def _token_role(headers: Headers) -> str | None:
    """The global role an access token in ``headers`` was issued for (None: no valid token).

    The token alone decides (no query): a changed role or a ban bumps the user's token version,
    which the route's own authentication then refuses.
    """
    from mm_common.tokens import decode_access_token

    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        role = decode_access_token(token.strip()).get("role")
    except ApiError:
        return None
    return role if isinstance(role, str) else None


def _maintenance_refusal(scope: Scope, obs: Observability) -> JSONResponse | None:
    """503 ``maintenance`` while maintenance mode is on, for every request but the exempt paths
    and those of administrators and co-admins; None otherwise. Blocking (it may query)."""
    try:
        settings = system_settings.current()
    except Exception as exc:
        if not _is_database_error(exc):
            raise
        # The database does not answer (or lacks the table yet): the route answers, or fails, itself.
        obs.logger.warning("system settings unreadable", extra=error_log_fields(scope, exc))
        return None
    if not settings.maintenance.on or _token_role(Headers(scope=scope)) in MAINTENANCE_ROLES:
        return None
    return JSONResponse(
        error_body("maintenance", settings.maintenance.shown_message),
        status_code=503,
        headers={"Retry-After": str(system_settings.MAINTENANCE_RETRY_AFTER_S)},
    )


def _may_be_in_maintenance(scope: Scope) -> bool:
    """Whether the maintenance check must run (without a thread hop when the cache says it is off)."""
    if scope["path"] in MAINTENANCE_EXEMPT_PATHS:
        return False
    settings = system_settings.cached()
    return settings is None or settings.maintenance.on


class RequestEdge:
    """What every request passes first and every answer last (plain ASGI, outside the routing).

    - the path as API Gateway decoded it (not once more),
    - the correlation id (the caller's, else API Gateway's request id), on every log line and answer,
    - 422 for a path or query string holding NUL, control characters (path), lone surrogates or
      broken percent-encoding; 400 ``invalid_body`` for a JSON body that is not UTF-8: before any
      handler runs,
    - ``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store`` (unless the route set one)
      on every answer,
    - a constraint or value Postgres refused (a psycopg ``IntegrityError`` or ``DataError`` no
      service turned into its own error) as 409/422 in the error shape, logged as a warning
      without values (here rather than as an app exception handler, which would need psycopg's
      classes, and so psycopg, at import);
    - 503 ``maintenance`` while maintenance mode is on, except for administrators, co-admins and
      the paths of :data:`MAINTENANCE_EXEMPT_PATHS` (the settings come from the container's cache);
    - the last-resort 500 in the error shape, logged without values.
    """

    def __init__(self, app: ASGIApp, obs: Observability) -> None:
        self.app = app
        self.obs = obs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        _use_the_gateways_path(scope)
        correlation_id = _correlation_id(scope)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        self.obs.logger.set_correlation_id(correlation_id)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers[CORRELATION_HEADER] = correlation_id
                headers["X-Content-Type-Options"] = "nosniff"
                if "cache-control" not in headers:
                    headers["Cache-Control"] = DEFAULT_CACHE_CONTROL
            await send(message)

        refusal = _input_refusal(scope)
        if refusal is None and _JSON_MEDIA_TYPE.match(Headers(scope=scope).get("content-type", "")):
            body, receive = await _buffered(receive)
            reason = _json_body_refusal(body) if body else None
            if reason is not None:
                refusal = JSONResponse(error_body("invalid_body", reason), status_code=400)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        try:
            if _may_be_in_maintenance(scope):
                refusal = await run_in_threadpool(_maintenance_refusal, scope, self.obs)
                if refusal is not None:
                    await refusal(scope, receive, send_with_headers)
                    return
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            refused = None if started else _database_refusal(exc)
            if refused is not None:
                status, code, message = refused
                self.obs.logger.warning(
                    "the database refused the request", extra={**error_log_fields(scope, exc), "status": status}
                )
                await JSONResponse(error_body(code, message), status_code=status)(scope, receive, send_with_headers)
                return
            self.obs.logger.error("unhandled error", extra=error_log_fields(scope, exc))
            if started:  # the answer is under way: nothing in the error shape can follow
                raise
            response = JSONResponse(
                error_body("internal_error", "Something went wrong on our side. Please try again."), status_code=500
            )
            await response(scope, receive, send_with_headers)


# ---------------------------------------------------------------------------------- handlers
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


def _unreadable_body(exc: RequestValidationError) -> JSONResponse | None:
    """400 ``invalid_body`` when the body could not be read as JSON at all (rather than 422 for a
    JSON body whose fields are wrong): malformed JSON, or a body not sent as JSON."""
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            position = err.get("loc", ("body", None))[-1]
            reason = (err.get("ctx") or {}).get("error", "it cannot be parsed")
            return JSONResponse(
                error_body(
                    "invalid_body",
                    f"The body is not valid JSON ({reason} at character {position}).",
                    {"reason": reason, "position": position},
                ),
                status_code=400,
            )
        if tuple(err.get("loc", ())) == ("body",) and isinstance(err.get("input"), bytes | bytearray):
            return JSONResponse(
                error_body("invalid_body", "Send the body as JSON, with Content-Type: application/json."),
                status_code=400,
            )
    return None


@cache
def _database_refusals() -> tuple[tuple[type[psycopg.Error], int, str, str], ...]:
    """A constraint or a value Postgres refused, when the service did not turn it into its own
    error first: 409 for what already exists, 422 for what cannot be stored. Most specific first."""
    import psycopg

    return (
        (psycopg.errors.UniqueViolation, 409, "conflict", "This conflicts with something that already exists."),
        (psycopg.errors.ExclusionViolation, 409, "conflict", "This conflicts with something that already exists."),
        (
            psycopg.errors.ForeignKeyViolation,
            422,
            "validation_failed",
            "This refers to something that does not exist, or something else still depends on it.",
        ),
        (psycopg.errors.NotNullViolation, 422, "validation_failed", "A required value is missing."),
        (psycopg.errors.CheckViolation, 422, "validation_failed", "A value is not allowed here."),
        (psycopg.errors.StringDataRightTruncation, 422, "validation_failed", "A value is too long."),
        (psycopg.errors.NumericValueOutOfRange, 422, "validation_failed", "A number is out of range."),
        (psycopg.errors.InvalidTextRepresentation, 422, "validation_failed", "A value is not in the expected form."),
        (psycopg.IntegrityError, 422, "validation_failed", "This would break a rule of the stored data."),
        (psycopg.DataError, 422, "validation_failed", "A value cannot be stored as given."),
    )


def _database_refusal(exc: Exception) -> tuple[int, str, str] | None:
    """Status, code and message for a database refusal; None for any other error."""
    if not _is_database_error(exc):
        return None
    for error_class, status, code, message in _database_refusals():
        if isinstance(exc, error_class):
            return status, code, message
    return None


# ---------------------------------------------------------------------------------- OpenAPI
def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": STATUS_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}},
    }


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error responses a route documents beyond those every operation of its kind gets:
    ``@router.put(..., responses=errors(409, 412))`` when its service raises Conflict and
    PreconditionFailed. (401/403/404/422/429/400/500 come from what the route declares.)"""
    unknown = sorted(set(statuses) - set(STATUS_DESCRIPTIONS))
    if unknown:
        raise ValueError(f"no description for error status {unknown}: add it to STATUS_DESCRIPTIONS")
    return {status: _error_response(status) for status in statuses}


def documented_error_statuses(route: Any, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what its route declares.

    500 always; 503 (maintenance mode) unless the path is one maintenance lets through; 401, 403 and
    429 (the per-user API rate limit) unless the action is public; 404 for path parameters or an
    organization-scoped action (unseen organizations answer 404); 422 for any parameter or body; 400
    for a JSON body. A route adds its own with :func:`errors`.
    """
    from mm_common.auth import declared_action
    from mm_common.permissions import PERMISSIONS, Scope

    action = declared_action(route)
    scope = PERMISSIONS[action].scope if action is not None else Scope.PUBLIC
    parameters = operation.get("parameters") or []
    body = operation.get("requestBody")
    statuses = {500}
    if getattr(route, "path", None) not in MAINTENANCE_EXEMPT_PATHS:
        statuses.add(503)
    if scope is not Scope.PUBLIC:
        statuses |= {401, 403, 429}
    if scope is Scope.ORGANIZATION or any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if parameters or body:
        statuses.add(422)
    if body and "application/json" in (body.get("content") or {}):
        statuses.add(400)
    return statuses


def _declared_description(route: Any, status: int) -> str | None:
    declared = route.responses.get(status) or route.responses.get(str(status)) or {}
    description = declared.get("description")
    return description if isinstance(description, str) else None


def api_routes(routes: list[BaseRoute]) -> list[Any]:
    """The app's API routes, those of included routers too (FastAPI includes routers lazily: their
    routes are not in ``app.routes`` themselves). Each has the route's attributes (path_format,
    methods, dependant, responses, ...) as the app sees them."""
    return [
        context
        for context in iter_route_contexts(routes)
        if isinstance(context.original_route, APIRoute) and context.include_in_schema
    ]


def add_error_responses(document: dict[str, Any], routes: list[BaseRoute]) -> dict[str, Any]:
    """Give every operation its error responses, all in the error shape (ErrorBody), and drop
    FastAPI's {detail} validation schema, which this API never answers."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(ERROR_SCHEMAS)
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    paths = document.get("paths", {})
    for route in api_routes(routes):
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in documented_error_statuses(route, operation):
                responses[str(status)] = _error_response(status)
            for key, response in responses.items():
                if not key.isdigit() or int(key) < 400:
                    continue
                status = int(key)
                response["content"] = {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}}
                response["description"] = _declared_description(route, status) or STATUS_DESCRIPTIONS.get(
                    status, response.get("description", "An error, in the error shape.")
                )
            operation["responses"] = dict(sorted(responses.items()))
    return document


def _openapi_with_error_responses(app: FastAPI) -> Callable[[], dict[str, Any]]:
    generate = app.openapi  # FastAPI's: cached until the routes change
    completed: dict[str, Any] | None = None

    def openapi() -> dict[str, Any]:
        nonlocal completed
        document = generate()
        if document is not completed:
            completed = add_error_responses(document, app.routes)
        return completed

    return openapi


# ---------------------------------------------------------------------------------- the app
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
    app.add_middleware(RequestEdge, obs=obs)
    app.openapi = _openapi_with_error_responses(app)  # type: ignore[method-assign]

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        unreadable = _unreadable_body(exc)
        if unreadable is not None:
            return unreadable
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
        if exc.status_code == 400 and isinstance(exc.__cause__, Exception):
            # FastAPI could not read the body (e.g. JSON nested past the parser's limit).
            return JSONResponse(error_body("invalid_body", "The body is not JSON this API can read."), status_code=400)
        code = STATUS_CODES.get(exc.status_code, "http_error")
        message = {
            404: "There is nothing at this address.",
            405: "This method is not allowed here.",
        }.get(exc.status_code, str(exc.detail))
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    return app


def lambda_handler(app: FastAPI) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Wrap an app as a Lambda handler for HTTP API events, with Powertools wired in.

    The Tracer (and the X-Ray SDK) is created when the first invocation runs, not at import, so
    importing a function's app stays cheap while every invocation is still traced in AWS.
    """
    from mm_common.observability import traced_handler

    obs = for_service(app.state.service)
    adapter = Mangum(app, lifespan="off", api_gateway_base_path="/")

    @obs.logger.inject_lambda_context(clear_state=True)
    @traced_handler(app.state.service)
    @obs.metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return adapter(event, context)  # type: ignore[arg-type]

    wrapped: Callable[[dict[str, Any], Any], dict[str, Any]] = handler
    return wrapped
