"""Platform administration: reading the system-wide audit log."""

from __future__ import annotations

from typing import Any

from mm_common.audit import AuditFilter, list_entries
from mm_common.observability import traced

SERVICE = "admin"


@traced(SERVICE)
def system_audit_log(
    filters: AuditFilter, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Every organization's and the platform's audit rows, newest first (a read in its own
    transaction: the layer's query opens it)."""
    return list_entries(filters, limit=limit, cursor=cursor)
