"""Organizations: create, list, read, rename, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from mm_common.permissions import Action
from organizations_fn import service
from organizations_fn.routes import ORGANIZATION, OrganizationId
from organizations_fn.schemas import (
    CreateOrganizationBody,
    OrganizationEnvelope,
    OrganizationPage,
    UpdateOrganizationBody,
    organization_of,
)

router = APIRouter()


@router.post(
    "/api/organizations",
    status_code=201,
    response_model=OrganizationEnvelope,
    summary="Create an organization",
    responses=errors(409),
)
def create_new_organization(
    body: CreateOrganizationBody, caller: Annotated[Caller, require(Action.ORGANIZATION_CREATE)]
) -> OrganizationEnvelope:
    with db.transaction() as conn:
        row = service.create_organization(conn, caller, name=body.name)
    return OrganizationEnvelope(organization=organization_of(row, row["member_role"]))


@router.get(
    "/api/organizations",
    response_model=OrganizationPage,
    summary="The caller's organizations (platform admins: ?all=true for every organization)",
)
def list_organizations(
    caller: Annotated[Caller, require(Action.SELF)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    all_: Annotated[
        bool, Query(alias="all", description="Every organization, not only the caller's (platform admins).")
    ] = False,
) -> OrganizationPage:
    with db.transaction() as conn:
        rows, next_cursor = service.list_organizations(conn, caller, every=all_, limit=limit, cursor=cursor)
    return OrganizationPage(items=[organization_of(r, r["member_role"]) for r in rows], next_cursor=next_cursor)


@router.get("/api/organizations/{id}", response_model=OrganizationEnvelope, summary="One organization")
def get_organization(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.ORGANIZATION_VIEW, organization=ORGANIZATION)],
) -> OrganizationEnvelope:
    assert caller.membership is not None
    with db.transaction() as conn:
        row = service.get_organization(conn, caller)
    return OrganizationEnvelope(organization=organization_of(row, caller.membership.role))


@router.patch(
    "/api/organizations/{id}",
    response_model=OrganizationEnvelope,
    summary="Rename or change the slug",
    responses=errors(409),
)
def update_organization(
    id: OrganizationId,
    body: UpdateOrganizationBody,
    caller: Annotated[Caller, require(Action.ORGANIZATION_UPDATE, organization=ORGANIZATION)],
) -> OrganizationEnvelope:
    assert caller.membership is not None
    with db.transaction() as conn:
        row = service.update_organization(conn, caller, name=body.name, slug=body.slug)
    return OrganizationEnvelope(organization=organization_of(row, caller.membership.role))


@router.delete(
    "/api/organizations/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete the organization and everything in it (owners)",
)
def delete_organization(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.ORGANIZATION_DELETE, organization=ORGANIZATION)],
) -> Response:
    with db.transaction() as conn:
        service.delete_organization(conn, caller)
    return Response(status_code=204)
