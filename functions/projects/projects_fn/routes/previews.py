"""Live previews: a version's preview (status, site, problems, log), building it again, a project's builds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mm_common import db, preview_builds
from mm_common.api import errors
from mm_common.pagination import Cursor, Limit
from projects_fn.routes.common import Editor, ProjectId, VersionId, Viewer, project_uuid
from projects_fn.schemas import Preview, PreviewEnvelope, PreviewPage, PreviewSummary, preview_summary
from projects_fn.service import previews as service

router = APIRouter()


def _summary(row: dict[str, Any] | None) -> PreviewSummary | None:
    return preview_summary(row, preview_builds.site_url(row["label"])) if row is not None else None


@router.get(
    "/api/projects/{id}/versions/{versionId}/preview",
    response_model=PreviewEnvelope,
    summary="A version's live preview: the newest build's status, site, problems and log",
)
def get_preview(id: ProjectId, version_id: VersionId, caller: Viewer) -> PreviewEnvelope:
    with db.transaction() as conn:
        found = service.version_preview(conn, caller, project_uuid(id), version_id)
    build = found["build"]
    return PreviewEnvelope(
        preview=Preview(
            status=found["status"],
            version_id=found["version_id"],
            message=found["message"],
            build=_summary(build),
            log=build["log"] if build is not None else None,
            last_ready=_summary(found["last_ready"]),
        )
    )


@router.post(
    "/api/projects/{id}/versions/{versionId}/preview",
    status_code=202,
    response_model=PreviewEnvelope,
    summary="Build a version's preview (again); an unfinished build of it is answered instead",
    responses=errors(409),  # previews_unavailable
)
def build_preview(id: ProjectId, version_id: VersionId, caller: Editor) -> PreviewEnvelope:
    with db.transaction() as conn:
        build = service.request_build(conn, caller, project_uuid(id), version_id)
    return PreviewEnvelope(
        preview=Preview(
            status=build["status"],
            version_id=build["version_id"],
            message=build["message"],
            build=_summary(build),
            log=build["log"],
            last_ready=None,
        )
    )


@router.get(
    "/api/projects/{id}/previews", response_model=PreviewPage, summary="The project's preview builds, newest first"
)
def list_previews(id: ProjectId, caller: Viewer, limit: Limit = 20, cursor: Cursor = None) -> PreviewPage:
    with db.transaction() as conn:
        rows, next_cursor = service.project_builds(conn, caller, project_uuid(id), limit=limit, cursor=cursor)
    return PreviewPage(items=[summary for row in rows if (summary := _summary(row))], next_cursor=next_cursor)
