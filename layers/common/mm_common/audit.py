"""Audit log rows for security-relevant actions, with who, where from and what."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from mm_common import db
from mm_common.db import Connection
from mm_common.errors import Unprocessable
from mm_common.models import ApiModel, UtcDatetime
from mm_common.pagination import decode_time_cursor, page, time_key

if TYPE_CHECKING:
    from mm_common.auth import Caller


@dataclass(frozen=True)
class RequestMeta:
    ip_address: str | None
    user_agent: str | None


def valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def record(
    conn: Connection,
    action: str,
    *,
    meta: RequestMeta | None,
    user_id: Any = None,
    organization_id: Any = None,
    resource_type: str | None = None,
    resource_id: Any = None,
    details: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        """
        INSERT INTO audit_logs
            (user_id, organization_id, action, resource_type, resource_id, metadata, ip_address, user_agent)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            user_id,
            organization_id,
            action,
            resource_type,
            resource_id,
            db.jsonb(details or {}),
            valid_ip(meta.ip_address) if meta else None,
            (meta.user_agent or "")[:1000] if meta else None,
        ),
    )


_CALLERS_ORGANIZATION: Any = object()


def log(
    conn: Connection,
    caller: Caller,
    action: str,
    *,
    resource_type: str | None = None,
    resource_id: Any = None,
    details: dict[str, Any] | None = None,
    organization_id: Any = _CALLERS_ORGANIZATION,
) -> None:
    """Record what ``caller`` did, in the transaction of the change itself.

    The organization defaults to the one the route was authorized in (none for routes that are
    not organization-scoped); pass it where the action concerns another one or none.
    """
    if organization_id is _CALLERS_ORGANIZATION:
        organization_id = caller.membership.organization_id if caller.membership else None
    record(
        conn,
        action,
        meta=caller.meta,
        user_id=caller.user_id,
        organization_id=organization_id,
        resource_type=resource_type,
        resource_id=resource_id,
        details=details,
    )


@dataclass(frozen=True)
class AuditFilter:
    organization_id: Any = None
    user_id: Any = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _aware(value: datetime | None) -> datetime | None:
    """Times without a zone in a query are taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def list_entries(filters: AuditFilter, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Audit rows newest first, keyset-paginated on (created_at, id). ``since`` is inclusive,
    ``until`` exclusive."""
    since, until = _aware(filters.since), _aware(filters.until)
    if since is not None and until is not None and since >= until:
        message = "'since' must be earlier than 'until'."
        raise Unprocessable(message, details=[{"field": "since", "in": "query", "message": message}])
    conditions: list[str] = ["TRUE"]
    params: list[Any] = []
    key = decode_time_cursor(cursor)
    if key:
        conditions.append("(a.created_at, a.id) < (%s, %s)")
        params += key
    for condition, value in (
        ("a.organization_id = %s", filters.organization_id),
        ("a.user_id = %s", filters.user_id),
        ("a.action = %s", filters.action),
        ("a.created_at >= %s", since),
        ("a.created_at < %s", until),
    ):
        if value is not None:
            conditions.append(condition)
            params.append(value)
    rows = db.fetch_all(
        f"""
        SELECT a.id, a.user_id, u.email AS user_email, a.organization_id, o.name AS organization_name, a.action,
               a.resource_type, a.resource_id, a.metadata, host(a.ip_address) AS ip_address, a.user_agent,
               a.created_at
        FROM audit_logs a
        LEFT JOIN users u ON u.id = a.user_id
        LEFT JOIN organizations o ON o.id = a.organization_id
        WHERE {" AND ".join(conditions)}
        ORDER BY a.created_at DESC, a.id DESC LIMIT %s
        """,
        (*params, limit + 1),
    )
    return page([dict(r) for r in rows], limit, time_key("created_at"))


class AuditEntry(ApiModel):
    id: uuid.UUID
    action: str
    user_id: uuid.UUID | None
    user_email: str | None = Field(description="Who did it; null for the platform itself or a deleted user.")
    organization_id: uuid.UUID | None
    organization_name: str | None = Field(description="Null for platform actions or a deleted organization.")
    resource_type: str | None
    resource_id: uuid.UUID | None
    metadata: dict[str, Any] | None
    ip_address: str | None
    user_agent: str | None
    created_at: UtcDatetime


class AuditPage(ApiModel):
    items: list[AuditEntry]
    next_cursor: str | None = None
