"""The local API Gateway: routes /api/* as the template's HttpApi events do.

A request becomes an HTTP API payload-2.0 event for the function that owns the route, and the
function's real Lambda handler (Mangum around its FastAPI app) answers it. Precedence follows
API Gateway: the most specific route wins, a greedy {name+} comes last, then ``$default``.
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

TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded")


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
    pattern = re.compile("^/" + "/".join(parts) + "$")
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
            found = compiled.pattern.match(path)
            if found:
                return compiled.route, dict(zip(compiled.parameters, found.groups(), strict=True))
        if self.default is not None:
            return self.default, {}
        return None


def _is_text(content_type: str) -> bool:
    content_type = content_type.split(";")[0].strip().lower()
    return content_type.startswith("text/") or content_type in TEXT_TYPES or content_type.endswith("+json")


async def build_event(request: Request, route: HttpRoute, path_parameters: dict[str, str]) -> dict[str, Any]:
    body = await request.body()
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        key = key.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers and key != "cookie" else value
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        query[key] = f"{query[key]},{value}" if key in query else value
    is_text = _is_text(headers.get("content-type", "")) if body else True
    route_key = "$default" if route.path == "$default" else f"{route.method} {route.path}"
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.url.path,
        "rawQueryString": request.url.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": headers.get("host", "127.0.0.1").split(".")[0],
            "http": {
                "method": request.method,
                "path": request.url.path,
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
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"] = body.decode("utf-8") if is_text else base64.b64encode(body).decode("ascii")
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
        matched = self.table.match(request.method, request.url.path)
        if matched is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        route, path_parameters = matched
        event = await build_event(request, route, path_parameters)
        try:
            result = await self.runtime.invoke_async(route.function, event)
        except FunctionError as error:
            # What API Gateway answers when the integration fails.
            print(f"[gateway] {route.function} failed: {error}")
            return JSONResponse({"message": "Internal Server Error"}, status_code=500)
        return to_response(result)
