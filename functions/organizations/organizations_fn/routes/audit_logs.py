"""The organization's audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from mm_common import audit
from mm_common.auth import Caller, require
from mm_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from mm_common.permissions import Action
from organizations_fn.routes import ORGANIZATION, OrganizationId

router = APIRouter()


@router.get(
    "/api/organizations/{id}/audit-logs",
    response_model=audit.AuditPage,
    summary="The organization's audit log, newest first",
)
def list_audit_logs(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.ORGANIZATION_AUDIT_VIEW, organization=ORGANIZATION)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    action: Annotated[str | None, Query(max_length=255, description="Only this action (exact).")] = None,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId", description="Only what this user did.")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive, ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (exclusive, ISO 8601).")] = None,
) -> audit.AuditPage:
    # The audit module is this route's service: the organization's rows, filtered and paged.
    rows, next_cursor = audit.list_entries(
        audit.AuditFilter(
            organization_id=caller.organization_id, user_id=user_id, action=action, since=since, until=until
        ),
        limit=limit,
        cursor=cursor,
    )
    return audit.AuditPage(items=[audit.AuditEntry.model_validate(r) for r in rows], next_cursor=next_cursor)
