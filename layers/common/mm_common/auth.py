"""Who is calling, and may they: the FastAPI dependency every route declares.

``require(Action.X)`` authenticates (unless the action is public), applies the per-user API
rate limit, and for organization-scoped actions resolves the organization and checks the
caller's membership against :data:`mm_common.permissions.PERMISSIONS`.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from mm_common import db, ratelimit
from mm_common.audit import RequestMeta
from mm_common.config import get_settings
from mm_common.errors import Forbidden, NotFound, Unauthorized, Unprocessable
from mm_common.permissions import (
    PERMISSIONS,
    Action,
    GlobalRole,
    Scope,
    allowed_globally,
    allowed_in_organization,
    sees_organization,
)
from mm_common.tokens import decode_access_token

# Resolves the organization a request is about (from a path parameter, a project, the body...).
# Synchronous resolvers run inside the authorization's one transaction (they may query);
# async ones, which need the request body, on the event loop.
OrganizationResolver = (
    Callable[[Request, db.Connection], uuid.UUID | None] | Callable[[Request], Awaitable[uuid.UUID | None]]
)


@dataclass
class Membership:
    organization_id: uuid.UUID
    member_id: uuid.UUID | None
    role: str | None
    permissions: frozenset[str] = field(default_factory=frozenset)
    suspended: bool = False


@dataclass
class Caller:
    user_id: uuid.UUID | None
    email: str | None = None
    role: str | None = None
    full_name: str | None = None
    meta: RequestMeta = field(default_factory=lambda: RequestMeta(None, None))
    membership: Membership | None = None
    session_id: uuid.UUID | None = None
    token_version: int = 0

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_platform_admin(self) -> bool:
        return self.role == GlobalRole.ADMIN

    def may(self, action: Action) -> bool:
        """Whether the permission table lets this caller do ``action``: the one question every
        permission decision asks (in the current organization for organization-scoped actions)."""
        if self.role is None:
            return False
        rule = PERMISSIONS[action]
        if rule.scope is not Scope.ORGANIZATION:
            return allowed_globally(rule, self.role)
        assert self.membership is not None, "organization-scoped actions need the organization"
        return allowed_in_organization(rule, self.role, self.membership.role, self.membership.permissions)

    def ensure(self, action: Action, message: str, *, code: str = "forbidden") -> None:
        """Raise 403 with ``message`` unless the caller may do ``action``."""
        if not self.may(action):
            raise Forbidden(message, code=code, details={"action": action.value})

    @property
    def organization_id(self) -> uuid.UUID:
        assert self.membership is not None, "only organization-scoped routes have an organization"
        return self.membership.organization_id


def request_meta(request: Request) -> RequestMeta:
    return RequestMeta(
        ip_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def parse_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def organization_from_path(name: str = "id") -> OrganizationResolver:
    def resolve(request: Request, conn: db.Connection) -> uuid.UUID | None:
        return parse_uuid(request.path_params.get(name))

    return resolve


def organization_from_query(name: str = "organizationId") -> OrganizationResolver:
    """The organization named in the query string (e.g. reading its subscription)."""

    def resolve(request: Request, conn: db.Connection) -> uuid.UUID | None:
        value = parse_uuid(request.query_params.get(name))
        if value is None:
            message = f"Say which organization this is for: '{name}' must be an organization's id."
            raise Unprocessable(message, details=[{"field": name, "in": "query", "message": message}])
        return value

    return resolve


def organization_from_body(field: str = "organizationId") -> OrganizationResolver:
    """The organization named in the JSON body (e.g. creating a project in it)."""

    async def resolve(request: Request) -> uuid.UUID | None:
        try:
            body = await request.json()
        except ValueError:
            body = None
        value = parse_uuid(body.get(field)) if isinstance(body, dict) else None
        if value is None:
            message = f"Say which organization this is for: '{field}' must be an organization's id."
            raise Unprocessable(message, details=[{"field": field, "in": "body", "message": message}])
        return value

    return resolve


def _owner_of(sql: str, name: str) -> OrganizationResolver:
    def resolve(request: Request, conn: db.Connection) -> uuid.UUID | None:
        resource_id = parse_uuid(request.path_params.get(name))
        if resource_id is None:
            return None
        row = conn.execute(sql, (resource_id,)).fetchone()
        return row["organization_id"] if row else None

    return resolve


def organization_from_project(name: str = "id") -> OrganizationResolver:
    """The organization of the project in the path (deleted projects do not exist)."""
    return _owner_of("SELECT organization_id FROM projects WHERE id = %s AND deleted_at IS NULL", name)


def organization_from_import(name: str = "id") -> OrganizationResolver:
    """The organization an import (from the desktop app) in the path brings projects into."""
    return _owner_of("SELECT organization_id FROM imports WHERE id = %s", name)


def organization_from_job(name: str = "id") -> OrganizationResolver:
    """The organization of the generation job in the path."""
    return _owner_of(
        "SELECT j.organization_id FROM generation_jobs j JOIN projects p ON p.id = j.project_id"
        " WHERE j.id = %s AND p.deleted_at IS NULL",
        name,
    )


def organization_from_message(name: str = "id") -> OrganizationResolver:
    """The organization of the chat message in the path."""
    return _owner_of(
        "SELECT p.organization_id FROM messages m JOIN chats c ON c.id = m.chat_id"
        " JOIN projects p ON p.id = c.project_id WHERE m.id = %s AND p.deleted_at IS NULL",
        name,
    )


def organization_from_deployment(name: str = "id") -> OrganizationResolver:
    """The organization of the deployment in the path, through its project."""
    return _owner_of(
        "SELECT p.organization_id FROM deployment_logs d JOIN projects p ON p.id = d.project_id"
        " WHERE d.id = %s AND p.deleted_at IS NULL",
        name,
    )


def organization_from_chat(name: str = "id") -> OrganizationResolver:
    """The organization of the chat in the path, through its project."""
    return _owner_of(
        "SELECT p.organization_id FROM chats c JOIN projects p ON p.id = c.project_id"
        " WHERE c.id = %s AND p.deleted_at IS NULL",
        name,
    )


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Sign in to continue: send an access token as 'Authorization: Bearer <token>'.")
    return token.strip()


def authenticate(conn: db.Connection, request: Request, claims: dict[str, Any]) -> Caller:
    session_id = parse_uuid(claims.get("sid"))
    # One round trip: the user, and whether the sign-in the token came from still lives (its
    # refresh family has a session that is neither revoked nor expired). Rotation keeps a
    # family alive; logout, "sign out everywhere" and reuse detection end it.
    user = conn.execute(
        """
        SELECT u.id, u.email, u.role, u.full_name, u.is_active, u.token_version,
               EXISTS (
                   SELECT 1 FROM sessions s JOIN sessions live ON live.family_id = s.family_id
                   WHERE s.id = %s AND s.user_id = u.id
                     AND live.revoked_at IS NULL AND live.expires_at > now()
               ) AS session_live
        FROM users u WHERE u.id = %s
        """,
        (session_id, claims["sub"]),
    ).fetchone()
    # A banned user, a changed password or a deleted account ends every access token at once:
    # the token carries the user's token_version, bumped on each of those.
    if (
        user is None
        or not user["is_active"]
        or user["token_version"] != claims["tv"]
        or session_id is None
        or not user["session_live"]
    ):
        raise Unauthorized("This session is no longer valid. Sign in again.", code="session_revoked")
    settings = get_settings()
    ratelimit.hit(
        f"api:{user['id']}",
        limit=settings.rate_limit_api_per_minute,
        window_s=60,
        message="Too many requests. Slow down and try again shortly.",
        conn=conn,
    )
    return Caller(
        user_id=user["id"],
        email=user["email"],
        role=user["role"],
        full_name=user["full_name"],
        meta=request_meta(request),
        session_id=session_id,
        token_version=user["token_version"],
    )


def _membership(conn: db.Connection, organization_id: uuid.UUID, user_id: uuid.UUID) -> Membership | None:
    row = conn.execute(
        """
        SELECT o.id AS organization_id, m.id AS member_id, m.role, m.permissions,
               o.suspended_at IS NOT NULL AS suspended
        FROM organizations o
        LEFT JOIN organization_members m ON m.organization_id = o.id AND m.user_id = %s
        WHERE o.id = %s
        """,
        (user_id, organization_id),
    ).fetchone()
    if row is None:
        return None
    return Membership(
        organization_id=row["organization_id"],
        member_id=row["member_id"],
        role=row["role"],
        permissions=frozenset(row["permissions"] or []),
        suspended=row["suspended"],
    )


NOT_FOUND_MESSAGE = "There is no such organization, or you cannot see it."
SUSPENDED_MESSAGE = (
    "This organization is suspended: you can look at its projects but not change anything. Contact support."
)
# What the members of a suspended organization may still do: the organization-scoped actions that only read.
READ_ACTIONS = frozenset(
    {
        Action.ORGANIZATION_VIEW,
        Action.ORGANIZATION_AUDIT_VIEW,
        Action.MEMBERS_VIEW,
        Action.PROJECT_VIEW,
        Action.ANALYTICS_VIEW,
    }
)


def require(action: Action, *, organization: OrganizationResolver | None = None) -> Any:
    """The dependency a route declares: ``caller: Annotated[Caller, require(Action.X)]``."""
    rule = PERMISSIONS[action]
    if rule.scope is Scope.ORGANIZATION and organization is None:
        raise ValueError(f"{action} is organization-scoped: say how to find the organization")

    async def dependency(request: Request) -> Caller:
        if rule.scope is Scope.PUBLIC:
            return Caller(user_id=None, meta=request_meta(request))
        claims = await run_in_threadpool(lambda: decode_access_token(_bearer_token(request)))
        named: uuid.UUID | None = None
        if organization is not None and inspect.iscoroutinefunction(organization):
            named = await organization(request)
        return await run_in_threadpool(authorize, request, claims, named)

    def authorize(request: Request, claims: dict[str, Any], named: uuid.UUID | None) -> Caller:
        # One transaction for the whole check: user, rate limit, organization and membership.
        with db.transaction() as conn:
            caller = authenticate(conn, request, claims)
            assert caller.user_id is not None and caller.role is not None
            if rule.scope is Scope.AUTHENTICATED:
                return caller
            if rule.scope is Scope.GLOBAL:
                if not caller.may(action):
                    raise Forbidden("Only platform administrators may do this.")
                return caller
            assert organization is not None
            organization_id = named
            if not inspect.iscoroutinefunction(organization):
                resolve = cast(Callable[[Request, db.Connection], uuid.UUID | None], organization)
                organization_id = resolve(request, conn)
            membership = _membership(conn, organization_id, caller.user_id) if organization_id else None
        if membership is None or not sees_organization(rule, caller.role, membership.role):
            raise NotFound(NOT_FOUND_MESSAGE)
        if not allowed_in_organization(rule, caller.role, membership.role, membership.permissions):
            raise Forbidden("Your role in this organization does not allow this.", details={"action": action})
        # A suspended organization's members read but change nothing (platform admins still act; deployed
        # apps keep running: nothing here stops them).
        if membership.suspended and action not in READ_ACTIONS and caller.role != GlobalRole.ADMIN:
            raise Forbidden(SUSPENDED_MESSAGE, code="organization_suspended", details={"action": action})
        caller.membership = membership
        return caller

    dependency.mm_action = action  # type: ignore[attr-defined]  # read by the route audit test
    return Depends(dependency)


def declared_action(route: Any) -> Action | None:
    """The action a FastAPI route declared through :func:`require` (None if it declared none)."""
    actions = [
        getattr(dep.call, "mm_action", None)
        for dep in route.dependant.dependencies
        if getattr(dep.call, "mm_action", None) is not None
    ]
    return actions[0] if len(actions) == 1 else None
