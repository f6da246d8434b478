"""Deployments: the only writer of ``deployment_logs``, ``deployment_steps`` and ``deployment_log_lines``, and
of a project's deploy state (status, URL, stopped, custom domain, the names and credentials its deploys recorded).

The deploy API creates a deployment (``pending``) and records the Step Functions execution driving it; the
state machine's steps move it to ``running``, keep its step timeline (one row per step, ``attempts`` counting
every invocation, retries included) and its log lines, and end it ``success`` (`mark_live`) or ``failed``
(`mark_failed`, with exactly `FAILED_MESSAGE` for the user). The project's deploy status moves with it.
"""

from __future__ import annotations

from typing import Any, Literal

from mm_common.db import Connection, jsonb

FAILED_MESSAGE = "Deployment failed. Please contact us."
# What a stored log line may hold; longer lines are cut (the build log has its own column).
MAX_LINE_CHARS = 4000

DEPLOYMENT_COLUMNS = (
    "id, project_id, version_id, status, logs, error_message, started_at, completed_at, execution_arn,"
    " triggered_by, kind, easypanel_service, updated_at, database, commit_sha, url, dockerfile_generated,"
    " build_action_id, build_log"
)
STEP_COLUMNS = "deployment_id, step, status, started_at, ended_at, attempts, detail"

Kind = Literal["deploy", "update", "redeploy", "rollback"]
Database = Literal["postgres", "mariadb", "none"]
StepStatus = Literal["running", "succeeded", "failed"]
# The outcomes a deployment's fields may be set to from a step (columns other steps never write).
_RECORDABLE = frozenset(
    {"commit_sha", "url", "dockerfile_generated", "build_action_id", "build_log", "easypanel_service"}
)
# What the deploy steps record on the project: the outside names it owns, reused forever after.
_PROJECT_RECORDABLE = frozenset(
    {
        "gitea_repo_id",
        "gitea_repo_url",
        "gitea_repo_full_name",
        "easypanel_project_id",
        "easypanel_app_id",
        "easypanel_database_id",
        "database_secret",
    }
)


def create_deployment(
    conn: Connection,
    *,
    project_id: Any,
    version_id: Any,
    kind: Kind,
    database: Database,
    triggered_by: Any,
) -> dict[str, Any]:
    """A new ``pending`` deployment; the partial unique index ``uq_deployment_logs_one_active`` refuses a
    second active one of the same project (psycopg ``UniqueViolation``: the caller answers 409)."""
    row = conn.execute(
        f"""
        INSERT INTO deployment_logs (project_id, version_id, kind, database, triggered_by)
        VALUES (%s, %s, %s, %s, %s)
        RETURNING {DEPLOYMENT_COLUMNS}
        """,
        (project_id, version_id, kind, database, triggered_by),
    ).fetchone()
    assert row is not None
    return dict(row)


def record_execution(conn: Connection, deployment_id: Any, arn: str) -> None:
    """The Step Functions execution driving the deployment."""
    conn.execute("UPDATE deployment_logs SET execution_arn = %s WHERE id = %s", (arn, deployment_id))


def get_deployment(conn: Connection, deployment_id: Any, *, lock: bool = False) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {DEPLOYMENT_COLUMNS} FROM deployment_logs WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (deployment_id,),
    ).fetchone()
    return dict(row) if row is not None else None


def steps(conn: Connection, deployment_id: Any) -> list[dict[str, Any]]:
    """The step timeline, in the order the steps started."""
    rows = conn.execute(
        f"SELECT {STEP_COLUMNS} FROM deployment_steps WHERE deployment_id = %s ORDER BY started_at, step",
        (deployment_id,),
    ).fetchall()
    return [dict(row) for row in rows]


