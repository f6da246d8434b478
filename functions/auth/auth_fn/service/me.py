"""The signed-in user's own account: profile, password and sign-ins (sessions)."""

from __future__ import annotations

from typing import Any

from auth_fn import queries, sessions
from auth_fn.service.common import SERVICE, SignedIn, issue_access_token_for, load_user
from mm_common import audit
from mm_common.auth import Caller, parse_uuid
from mm_common.db import Connection
from mm_common.errors import Forbidden, NotFound, Unprocessable
from mm_common.observability import count, traced
from mm_common.passwords import verify_password


def _me(caller: Caller) -> Any:
    assert caller.user_id is not None, "these routes are for signed-in users"
    return caller.user_id


@traced(SERVICE)
def profile(conn: Connection, caller: Caller) -> dict[str, Any]:
    user: dict[str, Any] = load_user(conn, _me(caller))
    return user


@traced(SERVICE)
def update_profile(conn: Connection, caller: Caller, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply the fields the client sent (column: value); a name cannot become blank."""
    if changes.get("full_name") is not None:
        changes = {**changes, "full_name": changes["full_name"].strip()}
        if not changes["full_name"]:
            raise Unprocessable("Your name cannot be blank.", details=[{"field": "fullName"}])
    user: dict[str, Any] | None = queries.update_profile(conn, _me(caller), changes)
    if user is None:
        raise NotFound("There is no such user.")
    if changes:
        count(SERVICE, "ProfileUpdated")
    return user


@traced(SERVICE)
def change_password(conn: Connection, caller: Caller, current_password: str, new_password: str) -> SignedIn:
    """Set a new password. Every other sign-in ends; this one lives on with a fresh access token
    (the new password's token version ends every older access token, this client's included)."""
    user_id = _me(caller)
    assert caller.session_id is not None, "access tokens always name their sign-in"
    stored = queries.password_hash_of(conn, user_id)
    if stored is None or not verify_password(stored, current_password):
        raise Forbidden("Your current password is not right.", code="wrong_password")
    queries.set_password(conn, user_id, new_password)
    revoked = sessions.revoke_other_families(conn, user_id, keep_session=caller.session_id)
    audit.log(conn, caller, "user.password_change", details={"sessionsRevoked": revoked})
    count(SERVICE, "PasswordChanged")
    user = load_user(conn, user_id)
    access_token, expires_in = issue_access_token_for(conn, user, caller.session_id)
    return SignedIn(user, access_token, expires_in)


# ------------------------------------------------------------------------------- sign-ins


NO_SUCH_SESSION = "There is no such session, or it has ended already."


@traced(SERVICE)
def list_sessions(conn: Connection, caller: Caller) -> list[dict[str, Any]]:
    """The caller's live sign-ins (one per refresh family), the one of this access token marked current."""
    return sessions.live_families(conn, _me(caller), current_session=caller.session_id)


@traced(SERVICE)
def revoke_session(conn: Connection, caller: Caller, session_id: str) -> None:
    """End one of the caller's live sign-ins (this one too, if named): its refresh token and
    every access token of it stop at once. Another user's session, or one that ended: 404."""
    user_id = _me(caller)
    parsed = parse_uuid(session_id)
    family_id = sessions.revoke_live_family(conn, user_id, parsed) if parsed else None
    if family_id is None:
        raise NotFound(NO_SUCH_SESSION)
    audit.log(
        conn,
        caller,
        "user.session_revoke",
        resource_type="session",
        resource_id=parsed,
        details={"familyId": str(family_id)},
    )
    count(SERVICE, "SessionRevoked")
