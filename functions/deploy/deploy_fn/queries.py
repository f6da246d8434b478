"""The SQL of the deploy function's service, as named functions (parameterized, always).

Deployments themselves are written only by ``mm_common.deployments``; this module reads them and
writes the one project setting the deploy API owns (the database a project deploys with)."""

from __future__ import annotations

from typing import Any

from mm_common.db import Connection
from mm_common.deployments import DEPLOYMENT_COLUMNS
from mm_common.pagination import Keyset, fetch_page

NEWEST_DEPLOYMENTS_FIRST = Keyset(column="started_at", id_column="id", descending=True)
# The states of a deployment that is about to give its project a deployed app.
BEING_DEPLOYED = ("pending", "running")


def lock_project(conn: Connection, project_id: Any) -> dict[str, Any] | None:
    """The project, locked until the transaction ends: deploys of one project queue up here."""
    row = conn.execute(
        """
        SELECT id, organization_id, current_version_id, deploy_database FROM projects
        WHERE id = %s AND deleted_at IS NULL FOR UPDATE
        """,
        (project_id,),
    ).fetchone()
    return dict(row) if row else None


def deployed_projects(conn: Connection, organization_id: Any) -> set[Any]:
    """The organization's projects that hold a deployed app (running or stopped; a destroyed one has no URL)
    or are being deployed."""
    rows = conn.execute(
        """
        SELECT p.id AS project_id FROM projects p
        WHERE p.organization_id = %s AND p.deleted_at IS NULL
          AND (p.deployment_url IS NOT NULL OR EXISTS (
                SELECT 1 FROM deployment_logs d WHERE d.project_id = p.id AND d.status = ANY(%s)))
        """,
        (organization_id, list(BEING_DEPLOYED)),
    ).fetchall()
    return {row["project_id"] for row in rows}


def set_deploy_database(conn: Connection, project_id: Any, database: str) -> None:
    conn.execute("UPDATE projects SET deploy_database = %s WHERE id = %s", (database, project_id))


def active_deployment(conn: Connection, project_id: Any) -> dict[str, Any] | None:
    row = conn.execute(
        f"""
        SELECT {DEPLOYMENT_COLUMNS} FROM deployment_logs
        WHERE project_id = %s AND status IN ('pending', 'running') LIMIT 1
        """,
        (project_id,),
    ).fetchone()
    return dict(row) if row else None


def has_succeeded(conn: Connection, project_id: Any) -> bool:
    row = conn.execute(
        "SELECT 1 FROM deployment_logs WHERE project_id = %s AND status = 'success' LIMIT 1", (project_id,)
    ).fetchone()
    return row is not None


def successful_deployment(conn: Connection, project_id: Any, deployment_id: Any) -> dict[str, Any] | None:
    row = conn.execute(
        f"""
        SELECT {DEPLOYMENT_COLUMNS} FROM deployment_logs
        WHERE id = %s AND project_id = %s AND status = 'success'
        """,
        (deployment_id, project_id),
    ).fetchone()
    return dict(row) if row else None


def working_copy_manifest(conn: Connection, project_id: Any) -> dict[str, dict[str, Any]]:
    """The working copy as a manifest ({path: {sha256, size, mode}}), to compare with a version's."""
    rows = conn.execute(
        "SELECT path, sha256, size, mode FROM project_files WHERE project_id = %s", (project_id,)
    ).fetchall()
    return {row["path"]: {"sha256": row["sha256"], "size": row["size"], "mode": row["mode"]} for row in rows}


def deployment_page(
    conn: Connection, project_id: Any, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    return fetch_page(
        conn,
        f"SELECT {DEPLOYMENT_COLUMNS} FROM deployment_logs",
        ["project_id = %s"],
        [project_id],
        NEWEST_DEPLOYMENTS_FIRST,
        limit=limit,
        cursor=cursor,
    )


def deploy_row(conn: Connection, project_id: Any, *, lock: bool = False) -> dict[str, Any] | None:
    """The project's deploy state and the service names its deploys recorded (locked: lifecycle changes of a
    project queue up here, behind or ahead of a deploy being accepted)."""
    row = conn.execute(
        """
        SELECT p.id, p.organization_id, p.status, p.deployment_url, p.deployment_stopped, p.custom_domain,
               p.deploy_database, p.last_deployed_at, p.easypanel_project_id, p.easypanel_app_id,
               p.easypanel_database_id,
               (SELECT d.id FROM deployment_logs d
                WHERE d.project_id = p.id AND d.status IN ('pending', 'running') LIMIT 1) AS active_deployment_id
        FROM projects p WHERE p.id = %s AND p.deleted_at IS NULL
        """
        + (" FOR UPDATE OF p" if lock else ""),
        (project_id,),
    ).fetchone()
    return dict(row) if row else None


def custom_domain_holder(conn: Connection, host: str) -> Any | None:
    """The project (deleted ones included: the host is theirs until purged) holding ``host`` as custom domain."""
    row = conn.execute("SELECT id FROM projects WHERE custom_domain = %s", (host,)).fetchone()
    return row["id"] if row else None
