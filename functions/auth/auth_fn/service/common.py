"""What the auth service modules share: refusals that commit first, acting as a user, tokens."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from auth_fn import queries, sessions
from mm_common.auth import Caller
from mm_common.db import Connection
from mm_common.errors import ApiError, NotFound
from mm_common.organizations import personal_organization_id
from mm_common.tokens import issue_access_token

SERVICE = "auth"


@dataclass(frozen=True)
class Refused:
    """A refusal whose bookkeeping (an audit row, revoked sessions, a cleared counter) must be
    committed: the route raises ``error`` after its transaction ends, instead of rolling back."""

    error: ApiError


@dataclass(frozen=True)
class SignedIn:
    """A live sign-in: the user, the refresh session and an access token tied to it."""

    user: dict[str, Any]
    access_token: str
    expires_in: int
    session: sessions.IssuedSession | None = None


def acting_as(caller: Caller, user_id: uuid.UUID | None) -> Caller:
    """The anonymous caller of a public route, once a credential (password, link, refresh
    token) has shown which user it is: audit rows name that user."""
    return dataclasses.replace(caller, user_id=user_id)


def load_user(conn: Connection, user_id: Any) -> dict[str, Any]:
    user: dict[str, Any] | None = queries.user_by_id(conn, user_id)
    if user is None:
        raise NotFound("There is no such user.")
    return user


def issue_access_token_for(conn: Connection, user: dict[str, Any], session_id: uuid.UUID) -> tuple[str, int]:
    """An access token for ``user`` that lives as long as the sign-in ``session_id`` belongs to."""
    organization = personal_organization_id(conn, user["id"])
    return issue_access_token(
        user_id=str(user["id"]),
        email=user["email"],
        role=user["role"],
        token_version=queries.token_version_of(conn, user["id"]),
        organization_id=str(organization) if organization else None,
        session_id=str(session_id),
    )
