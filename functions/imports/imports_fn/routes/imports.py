"""Imports from the desktop app: create (upload slots), analyze, start, read, list."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from imports_fn import service
from imports_fn.schemas import (
    CreateImportBody,
    Import,
    ImportEnvelope,
    ImportPage,
    StartBody,
)
from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, organization_from_body, organization_from_import, organization_from_query, require
from mm_common.pagination import Cursor, Limit
from mm_common.permissions import Action

router = APIRouter()
IMPORTED_APP_FIELDS = (
    "id",
    "project_name",
    "project_id",
    "archive_name",
    "status",
    "stage",
    "counts",
    "warnings",
    "errors",
)

InOrganization = Annotated[Caller, require(Action.PROJECT_CREATE, organization=organization_from_import("id"))]


def import_model(row: dict[str, Any], apps: list[dict[str, Any]]) -> Import:
    return Import.model_validate(
        {
            **{key: value for key, value in row.items() if key != "uploads"},
            "uploads": service.presigned_uploads(row),
            "apps": [
                {field: app[field] for field in IMPORTED_APP_FIELDS} | {"app_id": app["source_app_id"]} for app in apps
            ],
        }
    )


@router.post(
    "/api/imports",
    status_code=201,
    response_model=ImportEnvelope,
    summary="Start an import: where to upload the desktop app's database and app archives",
    responses=errors(413),  # import_too_large
)
def create_import(
    body: CreateImportBody,
    caller: Annotated[Caller, require(Action.PROJECT_CREATE, organization=organization_from_body("organizationId"))],
) -> ImportEnvelope:
    with db.transaction() as conn:
        row = service.create_import(
            conn, caller, database_size=body.database_size, archives=[(a.name, a.size) for a in body.archives]
        )
    return ImportEnvelope.model_validate({"import": import_model(row, [])})


@router.get("/api/imports", response_model=ImportPage, summary="The organization's imports, newest first")
def list_imports(
    caller: Annotated[Caller, require(Action.PROJECT_CREATE, organization=organization_from_query("organizationId"))],
    organization_id: Annotated[uuid.UUID, Query(alias="organizationId")],
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ImportPage:
    with db.transaction() as conn:
        items, next_cursor = service.list_imports(conn, caller, limit=limit, cursor=cursor)
    return ImportPage(items=[import_model(row, apps) for row, apps in items], next_cursor=next_cursor)


@router.get("/api/imports/{id}", response_model=ImportEnvelope, summary="An import: its uploads, analysis and progress")
def get_import(id: str, caller: InOrganization) -> ImportEnvelope:
    with db.transaction() as conn:
        row, apps = service.get_import(conn, caller, id)
    return ImportEnvelope.model_validate({"import": import_model(row, apps)})


@router.post(
    "/api/imports/{id}/analyze",
    status_code=202,
    response_model=ImportEnvelope,
    summary="Analyze the uploaded files (apps, chats, commits, prompts, warnings); follow with GET",
    responses=errors(409, 413),  # import_analyzed, upload_missing; import_too_large
)
def analyze_import(id: str, caller: InOrganization) -> ImportEnvelope:
    with db.transaction() as conn:
        row = service.analyze(conn, caller, id)
    return ImportEnvelope.model_validate({"import": import_model(row, [])})


@router.post(
    "/api/imports/{id}/start",
    status_code=202,
    response_model=ImportEnvelope,
    summary="Import the chosen apps as projects, with the chosen options; follow with GET",
    responses=errors(402, 409),  # plan_limit; import_not_analyzed
)
def start_import(id: str, body: StartBody, caller: InOrganization) -> ImportEnvelope:
    with db.transaction() as conn:
        row = service.start(
            conn,
            caller,
            id,
            [(app.app_id, app.project_name) for app in body.apps],
            body.options.model_dump(),
        )
        _, apps = service.get_import(conn, caller, id)
    return ImportEnvelope.model_validate({"import": import_model(row, apps)})
