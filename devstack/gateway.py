"""The local API Gateway: routes /api/* as the template's HttpApi events do.

A request becomes an HTTP API payload-2.0 event for the function that owns the route, and the
function's real Lambda handler (Mangum around its FastAPI app) answers it. Precedence follows
API Gateway: the most specific route wins, a greedy {name+} comes last, then ``$default``.

What the event holds follows what HTTP API was observed to send (live captures, payload 2.0):

- ``rawPath`` (and ``requestContext.http.path``) is the request path percent-decoded, and
  decoded twice: ``%20`` becomes a space, ``%2F`` a slash, ``%2541`` ends as ``A``. A ``?``
  produced by the first decoding cuts the path there (``what%3F.txt`` arrives as ``what``); a
  ``%`` left by it that starts no valid escape (``100%25.txt``) makes HTTP API answer 400 itself.
  A client that needs a literal ``%``, ``?`` or ``/`` in a path segment encodes the segment twice.
  Routing and ``pathParameters`` use that decoded path; nothing decodes it again (the layer
  keeps Mangum from doing so).
- ``rawQueryString`` is the query as sent (still percent-encoded); ``queryStringParameters``
  decoded, repeated names joined with commas.
- The body is text (``isBase64Encoded`` false) only for ``text/*``, ``application/json``,
  ``application/xml`` and ``application/javascript``; any other or no content type is
  base64-encoded. A text-typed body that is not UTF-8 is also passed base64-encoded here, so the
  function sees the bytes that were sent (AWS's handling of that case is not documented).
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devstack.lambdas import ACCOUNT_ID, FunctionError, LambdaRuntime
from devstack.template import HttpRoute

TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_BROKEN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


@dataclass
class CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str]
    parameters: list[str]
    specificity: tuple[int, int, int]


def compile_route(route: HttpRoute) -> CompiledRoute:
    parts, names = [], []
    static = greedy = 0
    for segment in route.path.strip("/").split("/"):
        match = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
        if match:
            names.append(match.group(1))
            greedy += bool(match.group(2))
            parts.append("(.+)" if match.group(2) else "([^/]+)")
        else:
            static += 1
            parts.append(re.escape(segment))
    # Decoded paths can hold any character, newlines included: match them all, to the very end.
    pattern = re.compile("/" + "/".join(parts), re.DOTALL)
    # More literal segments first; greedy routes after every non-greedy one.
    return CompiledRoute(route, pattern, names, (-greedy, static, len(parts)))


class RouteTable:
    def __init__(self, routes: list[HttpRoute]) -> None:
        self.default: HttpRoute | None = None
        compiled = []
        for route in routes:
            if route.path == "$default":
                self.default = route
            else:
                compiled.append(compile_route(route))
        self.routes = sorted(compiled, key=lambda c: c.specificity, reverse=True)

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for compiled in self.routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            found = compiled.pattern.fullmatch(path)
            if found:
                return compiled.route, dict(zip(compiled.parameters, found.groups(), strict=True))
        if self.default is not None:
            return self.default, {}
        return None


def _is_text(content_type: str) -> bool:
    content_type = content_type.split(";")[0].strip().lower()
    return content_type.startswith("text/") or content_type in TEXT_TYPES


def _percent_decode(raw: bytes) -> bytes | None:
    if _BROKEN_ESCAPE.search(raw):
        return None
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def gateway_path(raw_path: bytes) -> str | None:
    """The path HTTP API routes on and puts in ``rawPath`` for a request path as sent, or None
    where it answers 400 itself (see the module's docstring)."""
    once = _percent_decode(raw_path)
    if once is None:
        return None
    twice = _percent_decode(once.split(b"?", 1)[0])
    if twice is None:
        return None
    try:
        return twice.decode("utf-8")
    except UnicodeDecodeError:
        return None  # a path must be text; assumed refused like a broken escape


def _raw_query(request: Request) -> str:
    raw = bytes(request.scope.get("query_string") or b"")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        # Bytes a client sent unencoded: percent-encode them so nothing is lost or invented.
        return "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in raw)


def request_path(request: Request) -> bytes:
    """The path exactly as the client sent it."""
    raw = request.scope.get("raw_path")
    return bytes(raw) if raw else request.scope["path"].encode("utf-8")


async def build_event(request: Request, route: HttpRoute, path: str, path_parameters: dict[str, str]) -> dict[str, Any]:
    body = await request.body()
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        key = key.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers and key != "cookie" else value
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        query[key] = f"{query[key]},{value}" if key in query else value
    text_body: str | None = None
    if body and _is_text(headers.get("content-type", "")):
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            text_body = None
    route_key = "$default" if route.path == "$default" else f"{route.method} {route.path}"
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": _raw_query(request),
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": headers.get("host", "127.0.0.1").split(".")[0],
            "http": {
                "method": request.method,
                "path": path,
                "protocol": f"HTTP/{request.scope.get('http_version', '1.1')}",
                "sourceIp": request.client.host if request.client else "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": bool(body) and text_body is None,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"] = text_body if text_body is not None else base64.b64encode(body).decode("ascii")
    return event


def to_response(result: Any) -> Response:
    """Turn a Lambda result into an HTTP response as HTTP API payload 2.0 does."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # HTTP API treats any other return value as a 200 JSON body.
        return JSONResponse(result)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode("utf-8")
    response = Response(content=body, status_code=int(result["statusCode"]))
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = str(value)
    for key, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.append(key, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.append("set-cookie", cookie)
    return response


class Gateway:
    def __init__(self, runtime: LambdaRuntime, routes: list[HttpRoute]) -> None:
        self.runtime = runtime
        self.table = RouteTable(routes)

    async def handle(self, request: Request) -> Response:
        path = gateway_path(request_path(request))
        if path is None:
            return JSONResponse({"message": "Bad Request"}, status_code=400)  # HTTP API's own answer
        matched = self.table.match(request.method, path)
        if matched is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        route, path_parameters = matched
        event = await build_event(request, route, path, path_parameters)
        try:
            result = await self.runtime.invoke_async(route.function, event)
        except FunctionError as error:
            # What API Gateway answers when the integration fails.
            print(f"[gateway] {route.function} failed: {error}")
            return JSONResponse({"message": "Internal Server Error"}, status_code=500)
        return to_response(result)
