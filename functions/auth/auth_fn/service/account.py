"""Accounts and sign-ins: sign up, confirm the address, sign in, refresh, sign out, reset a
forgotten password.

Sign-in limits count failures, not sign-ins: per e-mail address (``rate_limit_login``, a
locked account) and per client address (``rate_limit_login_per_ip``, higher, because an
office or a mobile network shares one). Every attempt is counted before its password is
checked, so a locked account answers 429 even to the right password and parallel guesses
cannot slip past the count; an attempt with the right password takes its count back and
clears the account's failures.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from auth_fn import queries, sessions
from auth_fn.queries import LinkTable
from auth_fn.service.common import SERVICE, Refused, SignedIn, acting_as, issue_access_token_for, load_user
from mm_common import audit, ratelimit, system_settings
from mm_common.auth import Caller
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import BadRequest, Conflict, Forbidden, TooManyRequests, Unauthorized
from mm_common.observability import count, traced
from mm_common.organizations import create_organization
from mm_common.passwords import hash_password, needs_rehash, verify_password
from mm_common.ratelimit import Counted
from mm_common.tokens import new_secret

VERIFICATION_TTL = timedelta(hours=24)
RESET_TTL = timedelta(hours=1)
SIGN_UPS_PER_ADDRESS_PER_HOUR = 20
SIGN_IN_WINDOW_S = 15 * 60
RESET_WINDOW_S = 60 * 60

INVALID_LINK = "This link is not valid any more: it was used already or has expired."


@cache
def _timing_hash() -> str:
    # Verifying against this when the account does not exist takes as long as a real check,
    # so response times do not tell which e-mail addresses have accounts.
    return hash_password(new_secret())


def _sign_in_failures(email: str) -> str:
    return f"login:email:{email}"


# ------------------------------------------------------------------------------- sign-up


@traced(SERVICE)
def count_sign_up(conn: Connection, caller: Caller) -> None:
    """Count a sign-up from the caller's address (committed on its own: refused ones count too)."""
    ratelimit.hit(
        f"register:ip:{caller.meta.ip_address}",
        limit=SIGN_UPS_PER_ADDRESS_PER_HOUR,
        window_s=3600,
        message="Too many sign-ups from this network. Try again later.",
        conn=conn,
    )


@traced(SERVICE)
def register(
    conn: Connection, caller: Caller, *, email: str, password: str, full_name: str
) -> tuple[dict[str, Any], str]:
    """Create the account, its personal organization and a confirmation link's token (403 when the
    sign-up policy refuses the address)."""
    system_settings.ensure_sign_up_allowed(conn, email)
    user = queries.insert_user(conn, email=email, password=password, full_name=full_name)
    if user is None:
        raise Conflict("An account with this e-mail address exists already. Sign in instead.", code="email_taken")
    create_organization(conn, name=f"{full_name}'s workspace", owner_id=user["id"])
    token = queries.new_link_token(conn, LinkTable.VERIFICATION, user["id"], VERIFICATION_TTL)
    audit.log(conn, acting_as(caller, user["id"]), "user.register", resource_type="user", resource_id=user["id"])
    count(SERVICE, "SignUp")
    return user, token


@traced(SERVICE)
def verify_email(conn: Connection, caller: Caller, token: str) -> dict[str, Any]:
    user_id = queries.consume_link_token(conn, LinkTable.VERIFICATION, token)
    if user_id is None:
        raise BadRequest(INVALID_LINK, code="invalid_token")
    queries.mark_email_verified(conn, user_id)
    audit.log(conn, acting_as(caller, user_id), "user.verify_email", resource_type="user", resource_id=user_id)
    count(SERVICE, "EmailVerified")
    user: dict[str, Any] = load_user(conn, user_id)
    return user


@traced(SERVICE)
def resend_verification(conn: Connection, email: str) -> str | None:
    """A new confirmation link's token when the address has an unconfirmed account, else None
    (the caller answers the same either way)."""
    ratelimit.hit(
        f"verify:email:{email}",
        limit=get_settings().rate_limit_password_reset,
        window_s=RESET_WINDOW_S,
        message="Too many e-mails asked for this address. Try again in an hour.",
        conn=conn,
    )
    user_id = queries.active_user_id(conn, email, unverified_only=True)
    if user_id is None:
        return None
    token: str = queries.new_link_token(conn, LinkTable.VERIFICATION, user_id, VERIFICATION_TTL)
    count(SERVICE, "VerificationResent")
    return token


