"""Creating organizations (also the personal one every new account gets) and their owners."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from mm_common.db import Connection
from mm_common.slugs import slugify, unique_slug


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
                VALUES (%s, %s, 'owner', %s)
                """,
                (row["id"], owner_id, Jsonb(["view", "edit", "deploy", "manage", "invite"])),
            )
            return dict(row)
    raise RuntimeError("could not find a free slug for the organization")


def personal_organization_id(conn: Connection, user_id: uuid.UUID) -> uuid.UUID | None:
    """The organization a signed-in user works in by default: the oldest they own, else any."""
    row = conn.execute(
        """
        SELECT organization_id FROM organization_members WHERE user_id = %s
        ORDER BY (role = 'owner') DESC, joined_at, organization_id LIMIT 1
        """,
        (user_id,),
    ).fetchone()
    return row["organization_id"] if row else None
