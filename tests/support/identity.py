"""Test helpers: users, organizations and tokens made directly, fast (no e-mail round trips)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from mm_common.passwords import hash_password
from mm_common.tokens import issue_access_token

PASSWORD = "correct-horse-battery-staple"


@cache
def password_hash() -> str:
    # argon2 is slow on purpose: hash once per session and reuse.
    return hash_password(PASSWORD)


@dataclass
class Account:
    id: uuid.UUID
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_user(
    db: psycopg.Connection[Any],
    email: str | None = None,
    *,
    role: str = "user",
    verified: bool = True,
    active: bool = True,
    full_name: str = "Test User",
) -> Account:
    email = (email or f"user-{uuid.uuid4().hex[:10]}@example.com").lower()
    row = db.execute(
        """
        INSERT INTO users (email, password_hash, full_name, role, email_verified, is_active)
        VALUES (%s, %s, %s, %s, %s, %s) RETURNING id
        """,
        (email, password_hash(), full_name, role, verified, active),
    ).fetchone()
    assert row is not None
    user_id = row[0]
    token = access_token(db, user_id, email, role)
    return Account(user_id, email, role, token)


def access_token(db: psycopg.Connection[Any], user_id: uuid.UUID, email: str, role: str) -> str:
    """An access token backed by a live sign-in (a session row), as login would issue."""
    session = db.execute(
        "INSERT INTO sessions (user_id, refresh_token_hash, family_id, expires_at)"
        " VALUES (%s, %s, gen_random_uuid(), now() + interval '1 day') RETURNING id",
        (user_id, uuid.uuid4().hex),
    ).fetchone()
    assert session is not None
    token, _ = issue_access_token(
        user_id=str(user_id), email=email, role=role, token_version=0, organization_id=None, session_id=str(session[0])
    )
    return token


def make_organization(
    db: psycopg.Connection[Any], owner: Account, name: str = "Acme", tier: str = "enterprise"
) -> uuid.UUID:
    """An organization owned by ``owner``: Enterprise (no plan limits) unless the test is about a tier's."""
    slug = f"org-{uuid.uuid4().hex[:12]}"
    row = db.execute(
        "INSERT INTO organizations (name, slug, owner_id, subscription_tier) VALUES (%s, %s, %s, %s) RETURNING id",
        (name, slug, owner.id, tier),
    ).fetchone()
    assert row is not None
    add_member(db, row[0], owner, "owner", ["view", "edit", "deploy", "manage", "invite"])
    return row[0]  # type: ignore[no-any-return]


def add_member(
    db: psycopg.Connection[Any], organization_id: uuid.UUID, user: Account, role: str, permissions: list[str]
) -> uuid.UUID:
    row = db.execute(
        """
        INSERT INTO organization_members (organization_id, user_id, role, permissions)
        VALUES (%s, %s, %s, %s) RETURNING id
        """,
        (organization_id, user.id, role, Jsonb(permissions)),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]
