"""An Easypanel emulator: the tRPC procedures the deploy flow uses, on the real wire format.

No Easypanel runs on these machines; the local stack and the tests talk to this instead, through
the same client code that talks to a real panel.

Wire format (Easypanel 2.16: tRPC with the superjson transformer, not batched):

* a query is ``GET /api/trpc/<procedure>?input=<{"json": …}>``, a mutation ``POST`` with the body
  ``{"json": …}``; the other method answers METHOD_NOT_SUPPORTED (405);
* success: ``{"result": {"data": {"json": <value>, "meta"?: {"values": {"<path>": ["Date"]}}}}}``
  (dates go out as ISO strings marked in superjson's ``meta``);
* failure: ``{"error": {"json": {"message", "code": <JSON-RPC number>, "data": {"code", "httpStatus",
  "path", "zodError"?}}}}``. Like the panel, business errors ("Project not found", "Service already
  exists") are the generic INTERNAL_SERVER_ERROR.

Every input is parsed against the procedure's schema in Easypanel's published OpenAPI document
(the procedures we call: ``tests/fixtures/easypanel-openapi-2.16.0.subset.json``) the way zod
parses it: defaults filled in, a missing or invalid field is BAD_REQUEST with zod's issues as
the message, and an unknown key is stripped without a word (as the panel does). Every stripped
key is recorded in ``calls`` (and ``strict_unknown_keys=True`` makes it a BAD_REQUEST), so a test
sees a field sent at the wrong level. ``domains.createDomain`` / ``updateDomain`` have no
exported schema in the document; the emulator uses the shape clients use against 2.16 (the port
inside ``serviceDestination``, required).

State is in memory: projects, services (app, postgres, mariadb) with their env, source, build and
domains, and actions. ``services.app.deployService`` starts a ``deploy`` action, ``running`` until
``done`` or ``error``, with a log. How it advances is ``build_mode``:

* ``"poll"`` (the default): every look at a running action (``actions.getAction``, or
  ``actions.listActions`` listing it) moves it one step: the first clones the source, the second
  builds and ends the action. Deterministic, no timers.
* ``"manual"``: only :meth:`EasypanelEmulator.run_pending_builds` moves actions (to their end).
* ``"background"``: a thread runs the whole build at once (the dev stack, where an npm build takes
  longer than a request should).

A deploy really clones the git source (``git clone`` of the service's repo and ref; an
``https://user:token@…`` URL works, an ssh URL needs ``git_url_rewrite`` to map it to a URL this
machine can clone), refuses a ``dockerfile`` build whose Dockerfile is missing (as Docker would),
then hands the checkout to ``builder``. The default :class:`StaticSiteBuilder` does what a static
app's Dockerfile does without Docker: ``npm install`` + ``npm run build`` when package.json has a
build script (dist/, build/ or out/), or the checkout itself when it holds an index.html. Tests plug
in their own builder (a failing one, a fast one), or use ``faults.fail_next_build``.

A successful build is served at the service's domains: by Host header (``http://<host>:<port>/``
when ``<host>`` resolves here, e.g. under ``*.localhost``), and at ``/_apps/<host>/`` (always), with
a single-page-app fallback to index.html. A stopped service answers 502, as the panel's proxy does.

Faults (``emulator.faults``): ``fail_next(procedure, code | status + body, times)`` answers a tRPC
error or a raw HTTP error; ``timeout_next(procedure, times, applied)`` holds the answer until the
test releases it (the client times out; ``applied=True`` runs the procedure first, the "timed out
but done" case); ``fail_next_build(log, times)`` fails the next builds.

:class:`EasypanelServer` serves an emulator on a free port in a thread: ``.url``, ``.stop()``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from devstack.serving import LoopbackServer

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "easypanel-openapi-2.16.0.subset.json"
PANEL_VERSION = "2.16.0"
NAME_PATTERN = "^[a-z0-9-_]+$"

BuildMode = Literal["poll", "manual", "background"]
ProcedureKind = Literal["query", "mutation"]

# tRPC's error codes: JSON-RPC number and HTTP status (@trpc/server TRPC_ERROR_CODES_BY_KEY).
TRPC_ERRORS: dict[str, tuple[int, int]] = {
    "PARSE_ERROR": (-32700, 400),
    "BAD_REQUEST": (-32600, 400),
    "UNAUTHORIZED": (-32001, 401),
    "FORBIDDEN": (-32003, 403),
    "NOT_FOUND": (-32004, 404),
    "METHOD_NOT_SUPPORTED": (-32005, 405),
    "TIMEOUT": (-32008, 408),
    "CONFLICT": (-32009, 409),
    "TOO_MANY_REQUESTS": (-32029, 429),
    "INTERNAL_SERVER_ERROR": (-32603, 500),
}

_SELECT = {"type": "string", "pattern": NAME_PATTERN}
_DOMAIN_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string"},
    "host": {"type": "string", "pattern": "^[^\\s*]+$"},
    "https": {"type": "boolean", "default": True},
    "path": {"type": "string", "pattern": "^\\/", "default": "/"},
    "middlewares": {"type": "array", "items": {"type": "string"}, "default": []},
    "certificateResolver": {"type": "string", "default": ""},
    "wildcard": {"type": "boolean", "default": False},
    "destinationType": {"type": "string", "enum": ["service"]},
    "serviceDestination": {
        "type": "object",
        "properties": {
            "protocol": {"type": "string", "enum": ["http", "https"], "default": "http"},
            "port": {"type": "number", "minimum": 1, "maximum": 65535},
            "path": {"type": "string", "pattern": "^\\/", "default": "/"},
            "projectName": _SELECT,
            "serviceName": _SELECT,
            "composeService": {"type": "string"},
        },
        "required": ["port", "projectName", "serviceName"],
        "additionalProperties": False,
    },
}
# The published document says "Unknown object properties" for these two; this is the 2.16 shape
# (a Domain: host, https, path, middlewares, certificateResolver, wildcard, destinationType,
# serviceDestination{protocol, port, path, projectName, serviceName}).
SCHEMA_OVERRIDES: dict[str, dict[str, Any]] = {
    "domains.createDomain": {
        "type": "object",
        "properties": _DOMAIN_PROPERTIES,
        "required": ["host", "destinationType", "serviceDestination"],
        "additionalProperties": False,
    },
    "domains.updateDomain": {
        "type": "object",
        "properties": _DOMAIN_PROPERTIES,
        "required": ["id", "host", "destinationType", "serviceDestination"],
        "additionalProperties": False,
    },
}


# ------------------------------------------------------------------------------- the schema
@dataclass(frozen=True)
class Procedure:
    name: str
    kind: ProcedureKind
    schema: dict[str, Any] | None  # the input (the envelope's "json"), None when it takes none
    root: dict[str, Any]  # what "$ref"s in the schema point into


def load_procedures(path: Path = OPENAPI_PATH) -> dict[str, Procedure]:
    """Every procedure of the published document: its kind (GET query, POST mutation) and input schema."""
    document = json.loads(path.read_text(encoding="utf-8"))
    procedures: dict[str, Procedure] = {}
    for route, operations in document["paths"].items():
        name = route.removeprefix("/api/trpc/")
        for method, operation in operations.items():
            envelope: dict[str, Any] | None = None
            if method == "post":
                envelope = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            else:
                for parameter in operation.get("parameters", []):
                    if parameter.get("name") == "input":
                        envelope = parameter["content"]["application/json"]["schema"]
            schema = envelope["properties"]["json"] if envelope else None
            if name in SCHEMA_OVERRIDES:
                schema = SCHEMA_OVERRIDES[name]
            kind: ProcedureKind = "mutation" if method == "post" else "query"
            procedures[name] = Procedure(name, kind, schema, envelope or {})
    return procedures


class _Missing:
    def __repr__(self) -> str:
        return "undefined"


MISSING: Any = _Missing()


def _js_pattern(pattern: str) -> re.Pattern[str]:
    # A JavaScript "$" (no m flag) matches at the very end only; Python's also before a final "\n".
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _received(value: Any) -> str:
    if value is MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_type(value: Any, expected: str) -> bool:
    match expected:
        case "string":
            return isinstance(value, str)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "boolean":
            return isinstance(value, bool)
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
        case "null":
            return value is None
    return True


EMAIL = re.compile(r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")
URI = re.compile(r"\A[a-zA-Z][a-zA-Z0-9+.-]*://\S+\Z")


@dataclass
class ParseResult:
    value: Any
    issues: list[dict[str, Any]] = field(default_factory=list)
    stripped: list[str] = field(default_factory=list)  # "a.b.c" paths of unknown keys removed

    @property
    def ok(self) -> bool:
        return not self.issues


class ZodLikeParser:
    """Parses a value against a JSON schema (the subset zod-to-json-schema emits) as zod would:
    defaults for missing fields, unknown keys stripped (recorded), zod's issue shapes for errors."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self._patterns: dict[str, re.Pattern[str]] = {}

    def parse(self, schema: dict[str, Any], value: Any) -> ParseResult:
        result = ParseResult(value=None)
        result.value = self._parse(schema, value, [], result)
        return result

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            target: Any = self.root
            for part in schema["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            schema = target
        return schema

    def _pattern(self, pattern: str) -> re.Pattern[str]:
        if pattern not in self._patterns:
            self._patterns[pattern] = _js_pattern(pattern)
        return self._patterns[pattern]

    def _issue(self, out: ParseResult, path: list[Any], code: str, message: str, **extra: Any) -> None:
        out.issues.append({"code": code, **extra, "path": list(path), "message": message})

    def _parse(self, schema: dict[str, Any], value: Any, path: list[Any], out: ParseResult) -> Any:
        schema = self._resolve(schema)
        if value is MISSING:
            if "default" in schema:  # zod parses its default like a given value (inner defaults apply)
                return self._parse(schema, copy.deepcopy(schema["default"]), path, out)
            expected = schema.get("type", "object")
            expected = expected[0] if isinstance(expected, list) else expected
            self._issue(out, path, "invalid_type", "Required", expected=expected, received="undefined")
            return MISSING
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            return self._union(options, value, path, out)
        types = schema.get("type")
        if types is not None:
            allowed = types if isinstance(types, list) else [types]
            if not any(_is_type(value, t) for t in allowed):
                received = _received(value)
                self._issue(
                    out,
                    path,
                    "invalid_type",
                    f"Expected {allowed[0]}, received {received}",
                    expected=allowed[0],
                    received=received,
                )
                return value
        if "const" in schema and value != schema["const"]:
            self._issue(
                out,
                path,
                "invalid_literal",
                f"Invalid literal value, expected {json.dumps(schema['const'])}",
                expected=schema["const"],
                received=value,
            )
            return value
        if "enum" in schema and value not in schema["enum"]:
            options_text = " | ".join(f"'{o}'" for o in schema["enum"])
            self._issue(
                out,
                path,
                "invalid_enum_value",
                f"Invalid enum value. Expected {options_text}, received '{value}'",
                options=schema["enum"],
                received=value,
            )
            return value
        if isinstance(value, str):
            self._check_string(schema, value, path, out)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._check_number(schema, value, path, out)
        elif isinstance(value, list):
            item_schema = schema.get("items")
            if isinstance(item_schema, dict):
                return [self._parse(item_schema, item, [*path, i], out) for i, item in enumerate(value)]
        elif isinstance(value, dict) and (schema.get("type") == "object" or "properties" in schema):
            return self._object(schema, value, path, out)
        return value

    def _union(self, options: list[dict[str, Any]], value: Any, path: list[Any], out: ParseResult) -> Any:
        attempts = []
        for option in options:
            attempt = ParseResult(value=None)
            attempt.value = self._parse(option, value, path, attempt)
            if attempt.ok:
                out.stripped.extend(attempt.stripped)
                return attempt.value
            attempts.append(attempt)
        union_errors = [{"issues": a.issues, "name": "ZodError"} for a in attempts]
        self._issue(out, path, "invalid_union", "Invalid input", unionErrors=union_errors)
        return value

    def _check_string(self, schema: dict[str, Any], value: str, path: list[Any], out: ParseResult) -> None:
        minimum, maximum = schema.get("minLength"), schema.get("maxLength")
        if isinstance(minimum, int) and len(value) < minimum:
            self._issue(
                out,
                path,
                "too_small",
                f"String must contain at least {minimum} character(s)",
                minimum=minimum,
                type="string",
                inclusive=True,
                exact=False,
            )
        if isinstance(maximum, int) and len(value) > maximum:
            self._issue(
                out,
                path,
                "too_big",
                f"String must contain at most {maximum} character(s)",
                maximum=maximum,
                type="string",
                inclusive=True,
                exact=False,
            )
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and not self._pattern(pattern).search(value):
            self._issue(out, path, "invalid_string", "Invalid", validation="regex")
        fmt = schema.get("format")
        if fmt == "email" and not EMAIL.match(value):
            self._issue(out, path, "invalid_string", "Invalid email", validation="email")
        elif fmt == "uri" and not URI.match(value):
            self._issue(out, path, "invalid_string", "Invalid url", validation="url")

    def _check_number(self, schema: dict[str, Any], value: float, path: list[Any], out: ParseResult) -> None:
        minimum, maximum = schema.get("minimum"), schema.get("maximum")
        if isinstance(minimum, int | float) and value < minimum:
            self._issue(
                out,
                path,
                "too_small",
                f"Number must be greater than or equal to {minimum}",
                minimum=minimum,
                type="number",
                inclusive=True,
                exact=False,
            )
        if isinstance(maximum, int | float) and value > maximum:
            self._issue(
                out,
                path,
                "too_big",
                f"Number must be less than or equal to {maximum}",
                maximum=maximum,
                type="number",
                inclusive=True,
                exact=False,
            )

    def _object(self, schema: dict[str, Any], value: dict[str, Any], path: list[Any], out: ParseResult) -> Any:
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        parsed: dict[str, Any] = {}
        for key, prop in properties.items():
            if key in value:
                item = self._parse(prop, value[key], [*path, key], out)
            elif key in required or "default" in self._resolve(prop):
                item = self._parse(prop, MISSING, [*path, key], out)
            else:
                continue
            if item is not MISSING:
                parsed[key] = item
        extra = schema.get("additionalProperties", False)
        for key, item in value.items():
            if key in properties:
                continue
            if isinstance(extra, dict):  # a record: every value checked
                parsed[key] = self._parse(extra, item, [*path, key], out)
            elif extra is True:
                parsed[key] = item
            else:  # zod's default: unknown keys are stripped without a word
                out.stripped.append(".".join(str(p) for p in [*path, key]))
        return parsed


# ------------------------------------------------------------------------------- errors
class TrpcError(Exception):
    def __init__(self, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def error_envelope(procedure: str, code: str, message: str, **data: Any) -> tuple[int, dict[str, Any]]:
    number, status = TRPC_ERRORS.get(code, TRPC_ERRORS["INTERNAL_SERVER_ERROR"])
    body = {"message": message, "code": number, "data": {"code": code, "httpStatus": status, "path": procedure, **data}}
    return status, {"error": {"json": body}}


def _superjson(value: Any) -> dict[str, Any]:
    """``{"json": value}`` with datetimes as ISO strings and superjson's ``meta`` naming them."""
    marks: dict[str, list[str]] = {}

    def walk(item: Any, path: list[str]) -> Any:
        if isinstance(item, datetime):
            marks[".".join(path)] = ["Date"]
            return item.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if isinstance(item, dict):
            return {k: walk(v, [*path, str(k).replace(".", "\\.")]) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v, [*path, str(i)]) for i, v in enumerate(item)]
        return item

    encoded: dict[str, Any] = {"json": walk(value, [])}
    if marks:
        encoded["meta"] = {"values": marks}
    return encoded


# ------------------------------------------------------------------------------- faults
@dataclass
class _Fault:
    kind: Literal["error", "http", "timeout"]
    times: int
    code: str = "INTERNAL_SERVER_ERROR"
    message: str = "Internal server error"
    status: int | None = None
    body: str = ""
    applied: bool = False


class Faults:
    """Answers to inject, per procedure ("*" for any), each for the next ``times`` calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list[_Fault]] = {}
        self._build_failures: list[str] = []
        self._released = threading.Event()
        self.hold_s = 30.0

    def fail_next(
        self,
        procedure: str,
        code: str = "INTERNAL_SERVER_ERROR",
        *,
        message: str | None = None,
        status: int | None = None,
        body: str | None = None,
        times: int = 1,
    ) -> None:
        """A tRPC error (``code``; ``status`` overrides its HTTP status), or with ``body`` a raw HTTP
        answer (a proxy's 502 page) of ``status`` (default 502)."""
        if body is not None:
            fault = _Fault("http", times, status=status or 502, body=body)
        else:
            if code not in TRPC_ERRORS:
                raise ValueError(f"unknown tRPC code {code}")
            fault = _Fault("error", times, code=code, message=message or code.replace("_", " ").capitalize())
            fault.status = status
        with self._lock:
            self._faults.setdefault(procedure, []).append(fault)

    def timeout_next(self, procedure: str, *, times: int = 1, applied: bool = False) -> None:
        """Hold the answer until :meth:`release` (or ``hold_s``): the client times out. With
        ``applied`` the procedure runs first (the change is made, the answer lost)."""
        self._released.clear()
        with self._lock:
            self._faults.setdefault(procedure, []).append(_Fault("timeout", times, applied=applied))

    def fail_next_build(self, log: str = "npm ERR! Build failed", *, times: int = 1) -> None:
        """The next ``times`` builds fail with ``log`` as the builder's last words."""
        with self._lock:
            self._build_failures.extend([log] * times)

    def take(self, procedure: str) -> _Fault | None:
        with self._lock:
            for key in (procedure, "*"):
                queue = self._faults.get(key)
                if queue:
                    fault = queue[0]
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.pop(0)
                    return fault
        return None

    def take_build_failure(self) -> str | None:
        with self._lock:
            return self._build_failures.pop(0) if self._build_failures else None

    def wait_released(self) -> None:
        self._released.wait(self.hold_s)

    def release(self) -> None:
        """Let every held answer go (the server's stop does it too)."""
        self._released.set()

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._build_failures.clear()
        self.release()


# ------------------------------------------------------------------------------- builds
@dataclass
class BuildContext:
    project: str
    service: str
    source_dir: Path  # the checkout at the source's path
    env: dict[str, str]
    build: dict[str, Any] | None
    log: Callable[[str], None]


@dataclass
class BuildOutput:
    ok: bool
    site_dir: Path | None = None  # what to serve at the service's domains; None serves nothing
    message: str = ""


Builder = Callable[[BuildContext], BuildOutput]


def _run(
    command: list[str], cwd: Path, env: dict[str, str], timeout_s: float, log: Callable[[str], None], echo: bool = True
) -> bool:
    if echo:
        log(f"$ {' '.join(command)}")
    try:
        finished = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        log(f"timed out after {timeout_s:.0f} s")
        return False
    except OSError as exc:
        log(f"could not run {command[0]}: {exc.strerror}")
        return False
    for line in (finished.stdout + finished.stderr).splitlines()[-200:]:
        log(line)
    if finished.returncode != 0:
        log(f"exit code {finished.returncode}")
    return finished.returncode == 0


class StaticSiteBuilder:
    """A static app's Docker build without Docker: ``npm install`` (devDependencies included, as a
    build stage has them) and ``npm run build`` when package.json has a build script, serving
    dist/, build/ or out/; else the checkout itself when it has an index.html. A server app (no
    static output) builds "successfully" and serves nothing: the emulator runs no processes."""

    OUTPUT_DIRS = ("dist", "build", "out")

    def __init__(self, *, install: bool = True, timeout_s: float = 600.0, npm: str = "npm") -> None:
        self.install = install
        self.timeout_s = timeout_s
        self.npm = npm

    def __call__(self, ctx: BuildContext) -> BuildOutput:
        root = ctx.source_dir
        package = root / "package.json"
        scripts: dict[str, Any] = {}
        if package.is_file():
            try:
                scripts = json.loads(package.read_text(encoding="utf-8")).get("scripts") or {}
            except ValueError:
                ctx.log("package.json is not valid JSON")
                return BuildOutput(ok=False, message="package.json is not valid JSON")
        if "build" in scripts:
            npm = shutil.which(self.npm)
            if npm is None:
                ctx.log("npm is not installed on this machine")
                return BuildOutput(ok=False, message="npm is not installed")
            env = {**os.environ, **ctx.env}
            install_env = {k: v for k, v in env.items() if k != "NODE_ENV"}
            if self.install and not (root / "node_modules").is_dir():
                command = [npm, "install", "--no-audit", "--no-fund", "--include=dev"]
                if not _run(command, root, install_env, self.timeout_s, ctx.log):
                    return BuildOutput(ok=False, message="npm install failed")
            if not _run([npm, "run", "build"], root, env, self.timeout_s, ctx.log):
                return BuildOutput(ok=False, message="npm run build failed")
            for name in self.OUTPUT_DIRS:
                if (root / name / "index.html").is_file():
                    ctx.log(f"serving {name}/")
                    return BuildOutput(ok=True, site_dir=root / name)
            ctx.log("the build left no dist/, build/ or out/ with an index.html")
            return BuildOutput(ok=False, message="no build output")
        if (root / "index.html").is_file():
            ctx.log("serving the repository's files")
            return BuildOutput(ok=True, site_dir=root)
        ctx.log("no static site to serve (the emulator runs no server processes)")
        return BuildOutput(ok=True)


# ------------------------------------------------------------------------------- state
def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return secrets.token_hex(12)


@dataclass
class _Service:
    project: str
    name: str
    type: str
    config: dict[str, Any]
    created_at: datetime = field(default_factory=_now)
    enabled: bool = True
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    public_key: str | None = None
    site_dir: Path | None = None
    deployed_commit: str | None = None


@dataclass
class _Domain:
    id: str
    host: str
    https: bool
    path: str
    port: int
    project: str
    service: str
    protocol: str = "http"
    middlewares: list[str] = field(default_factory=list)
    certificate_resolver: str = ""
    wildcard: bool = False
    created_at: datetime = field(default_factory=_now)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "https": self.https,
            "path": self.path,
            "middlewares": self.middlewares,
            "certificateResolver": self.certificate_resolver,
            "wildcard": self.wildcard,
            "destinationType": "service",
            "serviceDestination": {
                "protocol": self.protocol,
                "port": self.port,
                "path": "/",
                "projectName": self.project,
                "serviceName": self.service,
            },
            "createdAt": self.created_at,
        }


@dataclass
class _Action:
    id: str
    type: str
    project: str
    service: str
    description: str
    snapshot: dict[str, Any]  # the service's source, build and env when the deploy began
    sequence: int
    status: str = "running"
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)
    log: list[str] = field(default_factory=list)
    step: int = 0
    busy: bool = False
    checkout: Path | None = None
    commit: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "error")

    def wire(self, with_log: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "status": self.status,
            "projectName": self.project,
            "serviceName": self.service,
            "description": self.description,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
        if with_log:
            data["log"] = "\n".join(self.log) + ("\n" if self.log else "")
        return data


@dataclass(frozen=True)
class CallRecord:
    procedure: str
    method: str
    input: Any  # as parsed (defaults filled, unknown keys stripped); the raw input if it did not parse
    stripped: tuple[str, ...]
    error: str | None  # the tRPC code of a refusal


_CREDENTIALS_IN_URL = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def _redact_url(text: str) -> str:
    return _CREDENTIALS_IN_URL.sub(r"\1***@", text)


# ------------------------------------------------------------------------------- the emulator
class EasypanelEmulator:
    """The panel's state and procedures; :meth:`asgi_app` serves them (see the module docstring)."""

    def __init__(
        self,
        *,
        token: str | None = None,
        users: dict[str, str] | None = None,
        build_mode: BuildMode = "poll",
        builder: Builder | None = None,
        git_url_rewrite: Callable[[str], str] | None = None,
        work_dir: Path | None = None,
        strict_unknown_keys: bool = False,
        openapi_path: Path = OPENAPI_PATH,
    ) -> None:
        self.api_token = token or f"ep-{secrets.token_hex(16)}"
        self.users = dict(users or {})
        self.build_mode: BuildMode = build_mode
        self.builder: Builder = builder or StaticSiteBuilder()
        self.git_url_rewrite = git_url_rewrite
        self.strict_unknown_keys = strict_unknown_keys
        self.procedures = load_procedures(openapi_path)
        self.faults = Faults()
        self.base_url = "http://127.0.0.1"
        self.calls: list[CallRecord] = []
        self.projects: dict[str, datetime] = {}
        self.services: dict[tuple[str, str], _Service] = {}
        self.domains: dict[str, _Domain] = {}
        self.actions: dict[str, _Action] = {}
        self.sessions: set[str] = set()
        self._sequence = 0
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="easypanel-emulator-"))
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {
            "auth.login": self._login,
            "auth.logout": lambda _i, _r: None,
            "auth.getUser": lambda _i, _r: {"id": "emulator", "email": next(iter(self.users), ""), "admin": True},
            "update.getStatus": lambda _i, _r: {"version": PANEL_VERSION},
            "projects.listProjects": self._list_projects,
            "projects.listProjectsAndServices": self._list_projects_and_services,
            "projects.inspectProject": self._inspect_project,
            "projects.createProject": self._create_project,
            "projects.destroyProject": self._destroy_project,
            "services.app.createService": self._create_app,
            "services.app.inspectService": lambda i, _r: self._app_wire(self._service(i, "app")),
            "services.app.updateSourceGit": self._update_source_git,
            "services.app.updateSourceImage": self._update_source_image,
            "services.app.updateBuild": self._update_build,
            "services.app.updateEnv": self._update_env,
            "services.app.deployService": self._deploy_service,
            "services.app.startService": lambda i, _r: self._set_enabled(i, "app", True),
            "services.app.stopService": lambda i, _r: self._set_enabled(i, "app", False),
            "services.app.restartService": lambda i, _r: self._service(i, "app") and None,
            "services.app.destroyService": lambda i, _r: self._destroy_service(i, "app"),
            "domains.createDomain": self._create_domain,
            "domains.updateDomain": self._update_domain,
            "domains.listDomains": self._list_domains,
            "domains.getPrimaryDomain": self._primary_domain,
            "domains.deleteDomain": self._delete_domain,
            "actions.listActions": self._list_actions,
            "actions.getAction": self._get_action,
            "git.generateKey": self._generate_key,
            "git.getPublicKey": self._get_public_key,
        }
        for kind in ("postgres", "mariadb"):
            self._handlers.update(
                {
                    f"services.{kind}.createService": self._database_creator(kind),
                    f"services.{kind}.inspectService": self._database_inspector(kind),
                    f"services.{kind}.enableService": self._enabler(kind, True),
                    f"services.{kind}.disableService": self._enabler(kind, False),
                    f"services.{kind}.destroyService": self._destroyer(kind),
                }
            )

    # ------------------------------------------------------------------ test helpers
    def stripped_keys(self) -> list[tuple[str, str]]:
        """(procedure, "a.b") for every key any call had stripped."""
        return [(c.procedure, path) for c in self.calls for path in c.stripped]

    def calls_to(self, procedure: str) -> list[CallRecord]:
        return [c for c in self.calls if c.procedure == procedure]

    def expire_sessions(self) -> None:
        """Every ``auth.login`` token stops working (the API token keeps working)."""
        with self._lock:
            self.sessions.clear()

    def service_env(self, project: str, service: str) -> str:
        with self._lock:
            return str(self.services[(project, service)].config.get("env", ""))

    def deployed_commit(self, project: str, service: str) -> str | None:
        with self._lock:
            return self.services[(project, service)].deployed_commit

    def app_url(self, host: str) -> str:
        """Where this machine reaches the app served at ``host`` (no DNS needed)."""
        return f"{self.base_url}/_apps/{host}/"

    def run_pending_builds(self) -> None:
        """Every running action to its end (clone, then build), in this thread."""
        with self._lock:
            pending = [a for a in self.actions.values() if not a.finished and not a.busy]
        for action in sorted(pending, key=lambda a: a.sequence):
            while not action.finished:
                self._advance(action)

    def join_builds(self, timeout_s: float = 600.0) -> None:
        """Wait for background builds (``build_mode="background"``)."""
        for thread in list(self._threads):
            thread.join(timeout_s)

    def close(self) -> None:
        self.faults.release()
        self.join_builds(30)
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # ------------------------------------------------------------------ dispatch
    def handle(self, procedure: str, method: str, envelope: Any, authorization: str | None) -> tuple[int, Any]:
        """One non-batched tRPC call: (HTTP status, JSON body)."""
        kind: ProcedureKind = "query" if method in ("GET", "HEAD") else "mutation"
        spec = self.procedures.get(procedure)
        if spec is None or procedure not in self._handlers:
            message = f'No "{kind}"-procedure on path "{procedure}"'
            if spec is not None:
                message = f'"{procedure}" is in Easypanel\'s API but not emulated'
            return self._refuse(procedure, method, envelope, (), "NOT_FOUND", message)
        if spec.kind != kind:
            upper = "GET" if kind == "query" else "POST"
            message = f'Unsupported {upper}-request to {spec.kind} procedure at path "{procedure}"'
            return self._refuse(procedure, method, envelope, (), "METHOD_NOT_SUPPORTED", message)
        if procedure != "auth.login" and not self._authorized(authorization):
            return self._refuse(procedure, method, envelope, (), "UNAUTHORIZED", "Unauthorized")
        raw = envelope.get("json", MISSING) if isinstance(envelope, dict) else MISSING
        parsed: Any = None
        stripped: tuple[str, ...] = ()
        if spec.schema is not None:
            result = ZodLikeParser(spec.root).parse(spec.schema, raw)
            stripped = tuple(result.stripped)
            if self.strict_unknown_keys and stripped and result.ok:
                for path in stripped:
                    result.issues.append(
                        {
                            "code": "unrecognized_keys",
                            "keys": [path],
                            "path": [],
                            "message": f"Unrecognized key: {path}",
                        }
                    )
            if not result.ok:
                return self._refuse(
                    procedure,
                    method,
                    raw,
                    stripped,
                    "BAD_REQUEST",
                    json.dumps(result.issues, indent=2, default=str),
                    zodError=_flatten(result.issues),
                )
            parsed = result.value
        try:
            value = self._handlers[procedure](parsed, raw)
        except TrpcError as error:
            return self._refuse(procedure, method, parsed, stripped, error.code, error.message, **error.data)
        with self._lock:
            self.calls.append(CallRecord(procedure, method, parsed, stripped, None))
        return 200, {"result": {"data": _superjson(value)}}

    def _refuse(
        self, procedure: str, method: str, given: Any, stripped: tuple[str, ...], code: str, message: str, **data: Any
    ) -> tuple[int, Any]:
        with self._lock:
            recorded = None if given is MISSING else given
            self.calls.append(CallRecord(procedure, method, recorded, stripped, code))
        return error_envelope(procedure, code, message, **data)

    def _authorized(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        token = authorization.removeprefix("Bearer ").strip()  # the panel takes it with or without
        with self._lock:
            return secrets.compare_digest(token, self.api_token) or token in self.sessions

    # ------------------------------------------------------------------ auth
    def _login(self, input: dict[str, Any], _raw: Any) -> dict[str, Any]:
        expected = self.users.get(input["email"])
        if expected is None or not secrets.compare_digest(expected, input["password"]):
            raise TrpcError("UNAUTHORIZED", "Invalid credentials")
        token = secrets.token_hex(16)
        with self._lock:
            self.sessions.add(token)
        return {"token": token}

    # ------------------------------------------------------------------ projects
    def _list_projects(self, _input: Any, _raw: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [{"name": name, "createdAt": created} for name, created in sorted(self.projects.items())]

    def _summary(self, service: _Service) -> dict[str, Any]:
        return {
            "projectName": service.project,
            "name": service.name,
            "type": service.type,
            "enabled": service.enabled,
            "createdAt": service.created_at,
        }

    def _list_projects_and_services(self, _input: Any, _raw: Any) -> dict[str, Any]:
        with self._lock:
            return {
                "projects": self._list_projects(None, None),
                "services": [self._summary(s) for s in self.services.values()],
            }

    def _project(self, name: str) -> datetime:
        created = self.projects.get(name)
        if created is None:
            raise TrpcError("INTERNAL_SERVER_ERROR", "Project not found")
        return created

    def _inspect_project(self, input: dict[str, Any], _raw: Any) -> dict[str, Any]:
        with self._lock:
            name = input["projectName"]
            created = self._project(name)
            services = [self._summary(s) for s in self.services.values() if s.project == name]
            return {"project": {"name": name, "createdAt": created}, "services": services}

    def _create_project(self, input: dict[str, Any], _raw: Any) -> dict[str, Any]:
        with self._lock:
            name = input["name"]
            if name in self.projects:
                raise TrpcError("INTERNAL_SERVER_ERROR", "Project already exists")
            self.projects[name] = _now()
            return {"name": name, "createdAt": self.projects[name]}

    def _destroy_project(self, input: dict[str, Any], _raw: Any) -> None:
        with self._lock:
            name = input["name"]
            self._project(name)
            for key in [k for k in self.services if k[0] == name]:
                self._drop_service(key)
            del self.projects[name]

    # ------------------------------------------------------------------ services
    def _service(self, input: dict[str, Any], type_: str | None = None) -> _Service:
        with self._lock:
            self._project(input["projectName"])
            service = self.services.get((input["projectName"], input["serviceName"]))
            if service is None or (type_ is not None and service.type != type_):
                raise TrpcError("INTERNAL_SERVER_ERROR", "Service not found")
            return service

    def _add_service(self, input: dict[str, Any], type_: str, config: dict[str, Any]) -> _Service:
        with self._lock:
            self._project(input["projectName"])
            key = (input["projectName"], input["serviceName"])
            if key in self.services:
                raise TrpcError("INTERNAL_SERVER_ERROR", "Service already exists")
            service = _Service(project=key[0], name=key[1], type=type_, config=config)
            self.services[key] = service
            return service

    def _drop_service(self, key: tuple[str, str]) -> None:
        self.services.pop(key, None)
        for domain_id in [d.id for d in self.domains.values() if (d.project, d.service) == key]:
            del self.domains[domain_id]

    def _destroy_service(self, input: dict[str, Any], type_: str) -> None:
        with self._lock:
            service = self._service(input, type_)
            self._drop_service((service.project, service.name))

    def _set_enabled(self, input: dict[str, Any], type_: str, enabled: bool) -> None:
        with self._lock:
            self._service(input, type_).enabled = enabled

    def _app_wire(self, service: _Service) -> dict[str, Any]:
        with self._lock:
            config = service.config
            primary = next(
                (d.id for d in self.domains.values() if (d.project, d.service) == (service.project, service.name)), None
            )
            return {
                "projectName": service.project,
                "name": service.name,
                "type": "app",
                "enabled": service.enabled,
                "token": service.token,
                "deploymentUrl": f"{self.base_url}/api/deploy/{service.token}",
                "primaryDomainId": primary,
                "source": config.get("source"),
                "build": config.get("build"),
                "env": config.get("env", ""),
                "deploy": config.get("deploy", {}),
                "mounts": config.get("mounts", []),
                "ports": config.get("ports", []),
                "basicAuth": config.get("basicAuth", []),
                "redirects": [],
                "createdAt": service.created_at,
            }

    def _create_app(self, input: dict[str, Any], _raw: Any) -> dict[str, Any]:
        config = {k: v for k, v in input.items() if k not in ("projectName", "serviceName", "domains")}
        service = self._add_service(input, "app", config)
        with self._lock:
            for item in input.get("domains", []):  # this older shape keeps the port at the top (default 80)
                domain = _Domain(
                    id=_new_id(),
                    host=item["host"],
                    https=item["https"],
                    path=item["path"],
                    port=int(item["port"]),
                    project=service.project,
                    service=service.name,
                    protocol=item.get("internalProtocol", "http"),
                )
                self.domains[domain.id] = domain
        return self._app_wire(service)

    def _update_source_git(self, input: dict[str, Any], _raw: Any) -> None:
        with self._lock:
            source = {"type": "git", "repo": input["repo"], "ref": input["ref"], "path": input["path"]}
            self._service(input, "app").config["source"] = source

    def _update_source_image(self, input: dict[str, Any], _raw: Any) -> None:
        with self._lock:
            source = {k: v for k, v in input.items() if k not in ("projectName", "serviceName")}
            self._service(input, "app").config["source"] = {"type": "image", **source}

    def _update_build(self, input: dict[str, Any], _raw: Any) -> None:
        with self._lock:
            self._service(input, "app").config["build"] = input.get("build")

    def _update_env(self, input: dict[str, Any], _raw: Any) -> None:
        with self._lock:
            service = self._service(input, "app")
            service.config["env"] = input["env"]
            if "createDotEnv" in input:
                service.config["createDotEnv"] = input["createDotEnv"]

    # ------------------------------------------------------------------ databases
    def _database_creator(self, kind: str) -> Callable[[Any, Any], Any]:
        def create(input: dict[str, Any], raw: Any) -> dict[str, Any]:
            given = raw if isinstance(raw, dict) else {}
            project = input["projectName"]
            default_db = re.sub(r"[^a-zA-Z0-9_]", "_", project)
            config = {
                "image": input["image"],
                "databaseName": input.get("databaseName")
                or (default_db if default_db[:1].isalpha() else f"db_{default_db}"),
                "user": input.get("user") or kind,
                # The document's "default" is the password its generator drew once; the panel draws one per service.
                "password": given.get("password") if isinstance(given.get("password"), str) else secrets.token_hex(10),
                "env": input.get("env", ""),
                "command": input.get("command"),
                "resources": input.get("resources"),
            }
            if kind == "mariadb":
                root = given.get("rootPassword")
                config["rootPassword"] = root if isinstance(root, str) else secrets.token_hex(10)
            return self._database_wire(self._add_service(input, kind, config))

        return create

    def _database_wire(self, service: _Service) -> dict[str, Any]:
        with self._lock:
            return {
                "projectName": service.project,
                "name": service.name,
                "type": service.type,
                "enabled": service.enabled,
                "token": service.token,
                "exposedPort": 0,
                "createdAt": service.created_at,
                **{k: v for k, v in service.config.items() if v is not None},
            }

    def _database_inspector(self, kind: str) -> Callable[[Any, Any], Any]:
        return lambda input, _raw: self._database_wire(self._service(input, kind))

    def _enabler(self, kind: str, enabled: bool) -> Callable[[Any, Any], Any]:
        return lambda input, _raw: self._set_enabled(input, kind, enabled)

    def _destroyer(self, kind: str) -> Callable[[Any, Any], Any]:
        return lambda input, _raw: self._destroy_service(input, kind)

    # ------------------------------------------------------------------ domains
    def _domain_from(self, input: dict[str, Any], domain_id: str) -> _Domain:
        destination = input["serviceDestination"]
        self._service(destination)
        host = input["host"].lower()
        for other in self.domains.values():
            if other.host == host and other.path == input["path"] and other.id != domain_id:
                raise TrpcError("INTERNAL_SERVER_ERROR", f"Domain {host} already exists")
        return _Domain(
            id=domain_id,
            host=host,
            https=input["https"],
            path=input["path"],
            port=int(destination["port"]),
            project=destination["projectName"],
            service=destination["serviceName"],
            protocol=destination["protocol"],
            middlewares=list(input["middlewares"]),
            certificate_resolver=input["certificateResolver"],
            wildcard=input["wildcard"],
        )

    def _create_domain(self, input: dict[str, Any], _raw: Any) -> dict[str, Any]:
        with self._lock:
            domain_id = input.get("id") or _new_id()
            if domain_id in self.domains:
                raise TrpcError("INTERNAL_SERVER_ERROR", "Domain already exists")
            domain = self._domain_from(input, domain_id)
            self.domains[domain.id] = domain
            return domain.wire()

    def _update_domain(self, input: dict[str, Any], _raw: Any) -> None:
        with self._lock:
            current = self.domains.get(input["id"])
            if current is None:
                raise TrpcError("INTERNAL_SERVER_ERROR", "Domain not found")
            updated = self._domain_from(input, current.id)
            updated.created_at = current.created_at
            self.domains[current.id] = updated

    def _list_domains(self, input: dict[str, Any], _raw: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [
                d.wire()
                for d in self.domains.values()
                if input.get("projectName") in (None, d.project) and input.get("serviceName") in (None, d.service)
            ]

    def _primary_domain(self, input: dict[str, Any], _raw: Any) -> dict[str, Any] | None:
        domains = self._list_domains(input, None)
        return domains[0] if domains else None

    def _delete_domain(self, input: dict[str, Any], _raw: Any) -> None:
        with self._lock:
            if self.domains.pop(input["id"], None) is None:
                raise TrpcError("INTERNAL_SERVER_ERROR", "Domain not found")

    # ------------------------------------------------------------------ git keys
    def _generate_key(self, input: dict[str, Any], _raw: Any) -> dict[str, Any]:
        with self._lock:
            service = self._service(input)
            material = secrets.token_urlsafe(48).replace("-", "A").replace("_", "B")
            service.public_key = f"ssh-ed25519 {material} easypanel-{service.project}_{service.name}"
            return {"publicKey": service.public_key}

    def _get_public_key(self, input: dict[str, Any], _raw: Any) -> dict[str, Any]:
        with self._lock:
            service = self._service(input)
            if service.public_key is None:
                raise TrpcError("INTERNAL_SERVER_ERROR", "Key not found")
            return {"publicKey": service.public_key}

    # ------------------------------------------------------------------ deploys and actions
    def _deploy_service(self, input: dict[str, Any], _raw: Any) -> None:
        self.start_deploy(input["projectName"], input["serviceName"])

    def start_deploy(self, project: str, service_name: str) -> str:
        """What deployService (and the deploy webhook) do: a new ``deploy`` action; its id."""
        with self._lock:
            service = self._service({"projectName": project, "serviceName": service_name}, "app")
            self._sequence += 1
            action = _Action(
                id=_new_id(),
                type="deploy",
                project=project,
                service=service_name,
                description=f"Deploy {project}/{service_name}",
                snapshot=copy.deepcopy({k: service.config.get(k) for k in ("source", "build", "env")}),
                sequence=self._sequence,
            )
            action.log.append("Deployment queued")
            self.actions[action.id] = action
        if self.build_mode == "background":
            thread = threading.Thread(target=self._run_to_end, args=(action,), name=f"build-{action.id}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return action.id

    def _run_to_end(self, action: _Action) -> None:
        while not action.finished:
            self._advance(action)

    def _advance(self, action: _Action) -> None:
        """One step of a running action: 0 clones the source, 1 builds and ends it."""
        with self._lock:
            if action.finished or action.busy:
                return
            action.busy = True
            step = action.step
        try:
            if step == 0:
                self._clone(action)
            else:
                self._build(action)
        except Exception as exc:  # noqa: BLE001 - a builder's bug ends the action instead of hanging it
            self._finish(action, False, f"Build crashed: {type(exc).__name__}")
        finally:
            with self._lock:
                action.busy = False
                action.step += 1
                action.updated_at = _now()

    def _log(self, action: _Action, line: str) -> None:
        with self._lock:
            action.log.append(_redact_url(line))

    def _finish(self, action: _Action, ok: bool, line: str) -> None:
        with self._lock:
            action.log.append(_redact_url(line))
            action.status = "done" if ok else "error"
            action.updated_at = _now()

    def _clone(self, action: _Action) -> None:
        source = action.snapshot.get("source")
        if not source:
            self._finish(action, False, "No source configured for this service")
            return
        if source.get("type") == "image":
            self._log(action, f"Pulling image {source.get('image')}")
            return
        if source.get("type") != "git":
            self._finish(action, False, f"Source type {source.get('type')!r} is not emulated (use git)")
            return
        url = source["repo"]
        if self.git_url_rewrite is not None:
            url = self.git_url_rewrite(url)
        target = self.work_dir / action.id / "src"
        target.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
        self._log(action, f"Cloning {source['repo']} at {source['ref']}")
        ok = _run(
            ["git", "clone", "--quiet", "--depth", "1", "--branch", source["ref"], "--", url, str(target)],
            self.work_dir,
            env,
            300,
            lambda line: self._log(action, line),
            echo=False,
        )
        if not ok:  # a commit sha is no --branch: fetch everything and check it out
            shutil.rmtree(target, ignore_errors=True)
            ok = _run(["git", "clone", "--quiet", "--", url, str(target)], self.work_dir, env, 300, lambda line: None)
            ok = ok and _run(["git", "checkout", "--quiet", source["ref"]], target, env, 60, lambda line: None)
        if not ok:
            self._finish(action, False, f"Could not clone {source['repo']} at {source['ref']}")
            return
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=target, capture_output=True, text=True, check=False
        ).stdout.strip()
        with self._lock:
            action.checkout = target
            action.commit = commit or None
        self._log(action, f"Checked out {commit[:12]}")

    def _build(self, action: _Action) -> None:
        source = action.snapshot.get("source") or {}
        if source.get("type") == "image":
            self._succeed(action, None, "Service updated")
            return
        checkout = action.checkout
        assert checkout is not None
        root = (checkout / source.get("path", "/").lstrip("/")).resolve()
        if not root.is_dir() or not root.is_relative_to(checkout.resolve()):
            self._finish(action, False, f"Path {source.get('path')} is not a directory of the repository")
            return
        build = action.snapshot.get("build")
        if isinstance(build, dict) and build.get("type") == "dockerfile":
            dockerfile = build.get("file") or "Dockerfile"
            if not (root / dockerfile).is_file():
                self._finish(action, False, f"failed to read dockerfile: open {dockerfile}: no such file or directory")
                return
            self._log(action, f"Building with {dockerfile}")
        failure = self.faults.take_build_failure()
        if failure is not None:
            self._finish(action, False, failure)
            return
        env = {}
        for line in str(action.snapshot.get("env") or "").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                env[key.strip()] = value
        context = BuildContext(
            project=action.project,
            service=action.service,
            source_dir=root,
            env=env,
            build=build if isinstance(build, dict) else None,
            log=lambda line: self._log(action, line),
        )
        output = self.builder(context)
        if not output.ok:
            self._finish(action, False, f"Build failed{': ' + output.message if output.message else ''}")
            return
        self._succeed(action, output.site_dir, "Deployment done")

    def _succeed(self, action: _Action, site_dir: Path | None, line: str) -> None:
        with self._lock:
            service = self.services.get((action.project, action.service))
            if service is not None:  # destroyed meanwhile: nothing to serve
                service.site_dir = site_dir
                service.deployed_commit = action.commit
        self._finish(action, True, line)

    def _advance_running(self, actions: list[_Action]) -> None:
        if self.build_mode == "poll":
            for action in actions:
                self._advance(action)

    def _list_actions(self, input: dict[str, Any], _raw: Any) -> list[dict[str, Any]]:
        def matching() -> list[_Action]:
            with self._lock:
                found = [
                    a
                    for a in self.actions.values()
                    if input.get("projectName") in (None, a.project)
                    and input.get("serviceName") in (None, a.service)
                    and input.get("type") in (None, a.type)
                ]
            return sorted(found, key=lambda a: a.sequence, reverse=True)[: max(0, int(input["limit"]))]

        self._advance_running([a for a in matching() if not a.finished])
        with self._lock:
            return [a.wire(with_log=False) for a in matching()]

    def _get_action(self, input: dict[str, Any], _raw: Any) -> dict[str, Any]:
        with self._lock:
            action = self.actions.get(input["id"])
        if action is None:
            raise TrpcError("INTERNAL_SERVER_ERROR", "Action not found")
        self._advance_running([action])
        with self._lock:
            return action.wire(with_log=True)

    # ------------------------------------------------------------------ serving deployed apps
    def site_for(self, host: str) -> tuple[Path | None, bool]:
        """(the directory served at ``host``, whether a service owns the host)."""
        host = host.lower().split(":")[0]
        with self._lock:
            domain = next((d for d in self.domains.values() if d.host == host), None)
            if domain is None:
                return None, False
            service = self.services.get((domain.project, domain.service))
            if service is None or not service.enabled:
                return None, True
            return service.site_dir, True

    def serve(self, host: str, path: str) -> Response:
        site, known = self.site_for(host)
        if not known:
            return PlainTextResponse("404 page not found", status_code=404)
        if site is None:
            return PlainTextResponse("Bad Gateway", status_code=502)
        relative = path.lstrip("/")
        if "." not in relative.rsplit("/", 1)[-1]:  # a client-side route: the app's index.html
            return FileResponse(site / "index.html", headers={"Cache-Control": "no-cache"})
        candidate = (site / relative).resolve()
        if not (candidate.is_file() and candidate.is_relative_to(site.resolve())):
            return PlainTextResponse("Not found", status_code=404)
        return FileResponse(candidate)

    # ------------------------------------------------------------------ HTTP
    def asgi_app(self) -> Starlette:
        import anyio.to_thread

        async def trpc(request: Request) -> Response:
            procedure = request.path_params["procedure"]
            if request.query_params.get("batch"):
                status, body = error_envelope(procedure, "BAD_REQUEST", "The emulator does not batch calls")
                return JSONResponse(body, status_code=status)
            try:
                if request.method == "GET":
                    raw = request.query_params.get("input")
                    envelope = json.loads(raw) if raw else None
                else:
                    content = await request.body()
                    envelope = json.loads(content) if content else None
            except ValueError:
                status, body = error_envelope(procedure, "PARSE_ERROR", "Unable to parse the input")
                return JSONResponse(body, status_code=status)
            authorization = request.headers.get("authorization")
            fault = self.faults.take(procedure)
            if fault is not None and fault.kind == "http":
                return Response(fault.body, status_code=fault.status or 502, media_type="text/html")
            if fault is not None and fault.kind == "error":
                status, body = error_envelope(procedure, fault.code, fault.message)
                return JSONResponse(body, status_code=fault.status or status)
            if fault is not None and fault.kind == "timeout":
                if fault.applied:
                    await anyio.to_thread.run_sync(self.handle, procedure, request.method, envelope, authorization)
                await anyio.to_thread.run_sync(self.faults.wait_released)
                status, body = error_envelope(procedure, "TIMEOUT", "Timed out")
                return JSONResponse(body, status_code=504)
            status, body = await anyio.to_thread.run_sync(
                self.handle, procedure, request.method, envelope, authorization
            )
            return JSONResponse(body, status_code=status)

        async def deploy_webhook(request: Request) -> Response:
            token = request.path_params["token"]
            with self._lock:
                service = next((s for s in self.services.values() if s.token == token and s.type == "app"), None)
            if service is None:
                return PlainTextResponse("Not found", status_code=404)
            await anyio.to_thread.run_sync(self.start_deploy, service.project, service.name)
            return PlainTextResponse("Deploying…")

        async def app_by_path(request: Request) -> Response:
            return self.serve(request.path_params["host"], request.path_params.get("path", ""))

        async def app_by_host(request: Request) -> Response:
            return self.serve(request.headers.get("host", ""), request.url.path)

        return Starlette(
            routes=[
                Route("/api/trpc/{procedure}", trpc, methods=["GET", "POST"]),
                Route("/api/deploy/{token}", deploy_webhook, methods=["GET", "POST"]),
                Route("/_apps/{host}", app_by_path),
                Route("/_apps/{host}/{path:path}", app_by_path),
                Route("/{path:path}", app_by_host),
            ]
        )


def _flatten(issues: list[dict[str, Any]]) -> dict[str, Any]:
    """zod's ``error.flatten()``: top-level messages, and messages per first path element."""
    form: list[str] = []
    fields: dict[str, list[str]] = {}
    for issue in issues:
        path = issue.get("path") or []
        if path:
            fields.setdefault(str(path[0]), []).append(str(issue.get("message")))
        else:
            form.append(str(issue.get("message")))
    return {"formErrors": form, "fieldErrors": fields}


# ------------------------------------------------------------------------------- the server
class EasypanelServer(LoopbackServer):
    """The emulator on a loopback port in a thread: ``EasypanelServer(emulator).start()``, ``.url``, ``.stop()``."""

    thread_name = "easypanel-emulator"

    def __init__(self, emulator: EasypanelEmulator | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator or EasypanelEmulator()
        super().__init__(self.emulator.asgi_app, host=host, port=port)
        self.emulator.base_url = self.url

    def stopping(self) -> None:
        self.emulator.faults.release()

    def stopped(self) -> None:
        self.emulator.close()
