"""Imports from the desktop app: the only writer of ``imports``, ``import_apps`` and ``import_items``.

An import is the user's upload (the desktop app's database and app archives), its analysis, and one row
per app chosen for import with its progress. ``import_items`` maps each imported thing (a commit, a chat, a
message, a prompt) to what it became here: the commit map resolves the desktop app's commit hashes to our
versions, and every item's row is written in the same transaction as the item, so a redelivered job skips
what is done instead of duplicating it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mm_common import db
from mm_common.db import Connection

IMPORT_COLUMNS = (
    "id, organization_id, created_by, status, uploads, analysis, options, error, created_at, analyzed_at,"
    " started_at, finished_at"
)
APP_COLUMNS = (
    "id, import_id, source_app_id, archive_name, project_name, project_id, status, stage, counts, warnings, errors,"
    " started_at, finished_at"
)


def create_import(
    conn: Connection, *, organization_id: Any, created_by: Any, uploads: list[dict[str, Any]], import_id: Any = None
) -> dict[str, Any]:
    row = conn.execute(
        f"""
        INSERT INTO imports (id, organization_id, created_by, uploads)
        VALUES (coalesce(%s, gen_random_uuid()), %s, %s, %s)
        RETURNING {IMPORT_COLUMNS}
        """,
        (import_id, organization_id, created_by, db.jsonb(uploads)),
    ).fetchone()
    assert row is not None
    return dict(row)


def imports_of(
    conn: Connection, organization_id: Any, *, before: tuple[Any, Any] | None, limit: int
) -> list[dict[str, Any]]:
    """The organization's imports, newest first, after the keyset ``before`` (created_at, id)."""
    where, params = "organization_id = %s", [organization_id]
    if before is not None:
        where += " AND (created_at, id) < (%s, %s)"
        params += [before[0], before[1]]
    rows = conn.execute(
        f"SELECT {IMPORT_COLUMNS} FROM imports WHERE {where} ORDER BY created_at DESC, id DESC LIMIT %s",
        (*params, limit),
    ).fetchall()
    return [dict(row) for row in rows]


def set_status(
    conn: Connection,
    import_id: Any,
    status: str,
    *,
    options: Mapping[str, Any] | None = None,
    analysis: Mapping[str, Any] | None = None,
    error: Mapping[str, Any] | None = None,
) -> None:
    """Move the import on (stamping when it was analyzed, started and finished)."""
    conn.execute(
        """
        UPDATE imports SET
            status = %s,
            options = coalesce(%s, options),
            analysis = coalesce(%s, analysis),
            error = %s,
            analyzed_at = CASE WHEN %s = 'analyzed' THEN now() ELSE analyzed_at END,
            started_at = CASE WHEN %s = 'importing' THEN now() ELSE started_at END,
            finished_at = CASE WHEN %s IN ('completed', 'failed') THEN now() ELSE finished_at END
        WHERE id = %s
        """,
        (
            status,
            db.jsonb(dict(options)) if options is not None else None,
            db.jsonb(dict(analysis)) if analysis is not None else None,
            db.jsonb(dict(error)) if error is not None else None,
            status,
            status,
            status,
            import_id,
        ),
    )


def get_import(conn: Connection, import_id: Any, *, lock: bool = False) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {IMPORT_COLUMNS} FROM imports WHERE id = %s" + (" FOR UPDATE" if lock else ""), (import_id,)
    ).fetchone()
    return dict(row) if row else None


def add_app(
    conn: Connection, import_id: Any, *, source_app_id: int, project_name: str, archive_name: str | None
) -> dict[str, Any]:
    row = conn.execute(
        f"""
        INSERT INTO import_apps (import_id, source_app_id, project_name, archive_name) VALUES (%s, %s, %s, %s)
        RETURNING {APP_COLUMNS}
        """,
        (import_id, source_app_id, project_name, archive_name),
    ).fetchone()
    assert row is not None
    return dict(row)


def get_app(conn: Connection, import_app_id: Any, *, lock: bool = False) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {APP_COLUMNS} FROM import_apps WHERE id = %s" + (" FOR UPDATE" if lock else ""), (import_app_id,)
    ).fetchone()
    return dict(row) if row else None


def apps_of(conn: Connection, import_id: Any) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {APP_COLUMNS} FROM import_apps WHERE import_id = %s ORDER BY source_app_id", (import_id,)
    ).fetchall()
    return [dict(row) for row in rows]


def set_app_project(conn: Connection, import_app_id: Any, project_id: Any) -> None:
    conn.execute("UPDATE import_apps SET project_id = %s WHERE id = %s", (project_id, import_app_id))


def app_progress(
    conn: Connection,
    import_app_id: Any,
    *,
    status: str | None = None,
    stage: str | None = None,
    counts: Mapping[str, int] | None = None,
    warnings: list[str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> None:
    """Move an app's import on: counts are merged (each key replaced), warnings and errors appended."""
    conn.execute(
        """
        UPDATE import_apps SET
            status = coalesce(%s, status),
            stage = coalesce(%s, stage),
            counts = counts || %s,
            warnings = warnings || %s,
            errors = errors || %s,
            started_at = CASE WHEN %s = 'importing' THEN coalesce(started_at, now()) ELSE started_at END,
            finished_at = CASE WHEN %s IN ('completed', 'failed') THEN now() ELSE finished_at END
        WHERE id = %s
        """,
        (
            status,
            stage,
            db.jsonb(dict(counts or {})),
            db.jsonb(warnings or []),
            db.jsonb(errors or []),
            status,
            status,
            import_app_id,
        ),
    )


def items(conn: Connection, import_id: Any, kind: str, source_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """What the import's items of ``kind`` became (source id → target id), all or those of ``source_ids``."""
    if source_ids is None:
        rows = conn.execute(
            "SELECT source_id, target_id FROM import_items WHERE import_id = %s AND kind = %s", (import_id, kind)
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT source_id, target_id FROM import_items WHERE import_id = %s AND kind = %s AND source_id = ANY(%s)",
            (import_id, kind, list(source_ids)),
        ).fetchall()
    return {row["source_id"]: row["target_id"] for row in rows}


def record_item(conn: Connection, import_id: Any, kind: str, source_id: str, target_id: Any) -> None:
    conn.execute(
        "INSERT INTO import_items (import_id, kind, source_id, target_id) VALUES (%s, %s, %s, %s)",
        (import_id, kind, source_id, target_id),
    )


def fail_abandoned(conn: Connection, *, older_than_minutes: int) -> int:
    """End imports left analyzing or importing long after the worker's time limit (it stopped, or every delivery
    of the message failed), and their apps still on the way, so the page stops waiting."""
    rows = conn.execute(
        """
        UPDATE imports SET status = 'failed', finished_at = now(),
            error = '{"code": "stopped", "message": "The import stopped before it finished. Start a new import."}'
        WHERE status IN ('analyzing', 'importing')
          AND coalesce(started_at, analyzed_at, created_at) < now() - make_interval(mins => %s)
        RETURNING id
        """,
        (older_than_minutes,),
    ).fetchall()
    if rows:
        conn.execute(
            """
            UPDATE import_apps SET status = 'failed', finished_at = now(),
                errors = errors || '[{"message": "The import stopped before this app was finished."}]'
            WHERE import_id = ANY(%s) AND status IN ('queued', 'importing')
            """,
            ([row["id"] for row in rows],),
        )
    return len(rows)
