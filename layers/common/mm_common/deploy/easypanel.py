"""Easypanel client: the panel's tRPC procedures over httpx, typed results, classified errors.

The wire format (Easypanel 2.16, tRPC with the superjson transformer, never batched here):

* a query is ``GET {panel}/api/trpc/<procedure>?input=<url-encoded {"json": <input>}>``;
* a mutation is ``POST {panel}/api/trpc/<procedure>`` with the body ``{"json": <input>}``;
* success is ``{"result": {"data": {"json": <value>, "meta"?: {...}}}}`` (a batched answer, a list,
  is read at element 0); failure is ``{"error": {"json": {"message", "code", "data": {"code",
  "httpStatus", "path"}}}}``.

Names follow the panel's schema: project and service names match ``^[a-z0-9-_]+$`` (lower case),
database names and users ``^[a-zA-Z][a-zA-Z0-9_]{0,62}$``; :func:`derive_name` and
:func:`database_identifier` make valid ones. Every input this client sends is shaped as the published
schema wants it (Easypanel's zod strips unknown keys without a word, so a misplaced field is silently
lost): a domain made through ``domains.createDomain`` carries its port in ``serviceDestination``, a
build is ``{"build": {"type": "dockerfile", "file": ...}}``, a redeploy is ``deployService``.

Authentication: an API token sent as ``Authorization: Bearer <token>``, or an e-mail and password
that log in with ``auth.login`` (on first use, and once more when the panel answers UNAUTHORIZED).

Errors (``mm_common.deploy.errors``): timeouts, dropped connections, 429, 5xx without a tRPC body and
Easypanel's generic INTERNAL_SERVER_ERROR on a query are :class:`TransientError`; the panel throws
many business refusals ("… already exists", "… not found") as INTERNAL_SERVER_ERROR too, so on a
mutation such a message is a :class:`PermanentError` while any other INTERNAL_SERVER_ERROR stays
transient; every other refusal (BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, …) is
permanent. No message, detail or log line carries the token, the password, a database password,
an environment value or credentials inside a URL.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx

from mm_common.deploy.errors import DeployServiceError, PermanentError, TransientError, is_transient_status
from mm_common.slugs import slugify

SERVICE = "easypanel"
log = logging.getLogger(__name__)

# The schema's own patterns, anchored with \A and \Z ("$" also matches before a trailing newline).
NAME_PATTERN = re.compile(r"\A[a-z0-9\-_]+\Z")
DB_IDENTIFIER_PATTERN = re.compile(r"\A[a-zA-Z][a-zA-Z0-9_]{0,62}\Z")
ENV_KEY_PATTERN = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
HOST_PATTERN = re.compile(
    r"\A(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z"
)
# A service runs as the Docker service "<project>_<service>", which is also its host name on the
# panel's network: two names of at most 30 characters keep that a DNS label (63).
MAX_NAME_LENGTH = 30

DatabaseKind = Literal["postgres", "mariadb"]
DATABASE_KINDS: tuple[DatabaseKind, ...] = ("postgres", "mariadb")
DATABASE_PORTS: dict[str, int] = {"postgres": 5432, "mariadb": 3306}
DATABASE_SCHEMES: dict[str, str] = {"postgres": "postgres", "mariadb": "mysql"}

# tRPC's JSON-RPC codes (@trpc/server TRPC_ERROR_CODES_BY_KEY), for an error body without data.code.
TRPC_CODES_BY_NUMBER: dict[int, str] = {
    -32700: "PARSE_ERROR",
    -32600: "BAD_REQUEST",
    -32603: "INTERNAL_SERVER_ERROR",
    -32001: "UNAUTHORIZED",
    -32003: "FORBIDDEN",
    -32004: "NOT_FOUND",
    -32005: "METHOD_NOT_SUPPORTED",
    -32008: "TIMEOUT",
    -32009: "CONFLICT",
    -32012: "PRECONDITION_FAILED",
    -32013: "PAYLOAD_TOO_LARGE",
    -32022: "UNPROCESSABLE_CONTENT",
    -32029: "TOO_MANY_REQUESTS",
    -32099: "CLIENT_CLOSED_REQUEST",
}
TRANSIENT_TRPC_CODES = frozenset({"TIMEOUT", "TOO_MANY_REQUESTS", "CLIENT_CLOSED_REQUEST"})
# Business refusals Easypanel throws as a generic INTERNAL_SERVER_ERROR: retrying cannot help.
REFUSAL_MESSAGE = re.compile(r"already exists|not found|does not exist|doesn't exist|invalid|not allowed", re.I)
ALREADY_EXISTS_MESSAGE = re.compile(r"already exists", re.I)
SECRET_KEYS = frozenset({"password", "rootPassword", "token", "secret", "apiKey"})
URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
MIN_SECRET_LENGTH = 4
ACTION_FINAL_STATUSES = frozenset({"done", "error"})


# ----------------------------------------------------------------------------------------- names
def is_valid_name(name: str) -> bool:
    """A project or service name the panel accepts."""
    return bool(NAME_PATTERN.fullmatch(name))


def derive_name(*parts: str, max_length: int = MAX_NAME_LENGTH, fallback: str = "app") -> str:
    """A valid project or service name from free text: ("Kunthawat", "My Shop") -> "kunthawat-my-shop"."""
    joined = "-".join(part for part in parts if part)
    name = slugify(joined, fallback=fallback)[:max_length].strip("-")
    return name or fallback


def with_suffix(name: str, suffix: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """``name`` + ``suffix`` ("-db", "-2"), the name shortened so the whole stays within ``max_length``."""
    base = name[: max(1, max_length - len(suffix))].rstrip("-_")
    return f"{base}{suffix}"


def unique_name(base: str, taken: Callable[[str], bool], max_length: int = MAX_NAME_LENGTH) -> str:
    """The first of base, base-2, base-3, ... that ``taken`` says is free."""
    if not taken(base):
        return base
    n = 2
    while taken(candidate := with_suffix(base, f"-{n}", max_length)):
        n += 1
    return candidate


def database_identifier(text: str, fallback: str = "app") -> str:
    """A database name or user the panel accepts: a letter first, then letters, digits, underscores."""
    identifier = re.sub(r"[^a-zA-Z0-9_]+", "_", slugify(text, fallback=fallback).replace("-", "_")).strip("_")
    if not identifier or not identifier[0].isalpha():
        identifier = f"{fallback}_{identifier}".rstrip("_")
    return identifier[:63]


def check_name(name: str, what: str = "name") -> str:
    if not is_valid_name(name):
        raise PermanentError(
            f"Easypanel {what} {name!r} is not valid: use lower-case letters, digits, '-' and '_'", service=SERVICE
        )
    return name


def check_database_identifier(value: str, what: str) -> str:
    if not DB_IDENTIFIER_PATTERN.fullmatch(value):
        raise PermanentError(
            f"Easypanel {what} {value!r} is not valid: a letter, then letters, digits and '_' (at most 63)",
            service=SERVICE,
        )
    return value


# ------------------------------------------------------------------------------------------- env
def format_env(variables: Mapping[str, str]) -> str:
    """The panel's env text, one ``KEY=value`` a line. A key must be a shell name and a value a single line."""
    lines = []
    for key, value in variables.items():
        if not ENV_KEY_PATTERN.fullmatch(key):
            raise PermanentError(f"environment variable name {key!r} is not valid", service=SERVICE)
        if "\n" in value or "\r" in value:
            raise PermanentError(f"environment variable {key} holds a line break", service=SERVICE)
        lines.append(f"{key}={value}")
    return "\n".join(lines)


