"""Members: invite by e-mail, list, change a role or permissions, remove; leave an organization."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from mm_common.permissions import Action
from organizations_fn import service
from organizations_fn.routes import ORGANIZATION, MemberId, OrganizationId
from organizations_fn.schemas import (
    InvitationEnvelope,
    InviteMemberBody,
    OrganizationMemberEnvelope,
    OrganizationMemberPage,
    UpdateMemberBody,
    invitation_of,
    member_of,
)

router = APIRouter()


@router.post(
    "/api/organizations/{id}/members",
    status_code=201,
    response_model=InvitationEnvelope,
    summary="Invite someone by e-mail (the invitation link is e-mailed, valid 7 days)",
    responses=errors(409),
)
def invite_member(
    id: OrganizationId,
    body: InviteMemberBody,
    caller: Annotated[Caller, require(Action.MEMBERS_INVITE, organization=ORGANIZATION)],
) -> InvitationEnvelope:
    with db.transaction() as conn:
        row = service.invite_member(conn, caller, email=body.email, role=body.role, permissions=body.permissions)
    return InvitationEnvelope(invitation=invitation_of(row))


@router.get(
    "/api/organizations/{id}/members",
    response_model=OrganizationMemberPage,
    summary="Members, in the order they joined",
)
def list_members(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.MEMBERS_VIEW, organization=ORGANIZATION)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> OrganizationMemberPage:
    with db.transaction() as conn:
        rows, next_cursor = service.list_members(conn, caller, limit=limit, cursor=cursor)
    return OrganizationMemberPage(items=[member_of(r) for r in rows], next_cursor=next_cursor)


@router.patch(
    "/api/organizations/{id}/members/{memberId}",
    response_model=OrganizationMemberEnvelope,
    summary="Change a member's role or permissions",
    responses=errors(409),
)
def update_member(
    id: OrganizationId,
    member_id: MemberId,
    body: UpdateMemberBody,
    caller: Annotated[Caller, require(Action.MEMBERS_MANAGE, organization=ORGANIZATION)],
) -> OrganizationMemberEnvelope:
    with db.transaction() as conn:
        row = service.change_member(conn, caller, member_id, role=body.role, permissions=body.permissions)
    return OrganizationMemberEnvelope(member=member_of(row))


@router.delete(
    "/api/organizations/{id}/members/{memberId}",
    status_code=204,
    response_class=Response,
    summary="Remove a member",
    responses=errors(409),
)
def remove_member(
    id: OrganizationId,
    member_id: MemberId,
    caller: Annotated[Caller, require(Action.MEMBERS_MANAGE, organization=ORGANIZATION)],
) -> Response:
    with db.transaction() as conn:
        service.remove_member(conn, caller, member_id)
    return Response(status_code=204)


@router.post(
    "/api/organizations/{id}/leave",
    status_code=204,
    response_class=Response,
    summary="Leave the organization (its last owner cannot)",
    responses=errors(409),
)
def leave_organization(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.ORGANIZATION_LEAVE, organization=ORGANIZATION)],
) -> Response:
    with db.transaction() as conn:
        service.leave_organization(conn, caller)
    return Response(status_code=204)