# ------------------------------------------------------------------------------- sign-in


@dataclass(frozen=True)
class SignInAttempt:
    email: str
    from_address: Counted


@traced(SERVICE)
def count_sign_in_attempt(conn: Connection, caller: Caller, email: str) -> SignInAttempt:
    """Count an attempt against the account and the client address before its password is
    checked; 429 (with Retry-After) when either has too many failures in its window.

    Commit this on its own, before checking the password: failures must stay counted, and the
    counters must not stay locked while the (slow, on purpose) password hash is verified.
    """
    settings = get_settings()
    try:
        ratelimit.hit(
            _sign_in_failures(email),
            limit=settings.rate_limit_login,
            window_s=SIGN_IN_WINDOW_S,
            message="Too many failed sign-ins for this account. Wait a few minutes and try again.",
            conn=conn,
        )
        from_address = ratelimit.hit(
            f"login:ip:{caller.meta.ip_address}",
            limit=settings.rate_limit_login_per_ip,
            window_s=SIGN_IN_WINDOW_S,
            message="Too many failed sign-ins from this network. Wait a few minutes and try again.",
            conn=conn,
        )
    except TooManyRequests:
        count(SERVICE, "SignInThrottled")
        raise
    return SignInAttempt(email, from_address)


@traced(SERVICE)
def sign_in(
    conn: Connection, caller: Caller, attempt: SignInAttempt, password: str, *, remember: bool
) -> SignedIn | Refused:
    user = queries.user_for_sign_in(conn, attempt.email)
    if not verify_password(user["password_hash"] if user else _timing_hash(), password):
        audit.log(
            conn,
            acting_as(caller, user["id"] if user else None),
            "auth.login_failed",
            details={"email": attempt.email, "reason": "unknown_email" if user is None else "wrong_password"},
        )
        count(SERVICE, "SignInFailed")
        return Refused(Unauthorized("The e-mail address or the password is wrong.", code="invalid_credentials"))
    assert user is not None
    # The right password was no guess: the attempt does not count against the network, and the
    # account's earlier failures are forgiven.
    ratelimit.uncount(conn, attempt.from_address)
    ratelimit.clear(conn, _sign_in_failures(attempt.email))
    if not user["is_active"]:
        return Refused(
            Forbidden(
                "This account is disabled. Contact support if you think this is a mistake.", code="account_disabled"
            )
        )
    if not user["email_verified"]:
        return Refused(
            Forbidden(
                "Confirm your e-mail address first: follow the link we sent you (or ask for a new one).",
                code="email_not_verified",
            )
        )
    rehashed = hash_password(password) if needs_rehash(user["password_hash"]) else None
    queries.record_sign_in(conn, user["id"], new_password_hash=rehashed)
    issued = sessions.start(conn, user_id=user["id"], remember=remember, meta=caller.meta)
    access_token, expires_in = issue_access_token_for(conn, user, issued.session_id)
    audit.log(conn, acting_as(caller, user["id"]), "auth.login", resource_type="session", resource_id=issued.session_id)
    count(SERVICE, "SignIn")
    return SignedIn(load_user(conn, user["id"]), access_token, expires_in, issued)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def presented_refresh_token(*, in_body: str | None, in_cookie: str | None, origin: str | None) -> tuple[str, bool]:
    """The refresh token a request presents and whether it came from the cookie.

    A token in the body wins. The cookie is sent by the browser whoever asks, so it counts only
    when the request comes from our own app's origin (CSRF).
    """
    if in_body:
        return in_body, False
    if in_cookie:
        if origin is None or _origin(origin) != _origin(get_settings().app_url):
            raise Forbidden("This request must come from the MoreMinimore app.", code="csrf_check_failed")
        return in_cookie, True
    raise Unauthorized("No refresh token: sign in again.", code="invalid_refresh_token")