def parse_env(text: str) -> dict[str, str]:
    """``KEY=value`` lines to a dict (blank lines and ``#`` comments skipped)."""
    variables: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        variables[key.strip()] = value
    return variables


# ----------------------------------------------------------------------------------------- results
def _text(data: Mapping[str, Any], *keys: str, default: str = "") -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str):
            return value
    return default


def _flag(data: Mapping[str, Any], key: str, default: bool = True) -> bool:
    value = data.get(key)
    return value if isinstance(value, bool) else default


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PermanentError(f"Easypanel answered {what} with an unexpected shape", service=SERVICE)
    return value


def _objects(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise PermanentError(f"Easypanel answered {what} with an unexpected shape", service=SERVICE)
    return [item for item in value if isinstance(item, dict)]


@dataclass(frozen=True)
class Project:
    name: str
    created_at: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Project:
        return cls(name=_text(data, "name", "projectName"), created_at=_text(data, "createdAt"))


@dataclass(frozen=True)
class ServiceSummary:
    project_name: str
    name: str
    type: str
    enabled: bool = True

    @classmethod
    def parse(cls, data: Mapping[str, Any], project_name: str = "") -> ServiceSummary:
        return cls(
            project_name=_text(data, "projectName", default=project_name),
            name=_text(data, "name", "serviceName"),  # both spellings occur
            type=_text(data, "type"),
            enabled=_flag(data, "enabled"),
        )


@dataclass(frozen=True)
class ProjectsAndServices:
    projects: list[Project]
    services: list[ServiceSummary]

    def project(self, name: str) -> Project | None:
        return next((p for p in self.projects if p.name == name), None)

    def service(self, project_name: str, service_name: str) -> ServiceSummary | None:
        return next((s for s in self.services if s.project_name == project_name and s.name == service_name), None)


@dataclass(frozen=True)
class DatabaseService:
    """A postgres or mariadb service with the credentials the panel really uses (read back, not assumed)."""

    project_name: str
    name: str
    type: str
    enabled: bool
    image: str
    database_name: str
    user: str
    password: str = field(repr=False)
    root_password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, data: Mapping[str, Any], kind: str) -> DatabaseService:
        root = data.get("rootPassword")
        return cls(
            project_name=_text(data, "projectName"),
            name=_text(data, "name", "serviceName"),
            type=_text(data, "type", default=kind),
            enabled=_flag(data, "enabled"),
            image=_text(data, "image"),
            database_name=_text(data, "databaseName"),
            user=_text(data, "user"),
            password=_text(data, "password"),
            root_password=root if isinstance(root, str) else None,
        )

    @property
    def internal_host(self) -> str:
        """The service's host name on the panel's Docker network."""
        return f"{self.project_name}_{self.name}"

    @property
    def port(self) -> int:
        return DATABASE_PORTS.get(self.type, 5432)

    def connection_url(self) -> str:
        """``postgres://user:pass@<project>_<service>:5432/<db>`` (``mysql://…:3306`` for mariadb)."""
        scheme = DATABASE_SCHEMES.get(self.type, self.type)
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"{scheme}://{credentials}@{self.internal_host}:{self.port}/{quote(self.database_name, safe='')}"


