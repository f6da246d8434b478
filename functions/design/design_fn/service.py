"""Design systems' rules: who may do what is decided by the routes' actions; what a change does is
``mm_common.design_systems`` (the tables, the rendered files and their version, under the project's lock)."""

from __future__ import annotations

import uuid
from typing import Any

from mm_common import design_systems
from mm_common.auth import Caller, parse_uuid
from mm_common.db import Connection
from mm_common.design_systems import Change, Loaded
from mm_common.errors import NotFound, Unprocessable
from mm_common.observability import count, traced

SERVICE = "design"
NOTHING_TO_CHANGE = "Send at least one of palette, light, dark, typography or antiPatterns."


@traced(SERVICE)
def generate(
    conn: Connection, caller: Caller, project_id: uuid.UUID, *, description: str | None, page_name: str | None
) -> Change:
    change = design_systems.generate(
        conn, project_id, description=description, page_name=page_name, user_id=caller.user_id
    )
    count(SERVICE, "DesignSystemGenerated")
    return change


@traced(SERVICE)
def get(conn: Connection, caller: Caller, project_id: uuid.UUID, page_name: str | None) -> Loaded:
    return design_systems.require(conn, project_id, page_name)


@traced(SERVICE)
def edit(conn: Connection, caller: Caller, project_id: uuid.UUID, changes: dict[str, Any]) -> Change:
    if not changes:
        raise Unprocessable(NOTHING_TO_CHANGE, code="nothing_to_change", details=[{"field": "body"}])
    change = design_systems.edit(conn, project_id, changes, user_id=caller.user_id)
    count(SERVICE, "DesignSystemEdited")
    return change


@traced(SERVICE)
def revisions(
    conn: Connection, caller: Caller, project_id: uuid.UUID, *, page_name: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return design_systems.revision_page(conn, project_id, page_name=page_name, limit=limit, cursor=cursor)


@traced(SERVICE)
def restore(conn: Connection, caller: Caller, project_id: uuid.UUID, revision_id: str) -> Change:
    revision = parse_uuid(revision_id)
    if revision is None:
        raise NotFound(design_systems.NO_REVISION, code="revision_not_found")
    change = design_systems.restore(conn, project_id, revision, user_id=caller.user_id)
    count(SERVICE, "DesignSystemRestored")
    return change
