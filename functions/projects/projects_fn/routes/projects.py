"""Projects: create, list, read, change, delete; reveal one environment variable."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, organization_from_body, require
from mm_common.pagination import Cursor, Limit
from mm_common.permissions import Action
from projects_fn.routes.common import Manager, ProjectId, SecretReader, Viewer, project_uuid
from projects_fn.schemas import (
    MAX_SEARCH_LENGTH,
    CreateProjectBody,
    EnvironmentVariableValue,
    ProjectEnvelope,
    ProjectPage,
    UpdateProjectBody,
    project_model,
)
from projects_fn.service import projects as service

router = APIRouter()

VariableName = Annotated[str, Path(description="The environment variable's name, e.g. API_TOKEN.")]


@router.post(
    "/api/projects", status_code=201, response_model=ProjectEnvelope, summary="Create a project from a template"
)
def create_project(
    body: CreateProjectBody,
    caller: Annotated[Caller, require(Action.PROJECT_CREATE, organization=organization_from_body("organizationId"))],
) -> ProjectEnvelope:
    with db.transaction() as conn:
        row = service.create_project(
            conn, caller, name=body.name, description=body.description, template_id=body.template
        )
    return ProjectEnvelope(project=project_model(row))


@router.get("/api/projects", response_model=ProjectPage, summary="Projects the caller can see, newest first")
def list_projects(
    caller: Annotated[Caller, require(Action.SELF)],
    limit: Limit = 50,
    cursor: Cursor = None,
    organization_id: Annotated[uuid.UUID | None, Query(alias="organizationId")] = None,
    q: Annotated[
        str | None,
        Query(max_length=MAX_SEARCH_LENGTH, description="Part of the name or description (any case)."),
    ] = None,
) -> ProjectPage:
    with db.transaction() as conn:
        rows, next_cursor = service.list_projects(
            conn, caller, organization_id=organization_id, text=q, limit=limit, cursor=cursor
        )
    return ProjectPage(items=[project_model(row) for row in rows], next_cursor=next_cursor)


@router.get("/api/projects/{id}", response_model=ProjectEnvelope, summary="One project")
def get_project(id: ProjectId, caller: Viewer) -> ProjectEnvelope:
    with db.transaction() as conn:
        row = service.get_project(conn, caller, project_uuid(id))
    return ProjectEnvelope(project=project_model(row))


@router.patch(
    "/api/projects/{id}",
    response_model=ProjectEnvelope,
    summary="Change a project's settings (name, slug, commands, variables...)",
    responses=errors(409),
)
def update_project(id: ProjectId, body: UpdateProjectBody, caller: Manager) -> ProjectEnvelope:
    with db.transaction() as conn:
        row = service.update_project(conn, caller, project_uuid(id), body)
    return ProjectEnvelope(project=project_model(row))


@router.delete(
    "/api/projects/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a project (its deployed app and database are destroyed, its repository archived)",
    responses=errors(409),  # deployment_in_progress
)
def delete_project(id: ProjectId, caller: Manager) -> Response:
    with db.transaction() as conn:
        service.delete_project(conn, caller, project_uuid(id))
    return Response(status_code=204)


@router.get(
    "/api/projects/{id}/environment-variables/{name}",
    response_model=EnvironmentVariableValue,
    summary="Reveal one environment variable's value (recorded in the audit log)",
)
def reveal_environment_variable(
    id: ProjectId, name: VariableName, caller: SecretReader, response: Response
) -> EnvironmentVariableValue:
    with db.transaction() as conn:
        value = service.reveal_variable(conn, caller, project_uuid(id), name)
    # A secret: no browser or proxy cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return EnvironmentVariableValue(name=name, value=value)
