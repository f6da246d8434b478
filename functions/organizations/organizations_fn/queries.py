"""The SQL of the organizations function, one named function per statement the service needs.

Every function runs on the caller's connection, inside the transaction the route opened.
Members and invitations are always looked up *within* an organization, so another tenant's
ids are simply absent.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from mm_common import db
from mm_common.db import Connection
from mm_common.organizations import OWNER_ROLE
from mm_common.pagination import Keyset, fetch_page

ORGANIZATION_FIELDS = (
    "id",
    "name",
    "slug",
    "owner_id",
    "subscription_tier",
    "subscription_status",
    "suspended_at",
    "created_at",
    "updated_at",
)
ORGANIZATION_COLUMNS = ", ".join(f"o.{field}" for field in ORGANIZATION_FIELDS)
MEMBER_SELECT = """
    SELECT m.id, m.user_id, u.email, u.full_name, m.role, m.permissions, m.joined_at
    FROM organization_members m JOIN users u ON u.id = m.user_id
"""
INVITATION_COLUMNS = "id, organization_id, email, role, permissions, invited_by, expires_at, created_at"
# Pending: neither accepted nor revoked, and not expired.
PENDING = "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()"

ORGANIZATION_ORDER = Keyset(column="o.created_at", id_column="o.id", descending=True)  # newest first
MEMBER_ORDER = Keyset(column="m.joined_at", id_column="m.id", descending=False)  # in the order they joined
INVITATION_ORDER = Keyset(column="created_at", id_column="id", descending=True)  # newest first

Page = tuple[list[dict[str, Any]], str | None]


# ------------------------------------------------------------------------------ organizations


def lock_organization(conn: Connection, organization_id: uuid.UUID) -> dict[str, Any] | None:
    """The organization, row-locked: membership changes of one organization run one at a time.

    ``FOR NO KEY UPDATE`` does not block inserts that merely reference the organization."""
    return conn.execute(
        f"SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = %s FOR NO KEY UPDATE",
        (organization_id,),
    ).fetchone()


def load_organization(conn: Connection, organization_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(
        f"SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = %s", (organization_id,)
    ).fetchone()


def organizations_page(conn: Connection, user_id: uuid.UUID, *, every: bool, limit: int, cursor: str | None) -> Page:
    """The user's organizations (``every``: all of them), each with the user's role in it
    (``member_role``, NULL where they are not a member)."""
    if every:
        source = "organizations o LEFT JOIN organization_members m ON m.organization_id = o.id AND m.user_id = %s"
    else:
        source = "organization_members m JOIN organizations o ON o.id = m.organization_id AND m.user_id = %s"
    return fetch_page(
        conn,
        f"SELECT {ORGANIZATION_COLUMNS}, m.role AS member_role FROM {source}",
        [],
        [user_id],
        ORGANIZATION_ORDER,
        limit=limit,
        cursor=cursor,
    )


def slug_taken(conn: Connection, slug: str, *, by_other_than: uuid.UUID) -> bool:
    row = conn.execute("SELECT 1 FROM organizations WHERE slug = %s AND id <> %s", (slug, by_other_than)).fetchone()
    return row is not None


def update_organization(conn: Connection, organization_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any]:
    row = db.update_row(
        conn, "organizations", changes, {"id": organization_id}, returning=", ".join(ORGANIZATION_FIELDS)
    )
    assert row is not None  # the row is locked by this transaction
    return row


def delete_organization(conn: Connection, organization_id: uuid.UUID) -> None:
    conn.execute("DELETE FROM organizations WHERE id = %s", (organization_id,))


# ------------------------------------------------------------------------------------ members


def load_member(conn: Connection, organization_id: uuid.UUID, member_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(
        MEMBER_SELECT + " WHERE m.organization_id = %s AND m.id = %s", (organization_id, member_id)
    ).fetchone()


def membership_of_user(conn: Connection, organization_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(
        MEMBER_SELECT + " WHERE m.organization_id = %s AND m.user_id = %s", (organization_id, user_id)
    ).fetchone()


def members_page(conn: Connection, organization_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    return fetch_page(
        conn, MEMBER_SELECT, ["m.organization_id = %s"], [organization_id], MEMBER_ORDER, limit=limit, cursor=cursor
    )


def has_member_with_email(conn: Connection, organization_id: uuid.UUID, email: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM organization_members m JOIN users u ON u.id = m.user_id"
        " WHERE m.organization_id = %s AND lower(u.email) = %s",
        (organization_id, email),
    ).fetchone()
    return row is not None


def owner_count(conn: Connection, organization_id: uuid.UUID) -> int:
    row = conn.execute(
        "SELECT count(*) AS owners FROM organization_members WHERE organization_id = %s AND role = %s",
        (organization_id, OWNER_ROLE),
    ).fetchone()
    assert row is not None
    return int(row["owners"])


def reassign_owner_id(conn: Connection, organization_id: uuid.UUID, leaving_user_id: uuid.UUID) -> None:
    """Point organizations.owner_id at the longest-standing remaining owner (call it when the user
    it names stops being an owner; at least one other owner must remain)."""
    conn.execute(
        """
        UPDATE organizations SET owner_id = (
            SELECT user_id FROM organization_members
            WHERE organization_id = %s AND role = %s AND user_id <> %s
            ORDER BY joined_at, id LIMIT 1
        )
        WHERE id = %s
        """,
        (organization_id, OWNER_ROLE, leaving_user_id, organization_id),
    )


def update_member(conn: Connection, member_id: uuid.UUID, role: str, permissions: list[str]) -> None:
    conn.execute(
        "UPDATE organization_members SET role = %s, permissions = %s WHERE id = %s",
        (role, db.jsonb(permissions), member_id),
    )


def delete_member(conn: Connection, member_id: uuid.UUID) -> None:
    conn.execute("DELETE FROM organization_members WHERE id = %s", (member_id,))


def insert_member(
    conn: Connection,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    permissions: list[str],
    invited_by: uuid.UUID | None,
) -> uuid.UUID | None:
    """The new membership's id, or None when the user is a member already."""
    row = conn.execute(
        """
        INSERT INTO organization_members (organization_id, user_id, role, permissions, invited_by)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (organization_id, user_id) DO NOTHING
        RETURNING id
        """,
        (organization_id, user_id, role, db.jsonb(permissions), invited_by),
    ).fetchone()
    return row["id"] if row else None


