"""/api/admin/audit-logs: the system-wide audit log (admins and co-admins)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from admin_fn.service import audit_logs as service
from mm_common.audit import AuditEntry, AuditFilter, AuditPage
from mm_common.auth import Caller, require
from mm_common.pagination import Cursor, Limit
from mm_common.permissions import Action

router = APIRouter()


@router.get("/api/admin/audit-logs", response_model=AuditPage, summary="System-wide audit log, newest first")
def audit_logs(
    caller: Annotated[Caller, require(Action.SYSTEM_LOGS_VIEW)],
    limit: Limit = 50,
    cursor: Cursor = None,
    action: Annotated[str | None, Query(max_length=255)] = None,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
    organization_id: Annotated[uuid.UUID | None, Query(alias="organizationId")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    rows, next_cursor = service.system_audit_log(
        AuditFilter(organization_id=organization_id, user_id=user_id, action=action, since=since, until=until),
        limit=limit,
        cursor=cursor,
    )
    return AuditPage(items=[AuditEntry.model_validate(row) for row in rows], next_cursor=next_cursor)
