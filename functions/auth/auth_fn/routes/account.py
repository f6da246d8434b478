"""/api/auth/*: sign up, confirm the address, sign in, refresh, sign out (here or everywhere), reset the password."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Cookie, Request, Response

from auth_fn.schemas import (
    Accepted,
    EmailBody,
    LoginBody,
    RefreshBody,
    RegisterBody,
    ResetPasswordBody,
    Session,
    TokenBody,
    User,
    UserEnvelope,
)
from auth_fn.service import account
from auth_fn.service.common import Refused
from auth_fn.sessions import IssuedSession
from mm_common import db, emails
from mm_common.api import errors
from mm_common.auth import Caller, require
from mm_common.permissions import Action

router = APIRouter()

Public = Annotated[Caller, require(Action.PUBLIC)]
Myself = Annotated[Caller, require(Action.SELF)]

REFRESH_COOKIE = "mm_refresh"
REFRESH_COOKIE_PATH = "/api/auth"


def _set_refresh_cookie(response: Response, issued: IssuedSession) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        issued.refresh_token,
        max_age=int((issued.expires_at - datetime.now(UTC)).total_seconds()) if issued.remember else None,
        path=REFRESH_COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )


def _clear_refresh_cookie(response: Response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=True, httponly=True, samesite="strict")


def _cookie_clearing_headers() -> dict[str, str]:
    """The Set-Cookie header that drops the refresh cookie, for error responses."""
    response = Response()
    _clear_refresh_cookie(response)
    return {"set-cookie": response.headers["set-cookie"]}


def _presented_token(request: Request, body: RefreshBody | None, cookie: str | None) -> tuple[str, bool]:
    presented: tuple[str, bool] = account.presented_refresh_token(
        in_body=body.refresh_token if body is not None else None,
        in_cookie=cookie,
        origin=request.headers.get("origin"),
    )
    return presented


@router.post(
    "/api/auth/register",
    status_code=201,
    response_model=UserEnvelope,
    summary="Create an account",
    responses={
        **errors(409, 429),
        403: {
            "description": (
                "signups_closed: sign-ups are closed; invitation_required: sign-ups are by invitation only and "
                "this address has no pending invitation. Nothing was created."
            )
        },
    },
)
def register(body: RegisterBody, caller: Public) -> UserEnvelope:
    with db.transaction() as conn:
        account.count_sign_up(conn, caller)
    with db.transaction() as conn:
        user, token = account.register(conn, caller, email=body.email, password=body.password, full_name=body.full_name)
    emails.send_verification(user["email"], token)  # once the account is committed
    return UserEnvelope(user=User.from_row(user))


@router.post(
    "/api/auth/verify-email", response_model=UserEnvelope, summary="Confirm an e-mail address", responses=errors(404)
)
def verify_email(body: TokenBody, caller: Public) -> UserEnvelope:
    with db.transaction() as conn:
        user = account.verify_email(conn, caller, body.token)
    return UserEnvelope(user=User.from_row(user))


@router.post(
    "/api/auth/resend-verification",
    status_code=202,
    response_model=Accepted,
    summary="Send the confirmation again",
    responses=errors(429),
)
def resend_verification(body: EmailBody, caller: Public) -> Accepted:
    with db.transaction() as conn:
        token = account.resend_verification(conn, body.email)
    if token:
        emails.send_verification(body.email, token)
    return Accepted(message="If that address has an unconfirmed account, a new link is on its way.")


@router.post(
    "/api/auth/login",
    response_model=Session,
    response_model_exclude_none=True,
    summary="Sign in",
    responses=errors(401, 429),
)
def login(body: LoginBody, caller: Public, response: Response) -> Session:
    with db.transaction() as conn:
        attempt = account.count_sign_in_attempt(conn, caller, body.email)
    with db.transaction() as conn:
        result = account.sign_in(conn, caller, attempt, body.password, remember=body.remember_me)
    if isinstance(result, Refused):
        raise result.error
    assert result.session is not None
    _set_refresh_cookie(response, result.session)
    return Session(
        access_token=result.access_token,
        expires_in=result.expires_in,
        refresh_token=result.session.refresh_token if body.include_refresh_token else None,
        user=User.from_row(result.user),
    )


@router.post(
    "/api/auth/refresh",
    response_model=Session,
    response_model_exclude_none=True,
    summary="Rotate the session",
    responses=errors(401, 403),
)
def refresh(
    request: Request,
    response: Response,
    caller: Public,
    body: RefreshBody | None = None,
    mm_refresh: Annotated[str | None, Cookie()] = None,
) -> Session:
    token, from_cookie = _presented_token(request, body, mm_refresh)
    with db.transaction() as conn:
        result = account.refresh(conn, caller, token)
    if isinstance(result, Refused):
        if from_cookie:
            result.error.headers.update(_cookie_clearing_headers())  # the cookie's session is over
        raise result.error
    assert result.session is not None
    if from_cookie:
        _set_refresh_cookie(response, result.session)
    return Session(
        access_token=result.access_token,
        expires_in=result.expires_in,
        refresh_token=None if from_cookie else result.session.refresh_token,
        user=User.from_row(result.user),
    )


@router.post("/api/auth/logout", status_code=204, summary="Sign out (ends this session)", responses=errors(401, 403))
def logout(
    request: Request,
    response: Response,
    caller: Public,
    body: RefreshBody | None = None,
    mm_refresh: Annotated[str | None, Cookie()] = None,
) -> Response:
    token, _ = _presented_token(request, body, mm_refresh)
    with db.transaction() as conn:
        account.sign_out(conn, caller, token)
    response.status_code = 204
    _clear_refresh_cookie(response)
    return response


@router.post(
    "/api/auth/logout-all",
    status_code=204,
    response_class=Response,
    summary="Sign out everywhere (ends every session of yours, this one included)",
)
def logout_all(caller: Myself) -> Response:
    with db.transaction() as conn:
        account.sign_out_everywhere(conn, caller)
    response = Response(status_code=204)
    _clear_refresh_cookie(response)
    return response


@router.post(
    "/api/auth/forgot-password",
    status_code=202,
    response_model=Accepted,
    summary="E-mail a reset link",
    responses=errors(429),
)
def forgot_password(body: EmailBody, caller: Public) -> Accepted:
    with db.transaction() as conn:
        token = account.request_password_reset(conn, caller, body.email)
    if token:
        emails.send_password_reset(body.email, token)
    # The same answer whether or not the account exists: no account enumeration.
    return Accepted(message="If an account uses that address, a reset link is on its way.")


@router.post(
    "/api/auth/reset-password",
    response_model=UserEnvelope,
    summary="Set a new password from a reset link",
    responses=errors(404),
)
def reset_password(body: ResetPasswordBody, caller: Public) -> UserEnvelope:
    with db.transaction() as conn:
        user = account.reset_password(conn, caller, body.token, body.password)
    return UserEnvelope(user=User.from_row(user))