def standing_of(conn: Connection, organization_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any] | None:
    """What a user may do in an organization today: their account (global role, whether active)
    and their membership (member_id, role and permissions NULL when they are not a member)."""
    return conn.execute(
        """
        SELECT u.id AS user_id, u.role AS global_role, u.is_active,
               m.id AS member_id, m.role, m.permissions
        FROM users u
        LEFT JOIN organization_members m ON m.organization_id = %s AND m.user_id = u.id
        WHERE u.id = %s
        """,
        (organization_id, user_id),
    ).fetchone()


# -------------------------------------------------------------------------------- invitations


def invitations_page(conn: Connection, organization_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page:
    return fetch_page(
        conn,
        f"SELECT {INVITATION_COLUMNS} FROM invitations",
        ["organization_id = %s", PENDING],
        [organization_id],
        INVITATION_ORDER,
        limit=limit,
        cursor=cursor,
    )


def revoke_pending_invitations_to(conn: Connection, organization_id: uuid.UUID, email: str) -> list[uuid.UUID]:
    """Revoke the address's not-yet-used invitations (expired ones too: they still hold the
    one-pending-invitation index); their ids."""
    rows = conn.execute(
        "UPDATE invitations SET revoked_at = now()"
        " WHERE organization_id = %s AND lower(email) = %s AND accepted_at IS NULL AND revoked_at IS NULL"
        " RETURNING id",
        (organization_id, email),
    ).fetchall()
    return [row["id"] for row in rows]


def insert_invitation(
    conn: Connection,
    organization_id: uuid.UUID,
    *,
    email: str,
    role: str,
    permissions: list[str],
    token_hash: str,
    invited_by: uuid.UUID,
    valid_for: timedelta,
) -> dict[str, Any]:
    row = conn.execute(
        f"""
        INSERT INTO invitations (organization_id, email, role, permissions, token_hash, invited_by, expires_at)
        VALUES (%s, %s, %s, %s, %s, %s, now() + %s)
        RETURNING {INVITATION_COLUMNS}
        """,
        (organization_id, email, role, db.jsonb(permissions), token_hash, invited_by, valid_for),
    ).fetchone()
    assert row is not None
    return row


def revoke_pending_invitation(
    conn: Connection, organization_id: uuid.UUID, invitation_id: uuid.UUID
) -> dict[str, Any] | None:
    return conn.execute(
        f"UPDATE invitations SET revoked_at = now() WHERE id = %s AND organization_id = %s AND {PENDING}"
        " RETURNING id, email, role",
        (invitation_id, organization_id),
    ).fetchone()


def invitation_organization(conn: Connection, token_hash: str) -> uuid.UUID | None:
    row = conn.execute("SELECT organization_id FROM invitations WHERE token_hash = %s", (token_hash,)).fetchone()
    return row["organization_id"] if row else None


def lock_invitation(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    """The invitation, row-locked, with ``expired`` computed by the database's clock."""
    return conn.execute(
        "SELECT *, expires_at <= now() AS expired FROM invitations WHERE token_hash = %s FOR UPDATE",
        (token_hash,),
    ).fetchone()


def mark_invitation_accepted(conn: Connection, invitation_id: uuid.UUID, user_id: uuid.UUID) -> None:
    conn.execute("UPDATE invitations SET accepted_at = now(), accepted_by = %s WHERE id = %s", (user_id, invitation_id))
