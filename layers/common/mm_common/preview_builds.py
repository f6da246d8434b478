"""Preview builds: the record of each version's build into a live preview (table ``preview_builds``).

This module is the only writer of ``preview_builds``. A build is queued when a version is created
(:func:`queue_build`, called by ``versions.create_version``) or when a user asks for one; the worker
(functions/preview_build) claims it, marks the site ready as soon as it is uploaded, and records the
outcome. Builds are queued only when previews are configured: a queue and the address sites are served at.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from typing import Any

from mm_common.aws import client
from mm_common.config import Settings, get_settings
from mm_common.db import Connection

BUILD_COLUMNS = (
    "b.id, b.project_id, b.version_id, b.status, b.requested_by, b.label, b.message, b.problems, b.timings,"
    " b.dependency_source, b.checking, b.attempts, b.created_at, b.started_at, b.ready_at, b.finished_at,"
    " v.number AS version_number"
)
UNFINISHED = ("queued", "building")
# What new_label makes; the previews bucket keeps a site under sites/<label>/.
LABEL = re.compile(r"[a-z2-7]{26}")
SUPERSEDED_MESSAGE = "Skipped: a newer version of the project was queued before this one's turn came."
_log = logging.getLogger(__name__)


def previews_enabled(settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    return bool(settings.preview_builds_queue_url and settings.preview_domain)


def site_url(label: str | None, settings: Settings | None = None) -> str | None:
    """Where the site of the build labelled ``label`` is served (None before it is uploaded)."""
    settings = settings or get_settings()
    if not label or not settings.preview_domain:
        return None
    return settings.preview_site_url.replace("{label}", label).replace("{domain}", settings.preview_domain) + "/"


def site_prefix(label: str) -> str:
    return f"sites/{label}/"


def new_label() -> str:
    """An unguessable DNS label for a build's site: 128 random bits, lowercase base32 (26 characters)."""
    import base64

    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


def queue_build(
    conn: Connection, project_id: Any, version_id: Any, *, requested_by: Any = None
) -> dict[str, Any] | None:
    """Record a queued build of the version and send it to the worker; None when previews are off.

    Sent inside the caller's transaction, which holds the project row (``versions.lock_project``): the
    worker takes the same lock before reading, so it sees the committed build or that it was rolled back.
    A send that fails leaves the build queued; the maintenance sweep fails it with a message after a while.
    """
    settings = get_settings()
    if not previews_enabled(settings):
        return None
    row = conn.execute(
        "INSERT INTO preview_builds (project_id, version_id, requested_by) VALUES (%s, %s, %s) RETURNING id",
        (project_id, version_id, requested_by),
    ).fetchone()
    assert row is not None
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client("sqs").send_message(
            QueueUrl=settings.preview_builds_queue_url,
            MessageBody=json.dumps({"projectId": str(project_id), "buildId": str(row["id"])}),
        )
    except (BotoCoreError, ClientError) as error:
        _log.warning("could not queue the preview build of version %s: %s", version_id, error)
    return build_by_id(conn, row["id"])


def build_by_id(conn: Connection, build_id: Any) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {BUILD_COLUMNS}, b.log FROM preview_builds b JOIN project_versions v ON v.id = b.version_id"
        " WHERE b.id = %s",
        (build_id,),
    ).fetchone()
    return dict(row) if row else None


def latest_build_of_version(conn: Connection, version_id: Any) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {BUILD_COLUMNS}, b.log FROM preview_builds b JOIN project_versions v ON v.id = b.version_id"
        " WHERE b.version_id = %s ORDER BY b.created_at DESC, b.id DESC LIMIT 1",
        (version_id,),
    ).fetchone()
    return dict(row) if row else None


def latest_ready_build_of_version(conn: Connection, version_id: Any) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {BUILD_COLUMNS} FROM preview_builds b JOIN project_versions v ON v.id = b.version_id"
        " WHERE b.version_id = %s AND b.status = 'ready' ORDER BY b.created_at DESC, b.id DESC LIMIT 1",
        (version_id,),
    ).fetchone()
    return dict(row) if row else None


def project_builds(
    conn: Connection, project_id: Any, *, before: tuple[Any, Any] | None, limit: int
) -> list[dict[str, Any]]:
    """The project's builds, newest first, after the keyset ``before`` (created_at, id)."""
    where, params = "b.project_id = %s", [project_id]
    if before is not None:
        where += " AND (b.created_at, b.id) < (%s, %s)"
        params += [before[0], before[1]]
    rows = conn.execute(
        f"SELECT {BUILD_COLUMNS} FROM preview_builds b JOIN project_versions v ON v.id = b.version_id"
        f" WHERE {where} ORDER BY b.created_at DESC, b.id DESC LIMIT %s",
        (*params, limit),
    ).fetchall()
    return [dict(row) for row in rows]


