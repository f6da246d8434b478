"""Versions: snapshot, list, read (files, diffs), restore, tag and download as a zip."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from mm_common import db
from mm_common.api import errors
from mm_common.pagination import Cursor, Limit
from projects_fn.routes.common import Editor, FilePath, ProjectId, VersionId, Viewer, etag, project_uuid
from projects_fn.schemas import (
    Archive,
    CreateVersionBody,
    Diff,
    FileChange,
    FileContent,
    TagBody,
    VersionDetail,
    VersionEnvelope,
    VersionFile,
    VersionPage,
    file_content,
    version_model,
)
from projects_fn.service import versions as service

router = APIRouter()


@router.post(
    "/api/projects/{id}/versions", status_code=201, response_model=VersionEnvelope, summary="Snapshot the working copy"
)
def create_version(id: ProjectId, caller: Editor, body: CreateVersionBody | None = None) -> VersionEnvelope:
    with db.transaction() as conn:
        row = service.create_version(conn, caller, project_uuid(id), body.message if body else None)
    return VersionEnvelope(version=version_model(row))


@router.get("/api/projects/{id}/versions", response_model=VersionPage, summary="Versions, newest first")
def list_versions(id: ProjectId, caller: Viewer, limit: Limit = 50, cursor: Cursor = None) -> VersionPage:
    with db.transaction() as conn:
        rows, tags, next_cursor = service.list_versions(conn, caller, project_uuid(id), limit=limit, cursor=cursor)
    return VersionPage(items=[version_model(row, tags.get(row["id"])) for row in rows], next_cursor=next_cursor)


@router.get("/api/projects/{id}/versions/{versionId}", response_model=VersionDetail, summary="A version and its files")
def get_version(id: ProjectId, version_id: VersionId, caller: Viewer) -> VersionDetail:
    with db.transaction() as conn:
        row, tags = service.get_version(conn, caller, project_uuid(id), version_id)
    files = service.version_files(row)
    return VersionDetail(version=version_model(row, tags), files=[VersionFile.model_validate(f) for f in files])


@router.get(
    "/api/projects/{id}/versions/{versionId}/files/{path:path}",
    response_model=FileContent,
    summary="A file's content at a version",
)
def get_version_file(
    id: ProjectId, version_id: VersionId, path: FilePath, caller: Viewer, response: Response
) -> FileContent:
    with db.transaction() as conn:
        row, target = service.version_for_file(conn, caller, project_uuid(id), version_id, path)
    entry, data = service.version_file(caller, row, target)
    response.headers["ETag"] = etag(entry["sha256"])
    return file_content(entry, data)


@router.get(
    "/api/projects/{id}/versions/{versionId}/diff", response_model=Diff, summary="What changed between two versions"
)
def diff_version(
    id: ProjectId,
    version_id: VersionId,
    caller: Viewer,
    against: Annotated[str | None, Query(description="The version to compare with (default: its parent).")] = None,
) -> Diff:
    with db.transaction() as conn:
        target, base = service.versions_to_compare(conn, caller, project_uuid(id), version_id, against)
    changes = service.diff(caller, target, base)
    return Diff(
        from_version_id=base["id"] if base else None,
        to_version_id=target["id"],
        files=[FileChange.model_validate(change) for change in changes],
    )


@router.post(
    "/api/projects/{id}/versions/{versionId}/restore",
    status_code=201,
    response_model=VersionEnvelope,
    summary="Make the working copy that version (recorded as a new version)",
)
def restore_version(id: ProjectId, version_id: VersionId, caller: Editor) -> VersionEnvelope:
    with db.transaction() as conn:
        row = service.restore_version(conn, caller, project_uuid(id), version_id)
    return VersionEnvelope(version=version_model(row))


@router.post(
    "/api/projects/{id}/versions/{versionId}/tags",
    status_code=201,
    response_model=VersionEnvelope,
    summary="Tag a version",
    responses=errors(409),  # tag_taken
)
def tag_version(id: ProjectId, version_id: VersionId, body: TagBody, caller: Editor) -> VersionEnvelope:
    with db.transaction() as conn:
        row, tags = service.tag_version(conn, caller, project_uuid(id), version_id, body.name)
    return VersionEnvelope(version=version_model(row, tags))


@router.delete(
    "/api/projects/{id}/versions/{versionId}/tags/{name}",
    status_code=204,
    response_class=Response,
    summary="Remove a tag",
)
def untag_version(id: ProjectId, version_id: VersionId, name: str, caller: Editor) -> Response:
    with db.transaction() as conn:
        service.untag_version(conn, caller, project_uuid(id), version_id, name)
    return Response(status_code=204)


@router.get(
    "/api/projects/{id}/versions/{versionId}/archive", response_model=Archive, summary="Download a version as a zip"
)
def archive_version(id: ProjectId, version_id: VersionId, caller: Viewer) -> Archive:
    with db.transaction() as conn:
        row, slug = service.version_to_archive(conn, caller, project_uuid(id), version_id)
    url, expires_in = service.archive_url(caller, project_uuid(id), row, slug)
    return Archive(url=url, expires_in=expires_in)
