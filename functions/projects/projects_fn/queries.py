"""The SQL of the projects function's service, as named functions (parameterized, always)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mm_common import db, working_copy
from mm_common.db import Connection
from mm_common.pagination import Keyset, fetch_page
from mm_common.projects import PROJECT_COLUMNS
from mm_common.versions import VERSION_COLUMNS
from projects_fn.schemas import FileEntry

_PROJECT_COLUMNS_OF_P = ", ".join(f"p.{column.strip()}" for column in PROJECT_COLUMNS.split(","))
NEWEST_PROJECTS_FIRST = Keyset(column="p.created_at", id_column="p.id", descending=True)


def load_project(conn: Connection, project_id: Any, *, lock: bool = False) -> dict[str, Any] | None:
    suffix = " FOR UPDATE" if lock else ""
    row = conn.execute(
        f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id = %s AND deleted_at IS NULL{suffix}", (project_id,)
    ).fetchone()
    return dict(row) if row else None


def lock_organization(conn: Connection, organization_id: Any) -> None:
    conn.execute("SELECT 1 FROM organizations WHERE id = %s FOR UPDATE", (organization_id,))


def update_project(conn: Connection, project_id: Any, changes: Mapping[str, Any]) -> dict[str, Any] | None:
    """Set the given columns (names from the body model, never input); the row after."""
    values = {
        column: db.jsonb(value) if column == "environment_variables" else value for column, value in changes.items()
    }
    row = db.update_row(conn, "projects", values, {"id": project_id}, returning=PROJECT_COLUMNS)
    return dict(row) if row else None


def deployed_names(conn: Connection, project_id: Any) -> dict[str, Any]:
    """What the project's deploys created outside (Easypanel names, the Gitea repository), and whether a
    deployment is running now."""
    row = conn.execute(
        """
        SELECT p.easypanel_project_id, p.easypanel_app_id, p.easypanel_database_id, p.gitea_repo_full_name,
               EXISTS (SELECT 1 FROM deployment_logs d
                       WHERE d.project_id = p.id AND d.status IN ('pending', 'running')) AS deploying
        FROM projects p WHERE p.id = %s
        """,
        (project_id,),
    ).fetchone()
    assert row is not None
    return dict(row)


def delete_project(conn: Connection, project_id: Any) -> None:
    conn.execute("DELETE FROM projects WHERE id = %s", (project_id,))


def project_page(
    conn: Connection, *, member_id: Any, organization_id: Any, text: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Live projects newest first; only those of organizations ``member_id`` belongs to unless None;
    ``text`` is looked for in the name and the description, case-insensitively and literally."""
    conditions = ["p.deleted_at IS NULL"]
    params: list[Any] = []
    if member_id is not None:
        conditions.append(
            "EXISTS (SELECT 1 FROM organization_members m"
            " WHERE m.organization_id = p.organization_id AND m.user_id = %s)"
        )
        params.append(member_id)
    if organization_id is not None:
        conditions.append("p.organization_id = %s")
        params.append(organization_id)
    if text:
        pattern = db.contains_pattern(text)
        conditions.append("(p.name ILIKE %s ESCAPE '\\' OR p.description ILIKE %s ESCAPE '\\')")
        params += [pattern, pattern]
    return fetch_page(
        conn,
        f"SELECT {_PROJECT_COLUMNS_OF_P} FROM projects p",
        conditions,
        params,
        NEWEST_PROJECTS_FIRST,
        limit=limit,
        cursor=cursor,
    )


# A files page is rendered by Postgres, entry by entry, as the JSON FileEntry serializes to: built
# in Python, a 1,000-entry page cost several times the request itself (a datetime, a dict and an
# encoder pass per file). Each FileEntry field, in the model's order and under its wire name,
# maps to the SQL writing its JSON value exactly as json.dumps (ensure_ascii=False) writes it:
# strings through to_json (the same escapes), numbers as text, times as UtcDatetime writes them
# (ISO 8601 in UTC with a Z, microseconds only when there are some).
_WIRE_TIME = (
    "'\"' || to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    " || CASE WHEN date_trunc('second', {0}) = {0} THEN '' ELSE to_char({0} AT TIME ZONE 'UTC', '.US') END"
    " || 'Z\"'"
)
_FILE_ENTRY_JSON = {
    "path": "to_json(path)::text",
    "size": "size::text",
    "language": "coalesce(to_json(language)::text, 'null')",
    "sha256": "to_json(sha256)::text",
    "encoding": "to_json(encoding)::text",
    "mode": "mode::text",
    "updated_at": _WIRE_TIME.format("updated_at"),
}
# Every field of the model and nothing else (a KeyError at import when they part ways).
_FILE_ENTRY_SQL = " || ',' || ".join(
    f"'{json.dumps(field.alias or name)}:' || {_FILE_ENTRY_JSON[name]}"
    for name, field in FileEntry.model_fields.items()
)
assert set(_FILE_ENTRY_JSON) == set(FileEntry.model_fields)


def file_entries_json(conn: Connection, project_id: Any, *, after: str, limit: int) -> tuple[str, str | None]:
    """Up to ``limit`` files by path after the path ``after`` ("" for the first), as the text of
    their JSON entries joined by commas; and the last path when more files follow (else None)."""
    row = conn.execute(
        f"""
        WITH page AS (
            SELECT {working_copy.FILE_COLUMNS}, row_number() OVER (ORDER BY path) AS n
            FROM (
                SELECT {working_copy.FILE_COLUMNS} FROM project_files
                WHERE project_id = %(project)s AND path > %(after)s ORDER BY path LIMIT %(limit)s + 1
            ) AS wanted
        )
        SELECT coalesce(string_agg('{{' || {_FILE_ENTRY_SQL} || '}}', ',' ORDER BY n)
                            FILTER (WHERE n <= %(limit)s), '') AS entries,
               max(n) > %(limit)s AS more,
               max(path) FILTER (WHERE n <= %(limit)s) AS last_path
        FROM page
        """,
        {"project": project_id, "after": after, "limit": limit},
    ).fetchone()
    assert row is not None
    return row["entries"], row["last_path"] if row["more"] else None


def version_rows(conn: Connection, project_id: Any, *, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` versions newest first, numbered below ``before`` (None: from the newest)."""
    rows = conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM project_versions WHERE project_id = %s"
        " AND (%s::int IS NULL OR number < %s::int) ORDER BY number DESC LIMIT %s",
        (project_id, before, before, limit),
    ).fetchall()
    return [dict(r) for r in rows]


def tags_of(conn: Connection, version_ids: list[Any]) -> dict[Any, list[str]]:
    tags: dict[Any, list[str]] = {}
    if version_ids:
        for row in conn.execute(
            "SELECT version_id, name FROM version_tags WHERE version_id = ANY(%s) ORDER BY name", (version_ids,)
        ).fetchall():
            tags.setdefault(row["version_id"], []).append(row["name"])
    return tags


def add_tag(conn: Connection, project_id: Any, version_id: Any, name: str, created_by: Any) -> bool:
    """Tag a version; False when the project has a tag of that name already."""
    inserted = conn.execute(
        "INSERT INTO version_tags (project_id, version_id, name, created_by) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (project_id, name) DO NOTHING RETURNING id",
        (project_id, version_id, name, created_by),
    ).fetchone()
    return inserted is not None


def remove_tag(conn: Connection, project_id: Any, version_id: Any, name: str) -> bool:
    deleted: int = conn.execute(
        "DELETE FROM version_tags WHERE project_id = %s AND version_id = %s AND name = %s",
        (project_id, version_id, name),
    ).rowcount
    return deleted > 0
