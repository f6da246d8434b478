"""Platform administration of users, one implementation for both doors: the auth function's ``/api/users``
and the admin function's ``/api/admin/users`` (list, look up, change the global role, ban and unban, sign out
everywhere, a new confirmation link).

A ban, a role change and a forced sign-out stop the user's access tokens at once: a ban and a role change bump
``users.token_version`` (tokens carry it), and every path that ends sign-ins revokes the user's refresh sessions
(an access token lives only as long as its sign-in's session family, see :func:`mm_common.auth.authenticate`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, LiteralString

from mm_common import audit, db, ratelimit
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import Conflict, NotFound
from mm_common.identity import normalize_email
from mm_common.pagination import Keyset, fetch_page
from mm_common.permissions import PERMISSIONS, Action, GlobalRole, allowed_globally
from mm_common.tokens import hash_secret, new_secret

if TYPE_CHECKING:
    from mm_common.auth import Caller

Status = Literal["active", "banned", "unverified"]

# A confirmation link works for a day (the same as the one sent at sign-up).
VERIFICATION_TTL = timedelta(hours=24)
# Confirmation e-mails to one address: the auth function's resend limit (the same bucket), per hour.
VERIFICATION_WINDOW_S = 3600

USER_COLUMNS = (
    "u.id, u.email, u.full_name, u.avatar_url, u.role, u.email_verified, u.is_active, u.banned_at, u.ban_reason,"
    " u.created_at, u.last_login_at"
)
# The list's counts: organizations the user belongs to, and live projects they created.
SUMMARY_COLUMNS = (
    USER_COLUMNS + ", (SELECT count(*) FROM organization_members m WHERE m.user_id = u.id) AS organizations_count,"
    " (SELECT count(*) FROM projects p WHERE p.created_by = u.id AND p.deleted_at IS NULL) AS projects_count"
)
NEWEST_USERS_FIRST = Keyset(column="u.created_at", id_column="u.id", descending=True)
STATUS_CONDITIONS: dict[str, str] = {
    "active": "u.is_active AND u.email_verified",
    "banned": "NOT u.is_active",
    "unverified": "u.is_active AND NOT u.email_verified",
}


def user_id_or_404(value: str) -> uuid.UUID:
    """A user id from the path; anything that is not a UUID names no user."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("There is no such user.") from None


