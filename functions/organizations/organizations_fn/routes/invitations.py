"""Invitations: the pending ones of an organization, revoking one, accepting one's link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from mm_common import db
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from mm_common.permissions import Action
from organizations_fn import service
from organizations_fn.routes import ORGANIZATION, InvitationId, OrganizationId
from organizations_fn.schemas import (
    AcceptedInvitation,
    AcceptInvitationBody,
    InvitationPage,
    invitation_of,
    member_of,
    organization_of,
)

router = APIRouter()


@router.get(
    "/api/organizations/{id}/invitations",
    response_model=InvitationPage,
    summary="Pending invitations (not accepted, revoked or expired), newest first",
)
def list_invitations(
    id: OrganizationId,
    caller: Annotated[Caller, require(Action.MEMBERS_INVITE, organization=ORGANIZATION)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> InvitationPage:
    with db.transaction() as conn:
        rows, next_cursor = service.list_invitations(conn, caller, limit=limit, cursor=cursor)
    return InvitationPage(items=[invitation_of(r) for r in rows], next_cursor=next_cursor)


@router.delete(
    "/api/organizations/{id}/invitations/{invitationId}",
    status_code=204,
    response_class=Response,
    summary="Revoke a pending invitation",
)
def revoke_invitation(
    id: OrganizationId,
    invitation_id: InvitationId,
    caller: Annotated[Caller, require(Action.MEMBERS_INVITE, organization=ORGANIZATION)],
) -> Response:
    with db.transaction() as conn:
        service.revoke_invitation(conn, caller, invitation_id)
    return Response(status_code=204)


@router.post(
    "/api/invitations/accept",
    response_model=AcceptedInvitation,
    summary="Accept an invitation (signed in as the invited e-mail address)",
    responses=errors(404, 409, 410),
)
def accept_invitation(
    body: AcceptInvitationBody, caller: Annotated[Caller, require(Action.SELF)]
) -> AcceptedInvitation:
    with db.transaction() as conn:
        organization, member = service.accept_invitation(conn, caller, body.token)
    return AcceptedInvitation(organization=organization_of(organization, member["role"]), member=member_of(member))
