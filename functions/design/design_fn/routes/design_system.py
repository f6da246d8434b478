"""A project's design system: generate, read (a page's override merged over the master), edit, history, restore."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from design_fn import service
from design_fn.schemas import (
    DesignSystemChange,
    DesignSystemEnvelope,
    DesignSystemRevisionPage,
    EditDesignSystemBody,
    GenerateDesignSystemBody,
    change_model,
    design_system_model,
    revision_model,
)
from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, organization_from_project, parse_uuid, require
from mm_common.design_systems import MAX_PAGE_NAME
from mm_common.pagination import Cursor, Limit
from mm_common.permissions import Action

IN_PROJECT = organization_from_project("id")
Viewer = Annotated[Caller, require(Action.PROJECT_VIEW, organization=IN_PROJECT)]
Editor = Annotated[Caller, require(Action.PROJECT_EDIT, organization=IN_PROJECT)]
ProjectId = Annotated[str, Path(description="The project's id.")]
RevisionId = Annotated[str, Path(alias="revisionId", description="The revision's id.")]
PageName = Annotated[
    str | None,
    Query(max_length=MAX_PAGE_NAME, description="A page: its override merged over the master (the page wins)."),
]

router = APIRouter()


def project_uuid(value: str) -> uuid.UUID:
    """The project id of the path; require() has resolved the project, so it is well formed."""
    project_id = parse_uuid(value)
    assert project_id is not None
    return project_id


@router.post(
    "/api/projects/{id}/design-system",
    status_code=201,
    response_model=DesignSystemChange,
    summary="Generate the design system (or a page's override) from a description; its files become a version",
    # 409 design_system_not_found: a page's override needs the master first; 413: the project is full;
    # 503 design_engine_unavailable.
    responses=errors(409, 413, 503),
)
def generate_design_system(
    id: ProjectId, caller: Editor, body: GenerateDesignSystemBody | None = None
) -> DesignSystemChange:
    body = body or GenerateDesignSystemBody()
    with db.transaction() as conn:
        change = service.generate(
            conn, caller, project_uuid(id), description=body.description, page_name=body.page_name
        )
    return change_model(change)


@router.get(
    "/api/projects/{id}/design-system",
    response_model=DesignSystemEnvelope,
    summary="The design system: a page's override merged over the master, else the master",
)
def get_design_system(id: ProjectId, caller: Viewer, page: PageName = None) -> DesignSystemEnvelope:
    with db.transaction() as conn:
        loaded = service.get(conn, caller, project_uuid(id), page)
    return DesignSystemEnvelope(design_system=design_system_model(loaded))


@router.patch(
    "/api/projects/{id}/design-system",
    response_model=DesignSystemChange,
    summary="Edit the master's colours, fonts or anti-patterns (re-checked for contrast); its files become a version",
    responses=errors(413),
)
def edit_design_system(id: ProjectId, body: EditDesignSystemBody, caller: Editor) -> DesignSystemChange:
    with db.transaction() as conn:
        change = service.edit(conn, caller, project_uuid(id), body.changes())
    return change_model(change)


@router.get(
    "/api/projects/{id}/design-system/revisions",
    response_model=DesignSystemRevisionPage,
    summary="The design system's revisions (the master's, or a page's override's), newest first",
)
def list_revisions(
    id: ProjectId, caller: Viewer, page: PageName = None, limit: Limit = 20, cursor: Cursor = None
) -> DesignSystemRevisionPage:
    with db.transaction() as conn:
        rows, next_cursor = service.revisions(
            conn, caller, project_uuid(id), page_name=page, limit=limit, cursor=cursor
        )
    return DesignSystemRevisionPage(items=[revision_model(row) for row in rows], next_cursor=next_cursor)


@router.post(
    "/api/projects/{id}/design-system/revisions/{revisionId}/restore",
    status_code=201,
    response_model=DesignSystemChange,
    summary="Bring a revision back as a new revision; its files become a version",
    responses=errors(409, 413),  # revision_not_restorable; the project is full
)
def restore_revision(id: ProjectId, revision_id: RevisionId, caller: Editor) -> DesignSystemChange:
    with db.transaction() as conn:
        change = service.restore(conn, caller, project_uuid(id), revision_id)
    return change_model(change)
