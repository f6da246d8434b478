"""/api/users/me: the signed-in user's profile, password and sessions (sign-ins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from auth_fn.schemas import (
    ActiveSession,
    ActiveSessionList,
    ChangePasswordBody,
    Session,
    UpdateMeBody,
    User,
    UserEnvelope,
)
from auth_fn.service import me
from mm_common import db
from mm_common.auth import Caller, require
from mm_common.permissions import Action

router = APIRouter()

Myself = Annotated[Caller, require(Action.SELF)]
SessionId = Annotated[str, Path(description="A session's id, as GET /api/users/me/sessions lists it.")]


@router.get("/api/users/me", response_model=UserEnvelope, summary="The signed-in user")
def get_me(caller: Myself) -> UserEnvelope:
    with db.transaction() as conn:
        user = me.profile(conn, caller)
    return UserEnvelope(user=User.from_row(user))


@router.patch("/api/users/me", response_model=UserEnvelope, summary="Update your profile")
def update_me(body: UpdateMeBody, caller: Myself) -> UserEnvelope:
    with db.transaction() as conn:
        user = me.update_profile(conn, caller, body.model_dump(exclude_unset=True))
    return UserEnvelope(user=User.from_row(user))


@router.post(
    "/api/users/me/password", response_model=Session, response_model_exclude_none=True, summary="Change your password"
)
def change_password(body: ChangePasswordBody, caller: Myself) -> Session:
    with db.transaction() as conn:
        signed_in = me.change_password(conn, caller, body.current_password, body.new_password)
    return Session(
        access_token=signed_in.access_token, expires_in=signed_in.expires_in, user=User.from_row(signed_in.user)
    )


@router.get(
    "/api/users/me/sessions",
    response_model=ActiveSessionList,
    summary="Your live sessions (one per signed-in browser or device), most recently used first",
)
def list_sessions(caller: Myself) -> ActiveSessionList:
    with db.transaction() as conn:
        rows = me.list_sessions(conn, caller)
    # A handful per user: one page, always.
    return ActiveSessionList(items=[ActiveSession.model_validate(row) for row in rows], next_cursor=None)


@router.delete(
    "/api/users/me/sessions/{id}",
    status_code=204,
    response_class=Response,
    summary="End one of your sessions (its refresh and access tokens stop at once)",
)
def revoke_session(id: SessionId, caller: Myself) -> Response:
    with db.transaction() as conn:
        me.revoke_session(conn, caller, id)
    return Response(status_code=204)