@dataclass(frozen=True)
class AppService:
    project_name: str
    name: str
    enabled: bool
    source: dict[str, Any] | None
    build: dict[str, Any] | None
    env: str = field(repr=False)
    primary_domain_id: str | None = None
    deploy_token: str = field(default="", repr=False)
    deployment_url: str = field(default="", repr=False)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> AppService:
        primary = data.get("primaryDomainId")
        return cls(
            project_name=_text(data, "projectName"),
            name=_text(data, "name", "serviceName"),
            enabled=_flag(data, "enabled"),
            source=_dict(data.get("source")),
            build=_dict(data.get("build")),
            env=_text(data, "env"),
            primary_domain_id=primary if isinstance(primary, str) else None,
            deploy_token=_text(data, "token"),
            deployment_url=_text(data, "deploymentUrl"),
        )

    @property
    def env_vars(self) -> dict[str, str]:
        return parse_env(self.env)


@dataclass(frozen=True)
class Domain:
    id: str
    host: str
    https: bool
    path: str
    port: int | None
    project_name: str = ""
    service_name: str = ""

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Domain:
        # domains.* (2.16) keeps the target in serviceDestination; the older createService shape
        # has the port at the top.
        destination = _dict(data.get("serviceDestination")) or {}
        port = destination.get("port", data.get("port"))
        return cls(
            id=_text(data, "id"),
            host=_text(data, "host"),
            https=_flag(data, "https"),
            path=_text(data, "path", default="/"),
            port=int(port) if isinstance(port, int | float) and not isinstance(port, bool) else None,
            project_name=_text(destination, "projectName", default=_text(data, "projectName")),
            service_name=_text(destination, "serviceName", default=_text(data, "serviceName")),
        )

    @property
    def url(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.host}{self.path or '/'}"


@dataclass(frozen=True)
class Action:
    """A panel action (a deploy, …): ``running`` until ``done`` or ``error``; ``log`` from getAction only."""

    id: str
    type: str
    status: str
    project_name: str = ""
    service_name: str = ""
    description: str = ""
    created_at: str = ""
    updated_at: str = ""
    log: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Action:
        log_text = data.get("log")
        return cls(
            id=_text(data, "id"),
            type=_text(data, "type"),
            status=_text(data, "status"),
            project_name=_text(data, "projectName"),
            service_name=_text(data, "serviceName"),
            description=_text(data, "description"),
            created_at=_text(data, "createdAt"),
            updated_at=_text(data, "updatedAt"),
            log=log_text if isinstance(log_text, str) else None,
        )

    @property
    def finished(self) -> bool:
        return self.status in ACTION_FINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "done"

    @property
    def failed(self) -> bool:
        return self.status == "error"


