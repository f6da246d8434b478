"""The working copy: list, read, write, delete and move files (ETags make writes conditional)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from mm_common import db
from mm_common.api import errors
from mm_common.pagination import Cursor
from projects_fn.routes.common import Editor, FilePath, IfMatch, IfNoneMatch, ProjectId, Viewer, etag, project_uuid
from projects_fn.schemas import (
    FileContent,
    FileEntry,
    FilePage,
    PutFileBody,
    RenameFileBody,
    file_content,
    file_page_response,
)
from projects_fn.service import files as service

router = APIRouter()

# The documented maximum stays; the default page is smaller than it was (1,000), so an
# overview costs less and a client that wants everything asks for big pages.
MAX_FILES_PER_PAGE = 5000
DEFAULT_FILES_PER_PAGE = 200
FilesLimit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_FILES_PER_PAGE,
        description=f"Files per page (1-{MAX_FILES_PER_PAGE}, default {DEFAULT_FILES_PER_PAGE}).",
    ),
]


@router.get("/api/projects/{id}/files", response_model=FilePage, summary="The project's files, by path")
def list_files(
    id: ProjectId, caller: Viewer, limit: FilesLimit = DEFAULT_FILES_PER_PAGE, cursor: Cursor = None
) -> Response:
    with db.transaction() as conn:
        rows, next_cursor = service.list_files(conn, caller, project_uuid(id), limit=limit, cursor=cursor)
    # Built straight from the rows (a big page validated as models cost 5x the request).
    listing: Response = file_page_response(rows, next_cursor)
    return listing


@router.get("/api/projects/{id}/files/{path:path}", response_model=FileContent, summary="One file's content")
def get_file(id: ProjectId, path: FilePath, caller: Viewer, response: Response) -> FileContent:
    with db.transaction() as conn:
        row = service.read_file(conn, caller, project_uuid(id), path)
    data = service.file_bytes(caller, row)
    response.headers["ETag"] = etag(row["sha256"])
    return file_content(row, data)


@router.put(
    "/api/projects/{id}/files/{path:path}",
    response_model=FileContent,
    summary="Create or replace a file",
    responses={
        201: {"model": FileContent, "description": "The file did not exist: created (200: replaced)."},
        **errors(409, 412, 413),
        412: {
            "description": (
                "precondition_failed: If-Match names a version that is no longer current, or If-None-Match"
                " matches the file as it is (with *: the file exists, perhaps created by another writer just"
                " now). Read it again, then retry. Nothing was changed."
            )
        },
    },
)
def put_file(
    id: ProjectId,
    path: FilePath,
    body: PutFileBody,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> FileContent:
    with db.transaction() as conn:
        row, data, created = service.write_file(
            conn,
            caller,
            project_uuid(id),
            path,
            content=body.content,
            encoding=body.encoding,
            mode=body.mode,
            if_match=if_match,
            if_none_match=if_none_match,
        )
    response.status_code = 201 if created else 200
    response.headers["ETag"] = etag(row["sha256"])
    return file_content(row, data)


@router.delete(
    "/api/projects/{id}/files/{path:path}",
    status_code=204,
    response_class=Response,
    summary="Delete a file",
    responses=errors(412),
)
def delete_file(id: ProjectId, path: FilePath, caller: Editor, if_match: IfMatch = None) -> Response:
    with db.transaction() as conn:
        service.delete_file(conn, caller, project_uuid(id), path, if_match)
    return Response(status_code=204)


@router.post(
    "/api/projects/{id}/rename-file",
    response_model=FileEntry,
    summary="Rename or move a file",
    responses={
        **errors(409, 412),
        412: {
            "description": (
                "precondition_failed: If-Match names a version of the file that is no longer current, or a"
                " file exists at the new path already. Nothing was changed."
            )
        },
    },
)
def rename_file(
    id: ProjectId, body: RenameFileBody, caller: Editor, response: Response, if_match: IfMatch = None
) -> FileEntry:
    with db.transaction() as conn:
        row = service.rename_file(conn, caller, project_uuid(id), body.from_, body.to, if_match)
    response.headers["ETag"] = etag(row["sha256"])
    return FileEntry.model_validate(row)