# ---------------------------------------------------------------------------------------------- the worker's side
def claim(conn: Connection, project_id: Any, build_id: Any) -> dict[str, Any] | None:
    """Start the build: its row, version manifest and organization, or None when there is nothing to do.

    Nothing to do: the build does not exist (its version's transaction rolled back), is finished (a redelivered
    message), or is an automatic build a newer automatic one of the same project supersedes (marked skipped).
    """
    # Waits for the transaction that queued the build (it holds the project row) to end.
    conn.execute("SELECT 1 FROM projects WHERE id = %s FOR SHARE", (project_id,))
    row = conn.execute(
        """
        SELECT b.id, b.status, b.requested_by, b.created_at, b.project_id, b.version_id, v.manifest_key,
               p.organization_id
        FROM preview_builds b
        JOIN project_versions v ON v.id = b.version_id
        JOIN projects p ON p.id = b.project_id
        WHERE b.id = %s AND b.project_id = %s AND p.deleted_at IS NULL
        FOR UPDATE OF b
        """,
        (build_id, project_id),
    ).fetchone()
    if row is None or row["status"] not in UNFINISHED:
        return None
    if row["requested_by"] is None:
        newer = conn.execute(
            """
            SELECT 1 FROM preview_builds
            WHERE project_id = %s AND requested_by IS NULL AND (created_at, id) > (%s, %s) LIMIT 1
            """,
            (row["project_id"], row["created_at"], row["id"]),
        ).fetchone()
        if newer is not None:
            conn.execute(
                "UPDATE preview_builds SET status = 'skipped', message = %s, finished_at = now() WHERE id = %s",
                (SUPERSEDED_MESSAGE, build_id),
            )
            return None
    started = conn.execute(
        "UPDATE preview_builds SET status = 'building', started_at = now(), attempts = attempts + 1,"
        " label = NULL, checking = FALSE WHERE id = %s RETURNING started_at",
        (build_id,),
    ).fetchone()
    assert started is not None
    return {**row, "started_at": started["started_at"]}


def mark_site_ready(conn: Connection, build_id: Any, label: str, *, checking: bool) -> None:
    """The site is uploaded under ``label``: the preview can be shown (the type check may still run)."""
    conn.execute(
        "UPDATE preview_builds SET status = 'ready', label = %s, checking = %s, ready_at = now()"
        " WHERE id = %s AND status = 'building'",
        (label, checking, build_id),
    )


def finish(
    conn: Connection,
    build_id: Any,
    *,
    status: str,
    message: str,
    log: str,
    problems: list[dict[str, Any]],
    timings: dict[str, float],
    dependency_source: str | None,
) -> None:
    """Record the build's outcome (a ready build keeps its label from :func:`mark_site_ready`)."""
    conn.execute(
        """
        UPDATE preview_builds
        SET status = %s, message = %s, log = %s, problems = %s, timings = %s, dependency_source = %s,
            checking = FALSE, finished_at = now(), ready_at = CASE WHEN %s = 'ready' THEN coalesce(ready_at, now()) END
        WHERE id = %s AND status IN ('building', 'ready')
        """,
        (
            status,
            message,
            # Postgres text cannot hold NUL; a build's output may.
            log.replace("\x00", ""),
            json.dumps(problems),
            json.dumps(timings),
            dependency_source,
            status,
            build_id,
        ),
    )


def fail_abandoned(conn: Connection, *, older_than_minutes: int) -> int:
    """Fail builds left unfinished for ``older_than_minutes`` (the worker stopped, or the message was lost);
    a ready site whose type check never reported keeps its site and is closed without problems."""
    conn.execute(
        """
        UPDATE preview_builds
        SET checking = FALSE, finished_at = now(), message = 'Built; the type check did not finish.'
        WHERE status = 'ready' AND finished_at IS NULL AND ready_at < now() - make_interval(mins => %s)
        """,
        (older_than_minutes,),
    )
    rows = conn.execute(
        """
        UPDATE preview_builds
        SET status = 'failed', checking = FALSE, finished_at = now(),
            message = 'The build did not finish (the build worker stopped). Build this version again.'
        WHERE status IN ('queued', 'building') AND coalesce(started_at, created_at) < now() - make_interval(mins => %s)
        RETURNING id
        """,
        (older_than_minutes,),
    ).fetchall()
    return len(rows)


def site_labels_of_project(conn: Connection, project_id: Any) -> list[str]:
    """Every label the project's builds uploaded a site under (for removing them with the project)."""
    rows = conn.execute(
        "SELECT label FROM preview_builds WHERE project_id = %s AND label IS NOT NULL", (project_id,)
    ).fetchall()
    return [row["label"] for row in rows]
