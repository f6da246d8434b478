"""The signed-in user's own account: profile and password."""

from __future__ import annotations

from typing import Any

from auth_fn import queries, sessions
from auth_fn.service.common import SERVICE, SignedIn, issue_access_token_for, load_user
from mm_common import audit
from mm_common.auth import Caller
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
