"""Organizations and their members: creating one (also the personal one every new account gets),
and the data rules about roles that every reader and writer of memberships applies."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from mm_common import db
from mm_common.db import Connection
from mm_common.permissions import VIEWER_PERMISSIONS, MemberPermission, OrgRole
from mm_common.slugs import slugify, unique_slug

# The role every organization keeps at least one member in; organizations.owner_id names one of them.
OWNER_ROLE: str = OrgRole.OWNER.value
# Every per-member permission, in the canonical order stored lists keep.
ALL_PERMISSIONS: tuple[str, ...] = tuple(p.value for p in MemberPermission)
# Roles whose permissions are fixed whatever is stored or asked for: owners hold everything,
# viewers are read-only.
_FIXED_PERMISSIONS: dict[str, tuple[str, ...]] = {
    OrgRole.OWNER.value: ALL_PERMISSIONS,
    OrgRole.VIEWER.value: tuple(p for p in ALL_PERMISSIONS if p in VIEWER_PERMISSIONS),
}


def member_permissions(role: str | None, permissions: Iterable[str]) -> list[str]:
    """The permissions a member with ``role`` holds given the ``permissions`` stored or requested:
    deduplicated, in canonical order; viewers only view, owners hold everything."""
    if role is not None and role in _FIXED_PERMISSIONS:
        return list(_FIXED_PERMISSIONS[role])
    wanted = set(permissions)
    return [p for p in ALL_PERMISSIONS if p in wanted]


def ends_ownership(role_before: str, role_after: str | None) -> bool:
    """Whether a member with ``role_before`` stops being an owner when their role becomes
    ``role_after`` (None: they leave). The last owner cannot, and owner_id must move on."""
    return role_before == OWNER_ROLE and role_after != OWNER_ROLE


def create_organization(conn: Connection, *, name: str, owner_id: uuid.UUID) -> dict[str, Any]:
    """Insert an organization with a unique slug and its owner's membership."""

    def taken(slug: str) -> bool:
        return conn.execute("SELECT 1 FROM organizations WHERE slug = %s", (slug,)).fetchone() is not None

    # The unique index settles races between two creators of the same slug: retry on conflict.
    for _ in range(5):
        slug = unique_slug(slugify(name, fallback="workspace"), taken)
        row = conn.execute(
            """
            INSERT INTO organizations (name, slug, owner_id) VALUES (%s, %s, %s)
            ON CONFLICT (slug) DO NOTHING
            RETURNING *
            """,
            (name, slug, owner_id),
        ).fetchone()
        if row is not None:
            conn.execute(
                """
                INSERT INTO organization_members (organization_id, user_id, role, permissions)
                VALUES (%s, %s, %s, %s)
                """,
                (row["id"], owner_id, OWNER_ROLE, db.jsonb(member_permissions(OWNER_ROLE, ()))),
            )
            return dict(row)
    raise RuntimeError("could not find a free slug for the organization")


def personal_organization_id(conn: Connection, user_id: uuid.UUID) -> uuid.UUID | None:
    """The organization a signed-in user works in by default: the oldest they own, else any."""
    row = conn.execute(
        """
        SELECT organization_id FROM organization_members WHERE user_id = %s
        ORDER BY (role = %s) DESC, joined_at, organization_id LIMIT 1
        """,
        (user_id, OWNER_ROLE),
    ).fetchone()
    return row["organization_id"] if row else None
