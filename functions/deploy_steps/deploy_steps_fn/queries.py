"""The deploy steps' SQL reads: a deployment with its project and organization, the version deployed, and
the names other projects already own. Writes go through mm_common.deployments."""

from __future__ import annotations

from typing import Any

from mm_common.db import Connection


def deployment_context(conn: Connection, deployment_id: Any) -> dict[str, Any] | None:
    """The deployment, its project (with the names recorded on it) and organization, and the version's number,
    message, manifest and author."""
    row = conn.execute(
        """
        SELECT d.id, d.project_id, d.version_id, d.status, d.kind, d.database, d.commit_sha, d.url,
               d.build_action_id, d.build_log, d.triggered_by,
               p.organization_id, p.name AS project_name, p.slug, p.gitea_repo_id, p.gitea_repo_url,
               p.gitea_repo_full_name, p.easypanel_project_id, p.easypanel_app_id, p.easypanel_database_id,
               p.environment_variables, p.database_secret, p.custom_domain,
               o.slug AS organization_slug,
               v.number AS version_number, v.message AS version_message, v.manifest_key,
               v.gitea_commit_id, u.full_name AS author_name, u.email AS author_email,
               t.email AS triggered_by_email
        FROM deployment_logs d
        JOIN projects p ON p.id = d.project_id
        JOIN organizations o ON o.id = p.organization_id
        LEFT JOIN project_versions v ON v.project_id = d.project_id AND v.id = d.version_id
        LEFT JOIN users u ON u.id = v.created_by
        LEFT JOIN users t ON t.id = d.triggered_by
        WHERE d.id = %s
        """,
        (deployment_id,),
    ).fetchone()
    return dict(row) if row is not None else None


def organization_easypanel_project(conn: Connection, organization_id: Any) -> str | None:
    """The Easypanel project another project of the organization recorded (one per organization)."""
    row = conn.execute(
        """
        SELECT easypanel_project_id FROM projects
        WHERE organization_id = %s AND easypanel_project_id IS NOT NULL
        ORDER BY created_at LIMIT 1
        """,
        (organization_id,),
    ).fetchone()
    return str(row["easypanel_project_id"]) if row is not None else None


def service_name_taken(conn: Connection, project_id: Any, name: str) -> bool:
    """Whether another project (deleted ones included: they own their names until purged) recorded ``name``."""
    row = conn.execute(
        """
        SELECT 1 FROM projects
        WHERE id <> %s AND (easypanel_app_id = %s OR easypanel_database_id = %s)
        LIMIT 1
        """,
        (project_id, name, name),
    ).fetchone()
    return row is not None


def lock_repository(conn: Connection, project_id: Any) -> None:
    """The mirror worker's per-project lock (the same key): a deploy's commit never interleaves with the
    mirror's. A session lock, held across the Gitea calls."""
    conn.execute("SELECT pg_advisory_lock(hashtextextended('gitea-mirror:' || %s::text, 0))", (project_id,))


def unlock_repository(conn: Connection, project_id: Any) -> None:
    conn.execute("SELECT pg_advisory_unlock(hashtextextended('gitea-mirror:' || %s::text, 0))", (project_id,))


def previous_deployed_commit(conn: Connection, project_id: Any, deployment_id: Any) -> dict[str, Any] | None:
    """The deploy branch's commit of the project's latest other deployment that pushed one, with the manifest of
    the version it held (``commit_sha``, ``manifest_key``)."""
    row = conn.execute(
        """
        SELECT d.commit_sha, v.manifest_key FROM deployment_logs d
        JOIN project_versions v ON v.project_id = d.project_id AND v.id = d.version_id
        WHERE d.project_id = %s AND d.id <> %s AND d.commit_sha IS NOT NULL
        ORDER BY d.started_at DESC LIMIT 1
        """,
        (project_id, deployment_id),
    ).fetchone()
    return dict(row) if row else None