def log_lines(conn: Connection, deployment_id: Any, *, since: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """Our own log lines after sequence number ``since``, oldest first."""
    rows = conn.execute(
        """
        SELECT seq, created_at, step, line FROM deployment_log_lines
        WHERE deployment_id = %s AND seq > %s ORDER BY seq LIMIT %s
        """,
        (deployment_id, since, limit),
    ).fetchall()
    return [dict(row) for row in rows]


def start_step(conn: Connection, deployment_id: Any, step: str) -> int:
    """The step is running: its first invocation inserts it, each later one (a retry, a loop's next poll)
    counts one more attempt (answered). A ``pending`` deployment becomes ``running``, its project ``building``."""
    row = conn.execute(
        """
        INSERT INTO deployment_steps (deployment_id, step) VALUES (%s, %s)
        ON CONFLICT (deployment_id, step) DO UPDATE
        SET attempts = deployment_steps.attempts + 1, status = 'running', ended_at = NULL
        RETURNING attempts
        """,
        (deployment_id, step),
    ).fetchone()
    assert row is not None
    moved = conn.execute(
        "UPDATE deployment_logs SET status = 'running' WHERE id = %s AND status = 'pending' RETURNING project_id",
        (deployment_id,),
    ).fetchone()
    if moved is not None:
        conn.execute(
            "UPDATE projects SET status = 'building' WHERE id = %s AND deleted_at IS NULL", (moved["project_id"],)
        )
    return int(row["attempts"])


def end_step(conn: Connection, deployment_id: Any, step: str, status: StepStatus, detail: str | None = None) -> None:
    """The step ended (``succeeded`` or ``failed``), or is still going (``running``: a poll that goes on);
    ``detail`` is what the user may see of it (never a secret, never a raw outside answer)."""
    conn.execute(
        """
        UPDATE deployment_steps
        SET status = %s, ended_at = CASE WHEN %s = 'running' THEN NULL ELSE now() END,
            detail = COALESCE(%s, detail)
        WHERE deployment_id = %s AND step = %s
        """,
        (status, status, detail, deployment_id, step),
    )


def fail_running_steps(conn: Connection, deployment_id: Any) -> list[str]:
    """Every step still ``running`` ends ``failed`` (the step the deployment failed at); their names."""
    rows = conn.execute(
        """
        UPDATE deployment_steps SET status = 'failed', ended_at = now()
        WHERE deployment_id = %s AND status = 'running' RETURNING step
        """,
        (deployment_id,),
    ).fetchall()
    return [str(row["step"]) for row in rows]


def append_log(conn: Connection, deployment_id: Any, step: str | None, line: str) -> None:
    conn.execute(
        "INSERT INTO deployment_log_lines (deployment_id, step, line) VALUES (%s, %s, %s)",
        (deployment_id, step, line[:MAX_LINE_CHARS]),
    )


def record(conn: Connection, deployment_id: Any, **fields: Any) -> None:
    """Set outcomes of the deployment's steps: ``commit_sha``, ``url``, ``dockerfile_generated``,
    ``build_action_id``, ``build_log``, ``easypanel_service``."""
    unknown = set(fields) - _RECORDABLE
    if unknown:
        raise ValueError(f"not a recordable deployment field: {sorted(unknown)}")
    if not fields:
        return
    names = sorted(fields)
    assignments = ", ".join(f"{name} = %s" for name in names)
    conn.execute(
        f"UPDATE deployment_logs SET {assignments} WHERE id = %s",  # names from _RECORDABLE only
        (*[fields[name] for name in names], deployment_id),
    )


def record_project(conn: Connection, project_id: Any, **fields: Any) -> None:
    """Record on the project what its deploys created: ``gitea_repo_id``, ``gitea_repo_url``,
    ``gitea_repo_full_name``, ``easypanel_project_id``, ``easypanel_app_id``, ``easypanel_database_id`` and
    ``database_secret`` (sealed; never returned by the API)."""
    unknown = set(fields) - _PROJECT_RECORDABLE
    if unknown:
        raise ValueError(f"not a recordable project field: {sorted(unknown)}")
    if not fields:
        return
    names = sorted(fields)
    values = [jsonb(fields[name]) if name == "database_secret" else fields[name] for name in names]
    assignments = ", ".join(f"{name} = %s" for name in names)
    conn.execute(
        f"UPDATE projects SET {assignments} WHERE id = %s",  # names from _PROJECT_RECORDABLE only
        (*values, project_id),
    )


def mark_live(conn: Connection, deployment_id: Any, url: str) -> dict[str, Any] | None:
    """The deployment succeeded at ``url``: the project is ``deployed`` there. Idempotent: a deployment that
    already ended is left as it is (None)."""
    row = conn.execute(
        """
        UPDATE deployment_logs SET status = 'success', url = %s, completed_at = now(), error_message = NULL
        WHERE id = %s AND status IN ('pending', 'running')
        RETURNING project_id, version_id, triggered_by
        """,
        (url, deployment_id),
    ).fetchone()
    if row is None:
        return None
    conn.execute(
        """
        UPDATE projects
        SET status = 'deployed', deployment_url = %s, last_deployed_at = now(), deployment_stopped = FALSE
        WHERE id = %s AND deleted_at IS NULL
        """,
        (url, row["project_id"]),
    )
    return dict(row)


def mark_failed(conn: Connection, deployment_id: Any, *, build_log: str | None = None) -> dict[str, Any] | None:
    """The deployment failed: the user sees exactly `FAILED_MESSAGE` (and the build log, when the build
    itself failed); the project is in ``error``. Idempotent like `mark_live`."""
    row = conn.execute(
        """
        UPDATE deployment_logs
        SET status = 'failed', error_message = %s, completed_at = now(), build_log = COALESCE(%s, build_log)
        WHERE id = %s AND status IN ('pending', 'running')
        RETURNING project_id, version_id, triggered_by
        """,
        (FAILED_MESSAGE, build_log, deployment_id),
    ).fetchone()
    if row is None:
        return None
    conn.execute("UPDATE projects SET status = 'error' WHERE id = %s AND deleted_at IS NULL", (row["project_id"],))
    return dict(row)


def set_stopped(conn: Connection, project_id: Any, stopped: bool) -> None:
    """The project's app was stopped (or started again) on the panel."""
    conn.execute("UPDATE projects SET deployment_stopped = %s WHERE id = %s", (stopped, project_id))


def set_custom_domain(conn: Connection, project_id: Any, host: str | None) -> None:
    """The host the app also answers at (lowercase; the unique index ``uq_projects_custom_domain`` refuses a
    host another project holds: psycopg ``UniqueViolation``), or None."""
    conn.execute("UPDATE projects SET custom_domain = %s WHERE id = %s", (host, project_id))


def record_destroyed(conn: Connection, project_id: Any) -> None:
    """The app and its database were destroyed: the project is a draft again, with no URL, domain or database
    credentials. The recorded service names stay, so a later deploy takes the same ones."""
    conn.execute(
        """
        UPDATE projects
        SET status = 'draft', deployment_url = NULL, deployment_stopped = FALSE, custom_domain = NULL,
            database_secret = NULL
        WHERE id = %s
        """,
        (project_id,),
    )


ABANDONED_LINE = f"The deployment stopped answering and was ended. {FAILED_MESSAGE}"


def stale_deployments(conn: Connection, *, older_than_minutes: int, limit: int = 100) -> list[dict[str, Any]]:
    """Deployments still pending or running that started more than ``older_than_minutes`` ago, oldest first:
    ``id``, ``execution_arn`` (None when the execution was never recorded) and ``age_minutes``. The maintenance
    asks Step Functions about each before ending it (:func:`end_abandoned`)."""
    rows = conn.execute(
        """
        SELECT id, execution_arn, floor(extract(epoch FROM now() - started_at) / 60)::int AS age_minutes
        FROM deployment_logs
        WHERE status IN ('pending', 'running') AND started_at < now() - make_interval(mins => %s)
        ORDER BY started_at LIMIT %s
        """,
        (older_than_minutes, limit),
    ).fetchall()
    return [dict(row) for row in rows]


def end_abandoned(conn: Connection, deployment_id: Any) -> bool:
    """A deployment whose execution died before MarkFailed (or never started) ends ``failed`` as MarkFailed would
    end it, so its project may deploy again; whether it did (False: it ended meanwhile, or a step holds it)."""
    row = conn.execute(
        "SELECT status FROM deployment_logs WHERE id = %s FOR UPDATE SKIP LOCKED", (deployment_id,)
    ).fetchone()
    if row is None or row["status"] not in ("pending", "running"):
        return False
    fail_running_steps(conn, deployment_id)
    mark_failed(conn, deployment_id)
    append_log(conn, deployment_id, None, ABANDONED_LINE)
    return True
