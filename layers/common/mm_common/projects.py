"""New projects: the row, with a slug unique in its organization and the plan's project limit checked.

Shared by the projects function (a project from a template) and the import worker (a project from a desktop
app's history); the projects function's own service changes and deletes them afterwards.
"""

from __future__ import annotations

from typing import Any

from mm_common import db, plans
from mm_common.db import Connection
from mm_common.slugs import slugify, unique_slug

PROJECT_COLUMNS = (
    "id, organization_id, name, slug, description, template, status, install_command, build_command,"
    " start_command, auto_approve, environment_variables, current_version_id, deployment_url, created_by,"
    " created_at, updated_at, last_deployed_at"
)


def slug_taken(conn: Connection, organization_id: Any, slug: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM projects WHERE organization_id = %s AND slug = %s", (organization_id, slug)
    ).fetchone()
    return found is not None


def insert_project(
    conn: Connection,
    *,
    organization_id: Any,
    name: str,
    description: str | None,
    template: str,
    install_command: str | None,
    build_command: str | None,
    start_command: str | None,
    created_by: Any,
) -> dict[str, Any]:
    """Insert a project (no files, no version yet) after checking the organization's plan allows one more.

    The plan check locks the organization, which also serialises the slug choice; the unique index is the
    last word."""
    plans.check(conn, organization_id, "projects")
    slug = unique_slug(
        slugify(name, fallback="project"), lambda candidate: slug_taken(conn, organization_id, candidate)
    )
    row = conn.execute(
        f"""
        INSERT INTO projects
            (organization_id, name, slug, description, template, install_command, build_command,
             start_command, created_by)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        RETURNING {PROJECT_COLUMNS}
        """,
        (organization_id, name, slug, description, template, install_command, build_command, start_command, created_by),
    ).fetchone()
    assert row is not None
    return dict(row)


def add_sealed_variables(conn: Connection, project_id: Any, sealed: dict[str, Any]) -> int:
    """Add environment variables (already sealed for this project) to the project's; names it has keep their
    value. Returns how many were added."""
    row = conn.execute("SELECT environment_variables FROM projects WHERE id = %s FOR UPDATE", (project_id,)).fetchone()
    assert row is not None
    present = dict(row["environment_variables"] or {})
    added = {name: value for name, value in sealed.items() if name not in present}
    if added:
        conn.execute(
            "UPDATE projects SET environment_variables = %s WHERE id = %s",
            (db.jsonb({**present, **added}), project_id),
        )
    return len(added)
