"""Accounts and sessions: register, verify, log in, refresh, log out, reset; users (admin)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Cookie, Query, Request, Response

from auth_fn import sessions
from auth_fn.schemas import (
    Accepted,
    AdminUpdateUserBody,
    ChangePasswordBody,
    EmailBody,
    LoginBody,
    RefreshBody,
    RegisterBody,
    ResetPasswordBody,
    Session,
    TokenBody,
    UpdateMeBody,
    User,
    UserEnvelope,
    UserPage,
)
from mm_common import audit, db, emails, ratelimit
from mm_common.api import create_app, lambda_handler
from mm_common.auth import Caller, parse_uuid, require
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from mm_common.organizations import create_organization, personal_organization_id
from mm_common.pagination import Cursor, Limit, decode_time_cursor, page, time_key
from mm_common.passwords import hash_password, needs_rehash, verify_password
from mm_common.permissions import Action
from mm_common.tokens import hash_secret, issue_access_token, new_secret

app = create_app("auth")

REFRESH_COOKIE = "mm_refresh"
REFRESH_COOKIE_PATH = "/api/auth"
VERIFICATION_TTL = timedelta(hours=24)
RESET_TTL = timedelta(hours=1)
USER_COLUMNS = "id, email, full_name, avatar_url, role, email_verified, is_active, created_at, last_login_at"

Public = Annotated[Caller, require(Action.PUBLIC)]
SignedIn = Annotated[Caller, require(Action.SELF)]
PlatformAdmin = Annotated[Caller, require(Action.USERS_MANAGE)]


@cache
def _timing_hash() -> str:
    # Verifying against this when the account does not exist takes as long as a real check,
    # so response times do not tell which e-mail addresses have accounts.
    return hash_password(new_secret())


def _user(row: dict[str, Any]) -> User:
    return User.model_validate({k: row[k] for k in User.model_fields})


def _load_user(conn: Connection, user_id: Any) -> dict[str, Any]:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,)).fetchone()
    if row is None:
        raise NotFound("There is no such user.")
    return dict(row)


def _issue_token(conn: Connection, user: dict[str, Any], session_id: uuid.UUID) -> tuple[str, int]:
    version = conn.execute("SELECT token_version FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert version is not None
    organization = personal_organization_id(conn, user["id"])
    return issue_access_token(
        user_id=str(user["id"]),
        email=user["email"],
        role=user["role"],
        token_version=version["token_version"],
        organization_id=str(organization) if organization else None,
        session_id=str(session_id),
    )


def _set_refresh_cookie(response: Response, issued: sessions.IssuedSession) -> None:
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


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _refresh_token_from(request: Request, body: RefreshBody | None, cookie: str | None) -> tuple[str, bool]:
    """The presented refresh token and whether it came from the cookie (then CSRF-checked)."""
    if body is not None and body.refresh_token:
        return body.refresh_token, False
    if cookie:
        # A cookie is sent by the browser whoever asks; only our own SPA's origin may use it.
        origin = request.headers.get("origin")
        if origin is None or _origin(origin) != _origin(get_settings().app_url):
            raise Forbidden("This request must come from the MoreMinimore app.", code="csrf_check_failed")
        return cookie, True
    raise Unauthorized("No refresh token: sign in again.", code="invalid_refresh_token")


def _new_single_use_token(conn: Connection, table: str, user_id: Any, ttl: timedelta) -> str:
    token = new_secret()
    conn.execute(
        f"INSERT INTO {table} (user_id, token_hash, expires_at) VALUES (%s, %s, %s)",  # table: a constant here
        (user_id, hash_secret(token), datetime.now(UTC) + ttl),
    )
    return token


def _consume_single_use_token(conn: Connection, table: str, token: str) -> Any:
    row = conn.execute(
        f"""
        UPDATE {table} SET used_at = now()
        WHERE token_hash = %s AND used_at IS NULL AND expires_at > now()
        RETURNING user_id
        """,
        (hash_secret(token),),
    ).fetchone()
    if row is None:
        raise BadRequest("This link is not valid any more: it was used already or has expired.", code="invalid_token")
    return row["user_id"]


# ------------------------------------------------------------------------------- accounts


@app.post("/api/auth/register", status_code=201, response_model=UserEnvelope, summary="Create an account")
def register(body: RegisterBody, caller: Public) -> UserEnvelope:
    ratelimit.hit(
        f"register:ip:{caller.meta.ip_address}",
        limit=20,
        window_s=3600,
        message="Too many sign-ups from this network. Try again later.",
    )
    with db.transaction() as conn:
        row = conn.execute(
            f"""
            INSERT INTO users (email, password_hash, full_name) VALUES (%s, %s, %s)
            ON CONFLICT DO NOTHING RETURNING {USER_COLUMNS}
            """,
            (body.email, hash_password(body.password), body.full_name),
        ).fetchone()
        if row is None:
            raise Conflict("An account with this e-mail address exists already. Sign in instead.", code="email_taken")
        user = dict(row)
        create_organization(conn, name=f"{body.full_name}'s workspace", owner_id=user["id"])
        token = _new_single_use_token(conn, "email_verification_tokens", user["id"], VERIFICATION_TTL)
        audit.record(
            conn, "user.register", meta=caller.meta, user_id=user["id"], resource_type="user", resource_id=user["id"]
        )
    emails.send_verification(user["email"], token)
    return UserEnvelope(user=_user(user))


@app.post("/api/auth/verify-email", response_model=UserEnvelope, summary="Confirm an e-mail address")
def verify_email(body: TokenBody, caller: Public) -> UserEnvelope:
    with db.transaction() as conn:
        user_id = _consume_single_use_token(conn, "email_verification_tokens", body.token)
        conn.execute("UPDATE users SET email_verified = TRUE WHERE id = %s", (user_id,))
        audit.record(
            conn, "user.verify_email", meta=caller.meta, user_id=user_id, resource_type="user", resource_id=user_id
        )
        user = _load_user(conn, user_id)
    return UserEnvelope(user=_user(user))


@app.post(
    "/api/auth/resend-verification", status_code=202, response_model=Accepted, summary="Send the confirmation again"
)
def resend_verification(body: EmailBody, caller: Public) -> Accepted:
    settings = get_settings()
    ratelimit.hit(
        f"verify:email:{body.email}",
        limit=settings.rate_limit_password_reset,
        window_s=3600,
        message="Too many e-mails asked for this address. Try again in an hour.",
    )
    token = None
    with db.transaction() as conn:
        row = conn.execute(
            "SELECT id FROM users WHERE email = %s AND NOT email_verified AND is_active", (body.email,)
        ).fetchone()
        if row is not None:
            token = _new_single_use_token(conn, "email_verification_tokens", row["id"], VERIFICATION_TTL)
    if token:
        emails.send_verification(body.email, token)
    return Accepted(message="If that address has an unconfirmed account, a new link is on its way.")


# ------------------------------------------------------------------------------- sessions


@app.post("/api/auth/login", response_model=Session, response_model_exclude_none=True, summary="Sign in")
def login(body: LoginBody, caller: Public, response: Response) -> Session:
    settings = get_settings()
    message = "Too many sign-in attempts. Wait a few minutes and try again."
    for bucket in (f"login:email:{body.email}", f"login:ip:{caller.meta.ip_address}"):
        ratelimit.hit(bucket, limit=settings.rate_limit_login, window_s=15 * 60, message=message)

    row = db.fetch_one("SELECT *, password_hash FROM users WHERE email = %s", (body.email,))
    password_ok = verify_password(row["password_hash"] if row else _timing_hash(), body.password)
    if row is None or not password_ok:
        with db.transaction() as conn:
            audit.record(
                conn,
                "auth.login_failed",
                meta=caller.meta,
                user_id=row["id"] if row else None,
                details={"email": body.email, "reason": "unknown_email" if row is None else "wrong_password"},
            )
        raise Unauthorized("The e-mail address or the password is wrong.", code="invalid_credentials")
    user = dict(row)
    if not user["is_active"]:
        raise Forbidden(
            "This account is disabled. Contact support if you think this is a mistake.", code="account_disabled"
        )
    if not user["email_verified"]:
        raise Forbidden(
            "Confirm your e-mail address first: follow the link we sent you (or ask for a new one).",
            code="email_not_verified",
        )
    with db.transaction() as conn:
        if needs_rehash(user["password_hash"]):
            conn.execute(
                "UPDATE users SET password_hash = %s WHERE id = %s", (hash_password(body.password), user["id"])
            )
        conn.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (user["id"],))
        issued = sessions.start(conn, user_id=user["id"], remember=body.remember_me, meta=caller.meta)
        access_token, expires_in = _issue_token(conn, user, issued.session_id)
        audit.record(
            conn,
            "auth.login",
            meta=caller.meta,
            user_id=user["id"],
            resource_type="session",
            resource_id=issued.session_id,
        )
        fresh = _load_user(conn, user["id"])
    _set_refresh_cookie(response, issued)
    return Session(
        access_token=access_token,
        expires_in=expires_in,
        refresh_token=issued.refresh_token if body.include_refresh_token else None,
        user=_user(fresh),
    )


@app.post("/api/auth/refresh", response_model=Session, response_model_exclude_none=True, summary="Rotate the session")
def refresh(
    request: Request,
    response: Response,
    caller: Public,
    body: RefreshBody | None = None,
    mm_refresh: Annotated[str | None, Cookie()] = None,
) -> Session:
    token, from_cookie = _refresh_token_from(request, body, mm_refresh)
    reused = False
    with db.transaction() as conn:
        session = sessions.find_for_update(conn, token)
        if session is None:
            raise Unauthorized("This session is not valid. Sign in again.", code="invalid_refresh_token")
        if session["replaced_by"] is not None:
            # An already-rotated token came back: someone holds a copy. End the whole family.
            sessions.revoke_family(conn, session["family_id"])
            audit.record(
                conn,
                "auth.refresh_reuse",
                meta=caller.meta,
                user_id=session["user_id"],
                resource_type="session",
                resource_id=session["id"],
                details={"familyId": str(session["family_id"])},
            )
            reused = True
        elif session["revoked_at"] is not None or session["expires_at"] <= datetime.now(UTC):
            raise Unauthorized("This session has ended. Sign in again.", code="invalid_refresh_token")
        else:
            user = _load_user(conn, session["user_id"])
            if not user["is_active"]:
                sessions.revoke(conn, session["id"])
                raise Unauthorized("This account is disabled.", code="account_disabled")
            issued = sessions.rotate(conn, session, caller.meta)
            access_token, expires_in = _issue_token(conn, user, issued.session_id)
    if reused:
        _clear_refresh_cookie(response)
        raise Unauthorized(
            "This session was used from somewhere else, so every session of it has been ended. Sign in again.",
            code="refresh_token_reused",
        )
    if from_cookie:
        _set_refresh_cookie(response, issued)
    return Session(
        access_token=access_token,
        expires_in=expires_in,
        refresh_token=None if from_cookie else issued.refresh_token,
        user=_user(user),
    )


@app.post("/api/auth/logout", status_code=204, summary="Sign out (ends this session)")
def logout(
    request: Request,
    response: Response,
    caller: Public,
    body: RefreshBody | None = None,
    mm_refresh: Annotated[str | None, Cookie()] = None,
) -> Response:
    token, _ = _refresh_token_from(request, body, mm_refresh)
    with db.transaction() as conn:
        session = sessions.find_for_update(conn, token)
        if session is not None and session["revoked_at"] is None:
            sessions.revoke(conn, session["id"])
            audit.record(
                conn,
                "auth.logout",
                meta=caller.meta,
                user_id=session["user_id"],
                resource_type="session",
                resource_id=session["id"],
            )
    response.status_code = 204
    _clear_refresh_cookie(response)
    return response


# ------------------------------------------------------------------------------- passwords


@app.post("/api/auth/forgot-password", status_code=202, response_model=Accepted, summary="E-mail a reset link")
def forgot_password(body: EmailBody, caller: Public) -> Accepted:
    settings = get_settings()
    message = "Too many reset requests. Try again in an hour."
    for bucket in (f"reset:email:{body.email}", f"reset:ip:{caller.meta.ip_address}"):
        ratelimit.hit(bucket, limit=settings.rate_limit_password_reset, window_s=3600, message=message)
    token = None
    with db.transaction() as conn:
        row = conn.execute("SELECT id FROM users WHERE email = %s AND is_active", (body.email,)).fetchone()
        if row is not None:
            token = _new_single_use_token(conn, "password_reset_tokens", row["id"], RESET_TTL)
            audit.record(conn, "user.password_reset_requested", meta=caller.meta, user_id=row["id"])
    if token:
        emails.send_password_reset(body.email, token)
    # The same answer whether or not the account exists: no account enumeration.
    return Accepted(message="If an account uses that address, a reset link is on its way.")


def _set_password(conn: Connection, user_id: Any, password: str) -> None:
    conn.execute(
        """
        UPDATE users SET password_hash = %s, password_changed_at = now(), token_version = token_version + 1
        WHERE id = %s
        """,
        (hash_password(password), user_id),
    )


@app.post("/api/auth/reset-password", response_model=UserEnvelope, summary="Set a new password from a reset link")
def reset_password(body: ResetPasswordBody, caller: Public) -> UserEnvelope:
    with db.transaction() as conn:
        user_id = _consume_single_use_token(conn, "password_reset_tokens", body.token)
        _set_password(conn, user_id, body.password)
        # Following the link proved the mailbox is theirs.
        conn.execute("UPDATE users SET email_verified = TRUE WHERE id = %s", (user_id,))
        revoked = sessions.revoke_all(conn, user_id)
        audit.record(
            conn, "user.password_reset", meta=caller.meta, user_id=user_id, details={"sessionsRevoked": revoked}
        )
        user = _load_user(conn, user_id)
    return UserEnvelope(user=_user(user))


# ------------------------------------------------------------------------------- me


@app.get("/api/users/me", response_model=UserEnvelope, summary="The signed-in user")
def get_me(caller: SignedIn) -> UserEnvelope:
    with db.transaction() as conn:
        return UserEnvelope(user=_user(_load_user(conn, caller.user_id)))


@app.patch("/api/users/me", response_model=UserEnvelope, summary="Update your profile")
def update_me(body: UpdateMeBody, caller: SignedIn) -> UserEnvelope:
    changes = body.model_dump(exclude_unset=True)
    if "full_name" in changes and changes["full_name"] is not None:
        changes["full_name"] = changes["full_name"].strip()
        if not changes["full_name"]:
            raise Unprocessable("Your name cannot be blank.", details=[{"field": "fullName"}])
    with db.transaction() as conn:
        if changes:
            assignments = ", ".join(f"{column} = %s" for column in changes)  # columns from the model, not input
            conn.execute(f"UPDATE users SET {assignments} WHERE id = %s", (*changes.values(), caller.user_id))
        return UserEnvelope(user=_user(_load_user(conn, caller.user_id)))


@app.post(
    "/api/users/me/password", response_model=Session, response_model_exclude_none=True, summary="Change your password"
)
def change_password(body: ChangePasswordBody, caller: SignedIn) -> Session:
    with db.transaction() as conn:
        row = conn.execute("SELECT password_hash FROM users WHERE id = %s", (caller.user_id,)).fetchone()
        assert row is not None
        if not verify_password(row["password_hash"], body.current_password):
            raise Forbidden("Your current password is not right.", code="wrong_password")
        _set_password(conn, caller.user_id, body.new_password)
        revoked = sessions.revoke_all(conn, caller.user_id, except_session=caller.session_id)  # type: ignore[arg-type]
        audit.record(
            conn, "user.password_change", meta=caller.meta, user_id=caller.user_id, details={"sessionsRevoked": revoked}
        )
        user = _load_user(conn, caller.user_id)
        # Every older access token died with the new token version: hand this client a fresh one.
        access_token, expires_in = _issue_token(conn, user, caller.session_id or uuid.uuid4())
    return Session(access_token=access_token, expires_in=expires_in, user=_user(user))


# ------------------------------------------------------------------------------- users (admin)


@app.get("/api/users", response_model=UserPage, summary="List users (admin)")
def list_users(
    caller: PlatformAdmin,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of an e-mail or name")] = None,
    role: Annotated[str | None, Query(pattern="^(admin|co_admin|user)$")] = None,
    is_active: Annotated[bool | None, Query(alias="isActive")] = None,
) -> UserPage:
    conditions: list[str] = ["TRUE"]
    params: list[Any] = []
    key = decode_time_cursor(cursor)
    if key:
        conditions.append("(created_at, id) < (%s, %s)")
        params += key
    if q:
        conditions.append("(email ILIKE %s OR full_name ILIKE %s)")
        pattern = db.contains_pattern(q)
        params += [pattern, pattern]
    if role:
        conditions.append("role = %s")
        params.append(role)
    if is_active is not None:
        conditions.append("is_active = %s")
        params.append(is_active)
    rows = db.fetch_all(
        f"SELECT {USER_COLUMNS} FROM users WHERE {' AND '.join(conditions)} ORDER BY created_at DESC, id DESC LIMIT %s",
        (*params, limit + 1),
    )
    items, next_cursor = page([dict(r) for r in rows], limit, time_key("created_at"))
    return UserPage(items=[_user(r) for r in items], next_cursor=next_cursor)


def _user_id_or_404(value: str) -> uuid.UUID:
    user_id = parse_uuid(value)
    if user_id is None:
        raise NotFound("There is no such user.")
    return user_id


@app.get("/api/users/{id}", response_model=UserEnvelope, summary="One user (admin)")
def get_user(id: str, caller: PlatformAdmin) -> UserEnvelope:
    with db.transaction() as conn:
        return UserEnvelope(user=_user(_load_user(conn, _user_id_or_404(id))))


@app.patch("/api/users/{id}", response_model=UserEnvelope, summary="Change a user's role or ban/unban (admin)")
def update_user(id: str, body: AdminUpdateUserBody, caller: PlatformAdmin) -> UserEnvelope:
    user_id = _user_id_or_404(id)
    if user_id == caller.user_id and (body.is_active is False or (body.role and body.role != "admin")):
        raise Conflict("You cannot ban yourself or give up your own admin role.", code="self_lockout")
    with db.transaction() as conn:
        before = _load_user(conn, user_id)
        if body.role is not None and body.role != before["role"]:
            conn.execute(
                "UPDATE users SET role = %s, token_version = token_version + 1 WHERE id = %s", (body.role, user_id)
            )
            audit.record(
                conn,
                "user.role_change",
                meta=caller.meta,
                user_id=caller.user_id,
                resource_type="user",
                resource_id=user_id,
                details={"from": before["role"], "to": body.role},
            )
        if body.is_active is not None and body.is_active != before["is_active"]:
            if body.is_active:
                conn.execute("UPDATE users SET is_active = TRUE, banned_at = NULL WHERE id = %s", (user_id,))
            else:
                # Banned: every access token dies now (token version) and no session can refresh.
                conn.execute(
                    "UPDATE users SET is_active = FALSE, banned_at = now(), token_version = token_version + 1"
                    " WHERE id = %s",
                    (user_id,),
                )
                sessions.revoke_all(conn, user_id)
            audit.record(
                conn,
                "user.unban" if body.is_active else "user.ban",
                meta=caller.meta,
                user_id=caller.user_id,
                resource_type="user",
                resource_id=user_id,
            )
        return UserEnvelope(user=_user(_load_user(conn, user_id)))


handler = lambda_handler(app)
