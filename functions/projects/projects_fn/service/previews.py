"""Live previews of versions: the newest build of a version, a project's builds, and building one again.

The builds themselves are the preview worker's (functions/preview_build); their rows are written by
``mm_common.preview_builds`` only.
"""

from __future__ import annotations

import uuid
from typing import Any

from mm_common import audit, preview_builds, versions
from mm_common.auth import Caller
from mm_common.db import Connection
from mm_common.errors import Conflict
from mm_common.observability import count, traced
from mm_common.pagination import decode_time_cursor, page, time_key
from projects_fn.service import SERVICE
from projects_fn.service.versions import version_uuid

UNAVAILABLE = "Live previews are not set up on this server (no preview domain)."
NOT_BUILT = "This version has not been built. Build it to preview it."


@traced(SERVICE)
def version_preview(conn: Connection, caller: Caller, project_id: uuid.UUID, version_id: str) -> dict[str, Any]:
    """The version's newest build, its newest ready build when that is another, and the status to show."""
    version = versions.get_version(conn, project_id, version_uuid(version_id))
    latest = preview_builds.latest_build_of_version(conn, version["id"])
    last_ready = None
    if latest is None or latest["status"] != "ready":
        last_ready = preview_builds.latest_ready_build_of_version(conn, version["id"])
    if latest is not None:
        status, message = latest["status"], latest["message"]
    elif not preview_builds.previews_enabled():
        status, message = "unavailable", UNAVAILABLE
    else:
        status, message = "not_built", NOT_BUILT
    return {
        "status": status,
        "message": message,
        "version_id": version["id"],
        "build": latest,
        "last_ready": last_ready,
    }


@traced(SERVICE)
def request_build(conn: Connection, caller: Caller, project_id: uuid.UUID, version_id: str) -> dict[str, Any]:
    """Queue a build of the version a user asked for (a newer version does not skip it); an unfinished
    build of the version is answered instead of a second one."""
    if not preview_builds.previews_enabled():
        raise Conflict(UNAVAILABLE, code="previews_unavailable")
    # Held until commit: the worker waits for it, so it finds the build committed.
    versions.lock_project(conn, project_id)
    version = versions.get_version(conn, project_id, version_uuid(version_id))
    latest = preview_builds.latest_build_of_version(conn, version["id"])
    if latest is not None and latest["status"] in preview_builds.UNFINISHED:
        return latest
    build = preview_builds.queue_build(conn, project_id, version["id"], requested_by=caller.user_id)
    assert build is not None
    audit.log(
        conn,
        caller,
        "preview.build",
        resource_type="project",
        resource_id=project_id,
        details={"versionId": str(version["id"]), "versionNumber": version["number"]},
    )
    count(SERVICE, "PreviewBuildRequested")
    return build


@traced(SERVICE)
def project_builds(
    conn: Connection, caller: Caller, project_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    rows = preview_builds.project_builds(conn, project_id, before=decode_time_cursor(cursor), limit=limit + 1)
    return page(rows, limit, time_key("created_at"))