@traced(SERVICE)
def refresh(conn: Connection, caller: Caller, refresh_token: str) -> SignedIn | Refused:
    """Rotate the session: a new refresh token and access token of the same sign-in.

    A token that was rotated already and comes back means a copy exists: the whole sign-in
    (every session of the family, and so every access token of it) ends.
    """
    session = sessions.find_for_update(conn, refresh_token)
    if session is None:
        return Refused(Unauthorized("This session is not valid. Sign in again.", code="invalid_refresh_token"))
    if session["replaced_by"] is not None:
        sessions.revoke_family(conn, session["family_id"])
        audit.log(
            conn,
            acting_as(caller, session["user_id"]),
            "auth.refresh_reuse",
            resource_type="session",
            resource_id=session["id"],
            details={"familyId": str(session["family_id"])},
        )
        count(SERVICE, "RefreshTokenReused")
        return Refused(
            Unauthorized(
                "This session was used from somewhere else, so every session of it has been ended. Sign in again.",
                code="refresh_token_reused",
            )
        )
    if session["revoked_at"] is not None or session["expires_at"] <= datetime.now(UTC):
        return Refused(Unauthorized("This session has ended. Sign in again.", code="invalid_refresh_token"))
    user = load_user(conn, session["user_id"])
    if not user["is_active"]:
        sessions.revoke_family(conn, session["family_id"])
        return Refused(Unauthorized("This account is disabled.", code="account_disabled"))
    issued = sessions.rotate(conn, session, caller.meta)
    access_token, expires_in = issue_access_token_for(conn, user, issued.session_id)
    count(SERVICE, "SessionRefreshed")
    return SignedIn(user, access_token, expires_in, issued)


@traced(SERVICE)
def sign_out(conn: Connection, caller: Caller, refresh_token: str) -> None:
    """End the sign-in the refresh token belongs to (all of its family, whichever of its tokens
    is presented), so its access tokens stop at once too. Unknown tokens change nothing."""
    session = sessions.find_for_update(conn, refresh_token)
    if session is None or not sessions.revoke_family(conn, session["family_id"]):
        return
    audit.log(
        conn, acting_as(caller, session["user_id"]), "auth.logout", resource_type="session", resource_id=session["id"]
    )
    count(SERVICE, "SignOut")


@traced(SERVICE)
def sign_out_everywhere(conn: Connection, caller: Caller) -> int:
    """End every sign-in of the signed-in caller, this one included: every refresh token and
    access token of theirs stops at once. How many sessions were revoked."""
    assert caller.user_id is not None, "signing out everywhere needs a signed-in caller"
    revoked = sessions.revoke_all(conn, caller.user_id)
    audit.log(conn, caller, "user.logout_all", details={"sessionsRevoked": revoked})
    count(SERVICE, "SignOutEverywhere")
    return revoked


# ------------------------------------------------------------------------------- forgotten passwords


@traced(SERVICE)
def request_password_reset(conn: Connection, caller: Caller, email: str) -> str | None:
    """A reset link's token when an active account uses the address, else None (the caller
    answers the same either way). Limited per address asked for, and (higher) per client
    address so that one office does not lock itself out."""
    settings = get_settings()
    message = "Too many reset requests. Try again in an hour."
    ratelimit.hit(
        f"reset:email:{email}",
        limit=settings.rate_limit_password_reset,
        window_s=RESET_WINDOW_S,
        message=message,
        conn=conn,
    )
    ratelimit.hit(
        f"reset:ip:{caller.meta.ip_address}",
        limit=settings.rate_limit_password_reset_per_ip,
        window_s=RESET_WINDOW_S,
        message=message,
        conn=conn,
    )
    user_id = queries.active_user_id(conn, email)
    if user_id is None:
        return None
    token: str = queries.new_link_token(conn, LinkTable.PASSWORD_RESET, user_id, RESET_TTL)
    audit.log(conn, acting_as(caller, user_id), "user.password_reset_requested")
    count(SERVICE, "PasswordResetRequested")
    return token


@traced(SERVICE)
def reset_password(conn: Connection, caller: Caller, token: str, password: str) -> dict[str, Any]:
    """Set the new password and sign out everywhere: every session and access token ends."""
    user_id: uuid.UUID | None = queries.consume_link_token(conn, LinkTable.PASSWORD_RESET, token)
    if user_id is None:
        raise BadRequest(INVALID_LINK, code="invalid_token")
    queries.set_password(conn, user_id, password)
    # Following the link proved the mailbox is theirs.
    queries.mark_email_verified(conn, user_id)
    revoked = sessions.revoke_all(conn, user_id)
    audit.log(conn, acting_as(caller, user_id), "user.password_reset", details={"sessionsRevoked": revoked})
    count(SERVICE, "PasswordReset")
    user: dict[str, Any] = load_user(conn, user_id)
    return user