# ------------------------------------------------------------------------------------------ errors
def is_already_exists(error: DeployServiceError) -> bool:
    """The panel refused a create because the thing exists (its generic INTERNAL_SERVER_ERROR, or CONFLICT)."""
    return bool(ALREADY_EXISTS_MESSAGE.search(error.detail)) or "CONFLICT" in error.message


def redact(text: str, secret_values: Iterable[str]) -> str:
    """``text`` with every secret value and any credentials inside a URL replaced by ``***``."""
    for value in sorted({v for v in secret_values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(value, "***")
    return URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}***@", text)


def secrets_in(value: Any) -> list[str]:
    """Every secret an input carries: passwords and tokens, env values, credentials inside URLs."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SECRET_KEYS and isinstance(item, str):
                found.append(item)
            elif key == "env" and isinstance(item, str):
                found.extend(parse_env(item).values())
            else:
                found.extend(secrets_in(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(secrets_in(item))
    elif isinstance(value, str):
        match = re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://([^/@\s]+)@", value)
        if match:
            found.extend(part for part in match.group(1).split(":") if part)
    return found


def _summarise(message: str) -> str:
    """A zod refusal's message is the JSON of its issues: "path: message; …". Other text as it is."""
    try:
        issues = json.loads(message)
    except ValueError:
        return message
    if not isinstance(issues, list):
        return message
    parts = []
    for issue in issues:
        if isinstance(issue, dict):
            path = ".".join(str(p) for p in issue.get("path", [])) or "(input)"
            parts.append(f"{path}: {issue.get('message', 'invalid')}")
    return "; ".join(parts) or message


@dataclass(frozen=True)
class _Failure:
    code: str | None
    status: int
    message: str


# ------------------------------------------------------------------------------------------ client
class EasypanelClient:
    """The procedures the deploy flow uses. One instance per invocation; not shared between threads.

    ``url`` is the panel's root (``https://panel.example.com``; the client adds ``/api/trpc``).
    Give ``token`` (an API token), or ``email`` + ``password`` (logs in with ``auth.login``; with a
    token as well, they are the fallback when the token is refused). ``transport`` replaces httpx's
    network transport (tests).
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        email: str | None = None,
        password: str | None = None,
        timeout_s: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token and not (email and password):
            raise ValueError("Easypanel needs an API token, or an e-mail and a password")
        self.url = url.rstrip("/")
        self._token = token or None
        self._email = email or None
        self._password = password or None
        self._session_token: str | None = None
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s), transport=transport, follow_redirects=False)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EasypanelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def query(self, procedure: str, input: Any = None) -> Any:
        """A tRPC query (GET); the procedure's ``json`` result."""
        return self._call(procedure, "query", input)

    def mutate(self, procedure: str, input: Any = None) -> Any:
        """A tRPC mutation (POST); the procedure's ``json`` result (None for a void one)."""
        return self._call(procedure, "mutation", input)

    def _secrets(self, input: Any) -> list[str]:
        known = [self._token, self._password, self._session_token]
        return [s for s in known if s] + secrets_in(input)

    def _call(self, procedure: str, kind: str, input: Any) -> Any:
        relogged = False
        while True:
            if self._token is None and self._session_token is None:
                self._login()
            bearer = self._session_token or self._token
            response = self._send(procedure, kind, input, bearer)
            payload = self._payload(response)
            failure = self._failure(response, payload)
            if failure is None:
                return self._result(procedure, payload)
            if failure.code == "UNAUTHORIZED" and self._can_login() and not relogged:
                # A session ends (or a token is revoked): log in once more and repeat the call.
                log.info("easypanel %s: unauthorized, logging in again", procedure)
                self._token = None
                self._session_token = None
                relogged = True
                continue
            raise self._error(procedure, kind, failure, input)

    def _can_login(self) -> bool:
        return bool(self._email and self._password)

    def _login(self) -> None:
        if not self._can_login():
            raise PermanentError("Easypanel has no credentials to log in with", service=SERVICE)
        body = {"email": self._email, "password": self._password}
        response = self._send("auth.login", "mutation", body, None)
        payload = self._payload(response)
        failure = self._failure(response, payload)
        if failure is not None:
            if failure.code in ("UNAUTHORIZED", "BAD_REQUEST", "FORBIDDEN"):
                raise PermanentError(
                    f"Easypanel refused the login ({failure.code})", service=SERVICE, status=failure.status
                )
            raise self._error("auth.login", "mutation", failure, body)
        result = self._result("auth.login", payload)
        token = result.get("token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise PermanentError("Easypanel's auth.login answered without a token", service=SERVICE)
        self._session_token = token

    def _send(self, procedure: str, kind: str, input: Any, bearer: str | None) -> httpx.Response:
        url = f"{self.url}/api/trpc/{procedure}"
        headers = {"Accept": "application/json"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        started = time.perf_counter()
        try:
            if kind == "query":
                encoded = json.dumps({"json": input}, separators=(",", ":"))
                response = self._http.get(url, params={"input": encoded}, headers=headers)
            else:
                response = self._http.post(url, json={"json": input}, headers=headers)
        except httpx.TimeoutException as exc:
            log.warning("easypanel %s: timed out", procedure)
            raise TransientError(f"Easypanel {procedure}: timed out", service=SERVICE) from exc
        except httpx.TransportError as exc:
            log.warning("easypanel %s: connection failed (%s)", procedure, type(exc).__name__)
            raise TransientError(
                f"Easypanel {procedure}: connection failed ({type(exc).__name__})", service=SERVICE
            ) from exc
        log.debug(
            "easypanel %s: HTTP %s in %.0f ms", procedure, response.status_code, (time.perf_counter() - started) * 1000
        )
        return response

    @staticmethod
    def _payload(response: httpx.Response) -> Any:
        try:
            payload = response.json()
        except ValueError:
            return None
        if isinstance(payload, list):  # a batched answer (?batch=1): one element per call
            payload = payload[0] if payload else None
        return payload

    @staticmethod
    def _failure(response: httpx.Response, payload: Any) -> _Failure | None:
        error = payload.get("error") if isinstance(payload, dict) else None
        if error is None:
            if response.is_success and isinstance(payload, dict):
                return None
            return _Failure(code=None, status=response.status_code, message=response.text[:300])
        body = error.get("json", error) if isinstance(error, dict) else {}
        body = body if isinstance(body, dict) else {}
        raw_data = body.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        code = data.get("code")
        if not isinstance(code, str):
            number = body.get("code")
            code = TRPC_CODES_BY_NUMBER.get(number) if isinstance(number, int) else None
        status = data.get("httpStatus")
        message = body.get("message")
        return _Failure(
            code=code,
            status=status if isinstance(status, int) else response.status_code,
            message=message if isinstance(message, str) else "",
        )

    @staticmethod
    def _result(procedure: str, payload: Any) -> Any:
        result = payload.get("result") if isinstance(payload, dict) else None
        data = result.get("data") if isinstance(result, dict) else None
        if not isinstance(data, dict):
            raise PermanentError(f"Easypanel {procedure}: the answer is not a tRPC result", service=SERVICE)
        return data.get("json")

    def _error(self, procedure: str, kind: str, failure: _Failure, input: Any) -> DeployServiceError:
        detail = redact(_summarise(failure.message), self._secrets(input))
        if failure.code is None:
            transient = is_transient_status(failure.status)
            label = f"HTTP {failure.status}"
            detail = redact(failure.message, self._secrets(input)) if transient else detail
        else:
            label = f"{failure.code} (HTTP {failure.status})"
            if failure.code in TRANSIENT_TRPC_CODES:
                transient = True
            elif failure.code == "INTERNAL_SERVER_ERROR":
                # Easypanel's catch-all: on a read, worth another try; on a write, unless it is a refusal.
                transient = kind == "query" or not REFUSAL_MESSAGE.search(failure.message)
            else:
                transient = False
        short = detail if len(detail) <= 200 else detail[:199] + "…"
        message = f"Easypanel {procedure}: {label}" + (f": {short}" if short else "")
        log.warning("easypanel call failed: %s", message)
        error_type = TransientError if transient else PermanentError
        return error_type(message, service=SERVICE, status=failure.status, detail=detail)

    # ------------------------------------------------------------------ panel
    def panel_version(self) -> str:
        status = self.query("update.getStatus")
        return _text(status, "version") if isinstance(status, dict) else ""

    # ------------------------------------------------------------------ projects
    def list_projects(self) -> list[Project]:
        return [Project.parse(p) for p in _objects(self.query("projects.listProjects"), "listProjects")]

    def list_projects_and_services(self) -> ProjectsAndServices:
        data = _object(self.query("projects.listProjectsAndServices"), "listProjectsAndServices")
        return ProjectsAndServices(
            projects=[Project.parse(p) for p in _objects(data.get("projects", []), "projects")],
            services=[ServiceSummary.parse(s) for s in _objects(data.get("services", []), "services")],
        )

    def inspect_project(self, name: str) -> ProjectsAndServices:
        """The project and its services. A missing project is Easypanel's generic (transient) error:
        look projects up with :meth:`find_project` first."""
        data = _object(self.query("projects.inspectProject", {"projectName": check_name(name)}), "inspectProject")
        project = Project.parse(_object(data.get("project", {}), "inspectProject.project"))
        services = [ServiceSummary.parse(s, project.name) for s in _objects(data.get("services", []), "services")]
        return ProjectsAndServices(projects=[project], services=services)

    def find_project(self, name: str) -> Project | None:
        return next((p for p in self.list_projects() if p.name == name), None)

    def create_project(self, name: str) -> Project:
        result = self.mutate("projects.createProject", {"name": check_name(name, "project name")})
        return Project.parse(result) if isinstance(result, dict) else Project(name=name)

    def ensure_project(self, name: str) -> Project:
        """The project, created when missing (looked up first; a create that loses a race is fine)."""
        existing = self.find_project(check_name(name, "project name"))
        if existing is not None:
            return existing
        try:
            return self.create_project(name)
        except PermanentError as error:
            if is_already_exists(error) and (again := self.find_project(name)) is not None:
                return again
            raise

    def destroy_project(self, name: str) -> None:
        self.mutate("projects.destroyProject", {"name": check_name(name, "project name")})

    def find_service(self, project: str, service: str) -> ServiceSummary | None:
        """A service by name, whatever its type; None when it (or its project) does not exist."""
        return self.list_projects_and_services().service(project, service)

    @staticmethod
    def _select(project: str, service: str) -> dict[str, Any]:
        return {"projectName": check_name(project, "project name"), "serviceName": check_name(service, "service name")}

    # ------------------------------------------------------------------ databases
    def create_database(
        self,
        kind: DatabaseKind,
        project: str,
        service: str,
        *,
        database_name: str | None = None,
        user: str | None = None,
        password: str | None = None,
        root_password: str | None = None,
        image: str | None = None,
    ) -> DatabaseService:
        """``services.<kind>.createService``; the credentials are read back with inspectService."""
        body = self._select(project, service)
        if database_name is not None:
            body["databaseName"] = check_database_identifier(database_name, "database name")
        if user is not None:
            body["user"] = check_database_identifier(user, "database user")
        if password is not None:
            body["password"] = password
        if root_password is not None and kind == "mariadb":
            body["rootPassword"] = root_password
        if image is not None:
            body["image"] = image
        self.mutate(f"services.{_kind(kind)}.createService", body)
        return self.inspect_database(kind, project, service)

    def inspect_database(self, kind: DatabaseKind, project: str, service: str) -> DatabaseService:
        data = self.query(f"services.{_kind(kind)}.inspectService", self._select(project, service))
        parsed = DatabaseService.parse(_object(data, f"{kind}.inspectService"), kind)
        # Some answers leave the names out; they are the ones asked for.
        return DatabaseService(
            project_name=parsed.project_name or project,
            name=parsed.name or service,
            type=parsed.type,
            enabled=parsed.enabled,
            image=parsed.image,
            database_name=parsed.database_name,
            user=parsed.user,
            password=parsed.password,
            root_password=parsed.root_password,
        )

    def ensure_database(
        self,
        kind: DatabaseKind,
        project: str,
        service: str,
        *,
        database_name: str | None = None,
        user: str | None = None,
        password: str | None = None,
        root_password: str | None = None,
    ) -> DatabaseService:
        """The database service, created when missing; an existing one keeps its own credentials
        (the answer carries them). A service of that name but another type is refused."""
        existing = self.find_service(project, service)
        if existing is not None:
            if existing.type != kind:
                raise PermanentError(
                    f"Easypanel service {project}/{service} exists as {existing.type!r}, not {kind!r}",
                    service=SERVICE,
                )
            return self.inspect_database(kind, project, service)
        secret = password or secrets.token_urlsafe(24)
        try:
            return self.create_database(
                kind,
                project,
                service,
                database_name=database_name,
                user=user,
                password=secret,
                root_password=(root_password or secrets.token_urlsafe(24)) if kind == "mariadb" else None,
            )
        except PermanentError as error:
            if is_already_exists(error):
                return self.inspect_database(kind, project, service)
            raise

    def enable_database(self, kind: DatabaseKind, project: str, service: str) -> None:
        self.mutate(f"services.{_kind(kind)}.enableService", self._select(project, service))

    def disable_database(self, kind: DatabaseKind, project: str, service: str) -> None:
        self.mutate(f"services.{_kind(kind)}.disableService", self._select(project, service))

    def destroy_database(self, kind: DatabaseKind, project: str, service: str) -> None:
        self.mutate(f"services.{_kind(kind)}.destroyService", self._select(project, service))

    # ------------------------------------------------------------------ apps
    def create_app(self, project: str, service: str) -> AppService:
        """An app service with nothing configured yet (source, build and env come with the update calls)."""
        self.mutate("services.app.createService", self._select(project, service))
        return self.inspect_app(project, service)

    def inspect_app(self, project: str, service: str) -> AppService:
        data = _object(self.query("services.app.inspectService", self._select(project, service)), "inspectService")
        app = AppService.parse(data)
        if not app.project_name or not app.name:
            app = AppService(
                project_name=app.project_name or project,
                name=app.name or service,
                enabled=app.enabled,
                source=app.source,
                build=app.build,
                env=app.env,
                primary_domain_id=app.primary_domain_id,
                deploy_token=app.deploy_token,
                deployment_url=app.deployment_url,
            )
        return app

    def ensure_app(self, project: str, service: str) -> AppService:
        """The app service, created when missing. A service of that name but another type is refused."""
        existing = self.find_service(project, service)
        if existing is not None:
            if existing.type != "app":
                raise PermanentError(
                    f"Easypanel service {project}/{service} exists as {existing.type!r}, not an app", service=SERVICE
                )
            return self.inspect_app(project, service)
        try:
            return self.create_app(project, service)
        except PermanentError as error:
            if is_already_exists(error):
                return self.inspect_app(project, service)
            raise

    def update_source_git(self, project: str, service: str, *, repo: str, ref: str = "main", path: str = "/") -> None:
        """Build from a git repository (``repo`` a clone URL: ssh with a deploy key, or https)."""
        if not path.startswith("/"):
            raise PermanentError("Easypanel source path must start with '/'", service=SERVICE)
        if not repo or not ref:
            raise PermanentError("Easypanel git source needs a repository and a ref", service=SERVICE)
        body = {**self._select(project, service), "repo": repo, "ref": ref, "path": path}
        self.mutate("services.app.updateSourceGit", body)

    def update_build_dockerfile(self, project: str, service: str, *, file: str = "Dockerfile") -> None:
        """Build with the repository's Dockerfile (the nested ``build`` object the schema wants)."""
        body = {**self._select(project, service), "build": {"type": "dockerfile", "file": file}}
        self.mutate("services.app.updateBuild", body)

    def update_env(
        self, project: str, service: str, env: Mapping[str, str] | str, *, create_dot_env: bool | None = None
    ) -> None:
        """Replace the service's whole environment (the panel keeps one text, used at build and run time)."""
        text = env if isinstance(env, str) else format_env(env)
        body: dict[str, Any] = {**self._select(project, service), "env": text}
        if create_dot_env is not None:
            body["createDotEnv"] = create_dot_env
        self.mutate("services.app.updateEnv", body)

    def deploy_service(self, project: str, service: str, *, force_rebuild: bool = False) -> None:
        """Build and (re)deploy the service from its source: ``deployService`` (``updateDeploy`` only
        saves settings). The build runs as a panel action; see :meth:`latest_action`."""
        self.mutate("services.app.deployService", {**self._select(project, service), "forceRebuild": force_rebuild})

    def deploy(self, project: str, service: str, *, force_rebuild: bool = False) -> Action | None:
        """:meth:`deploy_service`, then the action it started when the panel lists it already (None
        otherwise: poll :meth:`latest_action` with ``exclude`` = the ids listed before)."""
        before = {a.id for a in self.list_actions(project, service)}
        self.deploy_service(project, service, force_rebuild=force_rebuild)
        return self.latest_action(project, service, exclude=before)

    def start_app(self, project: str, service: str) -> None:
        self.mutate("services.app.startService", self._select(project, service))

    def stop_app(self, project: str, service: str) -> None:
        self.mutate("services.app.stopService", self._select(project, service))

    def restart_app(self, project: str, service: str) -> None:
        self.mutate("services.app.restartService", self._select(project, service))

    def destroy_app(self, project: str, service: str) -> None:
        self.mutate("services.app.destroyService", self._select(project, service))

    # ------------------------------------------------------------------ domains
    def list_domains(self, project: str, service: str) -> list[Domain]:
        data = self.query("domains.listDomains", self._select(project, service))
        return [Domain.parse(d) for d in _objects(data, "listDomains")]

    def create_domain(
        self,
        project: str,
        service: str,
        *,
        host: str,
        port: int,
        https: bool = True,
        path: str = "/",
        certificate_resolver: str = "",
    ) -> Domain:
        """``domains.createDomain``: the port belongs inside ``serviceDestination`` (a port at the top
        is stripped and the panel falls back to 80)."""
        body = self._domain_body(project, service, host=host, port=port, https=https, path=path)
        body["id"] = secrets.token_hex(10)
        body["certificateResolver"] = certificate_resolver
        result = self.mutate("domains.createDomain", body)
        if isinstance(result, dict) and result.get("host"):
            return Domain.parse(result)
        found = next((d for d in self.list_domains(project, service) if d.host == body["host"]), None)
        if found is None:
            raise TransientError(f"Easypanel domain {body['host']} is not listed after its creation", service=SERVICE)
        return found

    def update_domain(
        self, domain: Domain, *, port: int, https: bool = True, path: str = "/", certificate_resolver: str = ""
    ) -> None:
        body = self._domain_body(
            domain.project_name, domain.service_name, host=domain.host, port=port, https=https, path=path
        )
        body["id"] = domain.id
        body["certificateResolver"] = certificate_resolver
        self.mutate("domains.updateDomain", body)

    def ensure_domain(self, project: str, service: str, *, host: str, port: int, https: bool = True) -> Domain:
        """The service's domain for ``host`` on ``port``: reused when it exists, its port corrected."""
        wanted = host.lower()
        for domain in self.list_domains(project, service):
            if domain.host.lower() == wanted:
                if domain.port != port or domain.https != https:
                    self.update_domain(domain, port=port, https=https, path=domain.path or "/")
                    return Domain(domain.id, domain.host, https, domain.path, port, project, service)
                return domain
        return self.create_domain(project, service, host=wanted, port=port, https=https)

    def delete_domain(self, domain_id: str) -> None:
        self.mutate("domains.deleteDomain", {"id": domain_id})

    def _domain_body(
        self, project: str, service: str, *, host: str, port: int, https: bool, path: str
    ) -> dict[str, Any]:
        host = host.strip().lower()
        if not HOST_PATTERN.fullmatch(host):
            raise PermanentError(f"{host!r} is not a valid host name", service=SERVICE)
        if not 0 < port < 65536:
            raise PermanentError(f"port {port} is out of range", service=SERVICE)
        select = self._select(project, service)
        return {
            "host": host,
            "https": https,
            "path": path,
            "middlewares": [],
            "wildcard": False,
            "destinationType": "service",
            "serviceDestination": {"protocol": "http", "port": port, "path": "/", **select},
        }

    # ------------------------------------------------------------------ git
    def generate_deploy_key(self, project: str, service: str) -> str:
        """A fresh SSH key pair for the service's git source; the public key (to add, read-only, to
        the repository). ``git.generateKey`` replaces any earlier key of the service."""
        return _public_key(self.mutate("git.generateKey", self._select(project, service)))

    def public_key(self, project: str, service: str) -> str:
        return _public_key(self.query("git.getPublicKey", self._select(project, service)))

    # ------------------------------------------------------------------ actions
    def list_actions(
        self, project: str | None = None, service: str | None = None, *, type: str | None = None, limit: int = 8
    ) -> list[Action]:
        """Newest first, without logs."""
        body: dict[str, Any] = {"limit": limit}
        if project is not None:
            body["projectName"] = check_name(project, "project name")
        if service is not None:
            body["serviceName"] = check_name(service, "service name")
        if type is not None:
            body["type"] = type
        return [Action.parse(a) for a in _objects(self.query("actions.listActions", body), "listActions")]

    def get_action(self, action_id: str) -> Action:
        """One action with its log."""
        return Action.parse(_object(self.query("actions.getAction", {"id": action_id}), "getAction"))

    def latest_action(
        self, project: str, service: str, *, type: str | None = None, exclude: Collection[str] = ()
    ) -> Action | None:
        """The service's newest action whose id is not in ``exclude``, or None."""
        for action in self.list_actions(project, service, type=type):
            if action.id not in exclude:
                return action
        return None


def _kind(kind: str) -> str:
    if kind not in DATABASE_KINDS:
        raise PermanentError(f"unknown database kind {kind!r}", service=SERVICE)
    return kind


def _public_key(result: Any) -> str:
    if isinstance(result, str):
        return result.strip()
    if isinstance(result, dict):
        key = _text(result, "publicKey", "public_key", "key")
        if key:
            return key.strip()
    raise PermanentError("Easypanel answered without a public key", service=SERVICE)
