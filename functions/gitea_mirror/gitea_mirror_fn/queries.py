"""The mirror's SQL: the project and its versions waiting for a commit, and what Gitea answered."""

from __future__ import annotations

import uuid
from typing import Any

from mm_common.db import Connection


def project_for_mirror(conn: Connection, project_id: uuid.UUID) -> dict[str, Any] | None:
    """The live project with its organization's slug. FOR SHARE waits for a transaction still
    creating a version of it (it holds the row FOR UPDATE), so what follows sees that version, or
    sees that it was rolled back."""
    row = conn.execute(
        """
        SELECT p.id, p.organization_id, p.slug, o.slug AS organization_slug, p.gitea_repo_id, p.gitea_repo_url
        FROM projects p JOIN organizations o ON o.id = p.organization_id
        WHERE p.id = %s AND p.deleted_at IS NULL
        FOR SHARE OF p
        """,
        (project_id,),
    ).fetchone()
    return dict(row) if row is not None else None


def version_number(conn: Connection, project_id: uuid.UUID, version_id: uuid.UUID) -> int | None:
    row = conn.execute(
        "SELECT number FROM project_versions WHERE project_id = %s AND id = %s", (project_id, version_id)
    ).fetchone()
    return int(row["number"]) if row is not None else None


def record_repository(conn: Connection, project_id: uuid.UUID, repo_id: int, repo_url: str) -> None:
    conn.execute(
        "UPDATE projects SET gitea_repo_id = %s, gitea_repo_url = %s WHERE id = %s", (repo_id, repo_url, project_id)
    )


def lock_mirror(conn: Connection, project_id: uuid.UUID) -> None:
    """One mirror per project at a time: wait (at most the statement timeout) for another one to
    finish. A session lock, held across the Gitea calls and the short transactions between them."""
    conn.execute("SELECT pg_advisory_lock(hashtextextended('gitea-mirror:' || %s::text, 0))", (project_id,))


def unlock_mirror(conn: Connection, project_id: uuid.UUID) -> None:
    conn.execute("SELECT pg_advisory_unlock(hashtextextended('gitea-mirror:' || %s::text, 0))", (project_id,))