def users_page(
    conn: Connection,
    *,
    text: str | None = None,
    role: str | None = None,
    status: Status | None = None,
    is_active: bool | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Users newest first, filtered by part of the e-mail or name (taken literally), role and state."""
    conditions: list[str] = []
    params: list[Any] = []
    if text:
        pattern = db.contains_pattern(text)
        conditions.append("(u.email ILIKE %s OR u.full_name ILIKE %s)")
        params += [pattern, pattern]
    if role:
        conditions.append("u.role = %s")
        params.append(role)
    if status:
        conditions.append(STATUS_CONDITIONS[status])
    if is_active is not None:
        conditions.append("u.is_active = %s")
        params.append(is_active)
    return fetch_page(
        conn,
        f"SELECT {SUMMARY_COLUMNS} FROM users u",
        conditions,
        params,
        NEWEST_USERS_FIRST,
        limit=limit,
        cursor=cursor,
    )


def load_user(conn: Connection, user_id: uuid.UUID) -> dict[str, Any]:
    row = conn.execute(f"SELECT {SUMMARY_COLUMNS} FROM users u WHERE u.id = %s", (user_id,)).fetchone()
    if row is None:
        raise NotFound("There is no such user.")
    return dict(row)


def memberships(conn: Connection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """The organizations the user belongs to, with their role, oldest membership first."""
    rows = conn.execute(
        """
        SELECT o.id AS organization_id, o.name, o.slug, o.subscription_tier AS tier, m.role, m.joined_at
        FROM organization_members m JOIN organizations o ON o.id = m.organization_id
        WHERE m.user_id = %s ORDER BY m.joined_at, o.id
        """,
        (user_id,),
    ).fetchall()
    return [dict(row) for row in rows]


def revoke_sessions_where(conn: Connection, condition: LiteralString, params: tuple[Any, ...]) -> int:
    """Revoke the sessions ``condition`` selects, and keep at it until none is left unrevoked; how many were
    revoked. Every path that ends sign-ins (the auth function's sign-outs and password changes, a ban, an
    admin's "sign out everywhere") goes through here.

    A refresh running meanwhile holds the row it rotates and inserts the family's next session. The UPDATE
    waits for it, then skips the row it replaced, and cannot see the new one (it was not committed when the
    statement began); the next look, with a fresh snapshot, finds it.
    """
    revoked = 0
    while True:
        revoked += conn.execute(
            "UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL AND " + condition, params
        ).rowcount
        left = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE revoked_at IS NULL AND " + condition + ") AS left", params
        ).fetchone()
        if left is None or not left["left"]:
            return revoked


def revoke_sessions(conn: Connection, user_id: uuid.UUID) -> int:
    """End every sign-in of the user (their refresh sessions): their access tokens stop with them."""
    return revoke_sessions_where(conn, "user_id = %s", (user_id,))


def active_sessions(conn: Connection, user_id: uuid.UUID) -> int:
    """How many of the user's sessions are neither revoked nor expired (one per live sign-in: a refresh
    revokes the session it replaces)."""
    row = conn.execute(
        "SELECT count(*) AS n FROM sessions WHERE user_id = %s AND revoked_at IS NULL AND expires_at > now()",
        (user_id,),
    ).fetchone()
    return int(row["n"]) if row else 0


def _manages_users(role: str) -> bool:
    return allowed_globally(PERMISSIONS[Action.USERS_MANAGE], role)


def _check_lockout(
    conn: Connection, caller: Caller | None, user: dict[str, Any], role: str | None, banned: bool | None
) -> None:
    """Refuse (409) a change that would leave the caller, or the platform, without an administrator able to
    manage users: banning or demoting oneself, or the last active admin. ``caller`` None: an operator's CLI."""
    loses_admin = (banned is True and user["is_active"]) or (role is not None and not _manages_users(role))
    if not loses_admin or not _manages_users(user["role"]) or not user["is_active"]:
        return
    if caller is not None and user["id"] == caller.user_id:
        raise Conflict("You cannot ban yourself or give up your own admin role.", code="self_lockout")
    # Lock every active admin's row: two admins demoting each other at once cannot both pass.
    admins = conn.execute(
        "SELECT id FROM users WHERE role = %s AND is_active ORDER BY id FOR UPDATE", (GlobalRole.ADMIN.value,)
    ).fetchall()
    if all(row["id"] == user["id"] for row in admins):
        raise Conflict("This is the last administrator: make someone else an admin first.", code="last_admin")


def update_user(
    conn: Connection,
    caller: Caller,
    user_id: uuid.UUID,
    *,
    role: str | None = None,
    banned: bool | None = None,
    ban_reason: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Change a user's global role and/or ban or unban them; audited. A ban ends every sign-in and access
    token of the user at once. The user after the change, and the audit actions recorded."""
    before = load_user(conn, user_id)
    _check_lockout(conn, caller, before, role, banned)
    done: list[str] = []
    if role is not None and role != before["role"]:
        # Access tokens carry the role: older ones must not keep the previous one.
        conn.execute("UPDATE users SET role = %s, token_version = token_version + 1 WHERE id = %s", (role, user_id))
        audit.log(
            conn,
            caller,
            "user.role_change",
            resource_type="user",
            resource_id=user_id,
            details={"from": before["role"], "to": role},
            organization_id=None,
        )
        done.append("user.role_change")
    if banned is not None and banned == before["is_active"]:
        action = _set_banned(conn, user_id, banned, ban_reason)
        audit.log(
            conn,
            caller,
            action,
            resource_type="user",
            resource_id=user_id,
            details={"reason": ban_reason} if banned and ban_reason else None,
            organization_id=None,
        )
        done.append(action)
    return load_user(conn, user_id), done


def _set_banned(conn: Connection, user_id: uuid.UUID, banned: bool, reason: str | None) -> str:
    """Ban (every sign-in and access token ends at once) or unban; the audit action it is."""
    if banned:
        conn.execute(
            "UPDATE users SET is_active = FALSE, banned_at = now(), ban_reason = %s,"
            " token_version = token_version + 1 WHERE id = %s",
            (reason, user_id),
        )
        revoke_sessions(conn, user_id)
        return "user.ban"
    conn.execute("UPDATE users SET is_active = TRUE, banned_at = NULL, ban_reason = NULL WHERE id = %s", (user_id,))
    return "user.unban"


def operator_set_banned(conn: Connection, email: str, *, banned: bool, reason: str | None) -> bool:
    """The operator's emergency switch (``python -m mmctl ban``/``unban``, no signed-in caller): ban or unban
    the user with this e-mail address, audited as done through mmctl. Refuses (409) to ban the last admin.
    Whether anything changed; NotFound for an unknown address."""
    row = conn.execute("SELECT id FROM users WHERE email = %s", (normalize_email(email),)).fetchone()
    if row is None:
        raise NotFound("No user has this e-mail address.", code="user_not_found")
    user = load_user(conn, row["id"])
    if banned != user["is_active"]:
        return False
    _check_lockout(conn, None, user, None, banned)
    action = _set_banned(conn, user["id"], banned, reason)
    details: dict[str, Any] = {"via": "mmctl"}
    if banned and reason:
        details["reason"] = reason
    audit.record(conn, action, meta=None, resource_type="user", resource_id=user["id"], details=details)
    return True


def sign_out_everywhere(conn: Connection, caller: Caller, user_id: uuid.UUID) -> int:
    """End every sign-in of the user (their access tokens stop at once); audited. How many sessions ended."""
    load_user(conn, user_id)
    revoked = revoke_sessions(conn, user_id)
    audit.log(
        conn,
        caller,
        "user.force_logout",
        resource_type="user",
        resource_id=user_id,
        details={"sessions": revoked},
        organization_id=None,
    )
    return revoked


def new_verification_token(conn: Connection, caller: Caller, user_id: uuid.UUID) -> tuple[str, str]:
    """A fresh confirmation link's token for a user who has not confirmed their address (409 if they have),
    audited: the address and the token to e-mail once committed."""
    user = load_user(conn, user_id)
    if user["email_verified"]:
        raise Conflict("This user's e-mail address is confirmed already.", code="already_verified")
    ratelimit.hit(
        f"verify:email:{user['email']}",
        limit=get_settings().rate_limit_password_reset,
        window_s=VERIFICATION_WINDOW_S,
        message="Too many e-mails sent to this address. Try again in an hour.",
        conn=conn,
    )
    token = new_secret()
    conn.execute(
        "INSERT INTO email_verification_tokens (user_id, token_hash, expires_at) VALUES (%s, %s, %s)",
        (user_id, hash_secret(token), datetime.now(UTC) + VERIFICATION_TTL),
    )
    audit.log(conn, caller, "user.verification_resent", resource_type="user", resource_id=user_id, organization_id=None)
    return str(user["email"]), token
