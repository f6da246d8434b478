"""A project's design system: stored, edited, restored, rendered into its files, and read for the prompt.

This module is the only writer of ``design_systems`` and ``design_system_revisions``. A project has one
master (``page_name`` NULL) and at most one override per page; a page row's document is its override of
the master (layout and rules only), merged over the master when read ("the page wins").

Every change writes a revision (the whole state of that row, so any one can be restored), renders the
design system into the working copy (``design-system/MASTER.md``, ``design-system/pages/<page>.md``,
``src/design-tokens.css``) through ``working_copy`` and records that as a normal version through
``versions`` (which queues its Gitea mirror). All of it happens under the project's row lock, the lock
every writer of a project's files and versions takes first, in the caller's transaction.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from mm_common import versions, working_copy
from mm_common.db import Connection, jsonb
from mm_common.design import document as design_document
from mm_common.design import schema
from mm_common.design.document import DesignSystemError, Document
from mm_common.design.engine import DesignEngine, EngineUnavailableError
from mm_common.design.render import PageOverride, prompt_section, render_files
from mm_common.errors import ApiError, Conflict, NotFound, Unprocessable
from mm_common.pagination import INVALID_CURSOR, decode_cursor, page
from mm_common.slugs import slugify

MAX_PAGE_NAME = 100
MAX_REVISION = 2**31 - 1  # the column is an INTEGER
NO_DESIGN_SYSTEM = "This project has no design system yet. Generate one first."
NO_REVISION = "There is no such revision of this project's design system."
_COLUMNS = (
    "id, project_id, page_name, page_slug, document, schema_version, revision, generated_by_ai, updated_by,"
    " created_at, updated_at"
)
_REVISION_COLUMNS = (
    "r.id, r.design_system_id, r.revision, r.document, r.schema_version, r.change, r.restored_from_id,"
    " r.version_id, r.created_by, r.created_at, d.page_name,"
    # Who wrote it, as the project's members know them (their name, else their e-mail address).
    " (SELECT COALESCE(NULLIF(btrim(u.full_name), ''), u.email) FROM users u WHERE u.id = r.created_by)"
    " AS created_by_name"
)
_log = logging.getLogger(__name__)


class EngineUnavailable(ApiError):
    """The design engine is not installed where the environment says (a deployment fault)."""

    status, code = 503, "design_engine_unavailable"


@dataclass(frozen=True)
class Loaded:
    """The master row and, when a page was asked for and has an override, the page's row."""

    master: dict[str, Any]
    page: dict[str, Any] | None
    pages: list[str]

    @property
    def document(self) -> Document:
        """The master, or the page's override merged over it."""
        if self.page is None:
            master: Document = self.master["document"]
            return master
        return design_document.merge_page(self.master["document"], self.page["document"])

    @property
    def shown(self) -> dict[str, Any]:
        return self.page or self.master


@dataclass(frozen=True)
class Change:
    """What a write did: the state now (as :func:`load` reads it), the revision written, the version
    recording the rendered files, and the contrast adjustments an edit caused."""

    loaded: Loaded
    revision: dict[str, Any]
    version: dict[str, Any]
    adjustments: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class PromptDesign:
    """The design system's section of the generation prompt and the page whose override it carries."""

    text: str
    page_name: str | None


# ------------------------------------------------------------------------------------- documents


def page_name_problem(name: str) -> str | None:
    if not name.strip():
        return "Give the page a name."
    if len(name.strip()) > MAX_PAGE_NAME:
        return f"A page name has at most {MAX_PAGE_NAME} characters."
    return None


def page_slug(name: str) -> str:
    return slugify(name, fallback="page")


def generate_document(
    description: str, project_name: str, *, page_name: str | None = None, engine: DesignEngine | None = None
) -> Document:
    """A complete document for the description (for a page, the page's name is part of the query).

    Raises :class:`DesignSystemError` when there is nothing to describe and
    :class:`EngineUnavailableError` when the engine is not installed."""
    query = f"{description} {page_name} page" if page_name else description
    return design_document.generate_document(query, project_name, engine=engine)


def _invalid(error: DesignSystemError, field_name: str) -> Unprocessable:
    return Unprocessable(
        str(error), code="invalid_design_system", details=[{"field": field_name, "message": str(error)}]
    )


def _spec_columns(page_name: str | None, document: Document) -> dict[str, Any]:
    """The spec's columns, read off the document: a page's columns say what its override changes."""
    pattern = document.get("pattern") or {}
    style = document.get("style") or {}
    tokens = document.get("tokens") or {}
    palette = (
        {"seeds": document["palette"], "light": tokens.get("light"), "dark": tokens.get("dark")}
        if "palette" in document
        else None
    )
    name = f"{document.get('projectName') or 'Design system'}" if page_name is None else page_name
    return {
        "name": name[:255],
        "pattern": (pattern.get("name") or None) and str(pattern["name"])[:255],
        "style": (style.get("name") or None) and str(style["name"])[:255],
        "color_palette": jsonb(palette) if palette is not None else None,
        "typography": jsonb(document["typography"]) if "typography" in document else None,
        "effects": jsonb(document["effects"]) if "effects" in document else None,
        "anti_patterns": jsonb(document["antiPatterns"]) if "antiPatterns" in document else None,
        # A page's override has no flag of its own: pages are generated, never edited by hand.
        "generated_by_ai": bool(document.get("generatedByAi", True)),
    }


# ------------------------------------------------------------------------------------------ reads


def _master(conn: Connection, project_id: Any) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM design_systems WHERE project_id = %s AND page_name IS NULL", (project_id,)
    ).fetchone()
    return dict(row) if row else None


def _page(conn: Connection, project_id: Any, name: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM design_systems WHERE project_id = %s AND page_name IS NOT NULL AND page_slug = %s",
        (project_id, page_slug(name)),
    ).fetchone()
    return dict(row) if row else None


def _pages(conn: Connection, project_id: Any) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM design_systems WHERE project_id = %s AND page_name IS NOT NULL ORDER BY page_slug",
        (project_id,),
    ).fetchall()
    return [dict(row) for row in rows]


def load(conn: Connection, project_id: Any, page_name: str | None = None) -> Loaded | None:
    """The project's design system (None when it has none); with ``page_name``, that page's override
    too when it has one (a page without one follows the master)."""
    master = _master(conn, project_id)
    if master is None:
        return None
    pages = _pages(conn, project_id)
    wanted = page_slug(page_name) if page_name and page_name.strip() else None
    shown = next((row for row in pages if row["page_slug"] == wanted), None)
    return Loaded(master=master, page=shown, pages=[row["page_name"] for row in pages])


def require(conn: Connection, project_id: Any, page_name: str | None = None) -> Loaded:
    loaded = load(conn, project_id, page_name)
    if loaded is None:
        raise NotFound(NO_DESIGN_SYSTEM, code="design_system_not_found")
    return loaded


def revision_page(
    conn: Connection, project_id: Any, *, page_name: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the revisions of the master (or of a page's override), newest first."""
    key = decode_cursor(cursor, 1)
    before = _revision_number(key[0]) if key else None
    target = _page(conn, project_id, page_name) if page_name else _master(conn, project_id)
    if target is None:
        raise NotFound(NO_DESIGN_SYSTEM, code="design_system_not_found")
    rows = conn.execute(
        f"""
        SELECT {_REVISION_COLUMNS}
        FROM design_system_revisions r JOIN design_systems d ON d.id = r.design_system_id
        WHERE r.design_system_id = %s AND (%s::int IS NULL OR r.revision < %s::int)
        ORDER BY r.revision DESC LIMIT %s
        """,
        (target["id"], before, before, limit + 1),
    ).fetchall()
    items, next_cursor = page([dict(row) for row in rows], limit, lambda row: (row["revision"],))
    return items, next_cursor


def _revision_number(text: str) -> int:
    number = int(text) if text.isascii() and text.isdigit() else 0
    if not 0 < number <= MAX_REVISION:
        raise Unprocessable(INVALID_CURSOR, code="invalid_cursor")
    return number


def _page_named_in(prompt: str, pages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The page the prompt names (its name or its slug as words; the longest name wins)."""
    text = prompt.casefold()
    for row in sorted(pages, key=lambda r: -len(r["page_name"])):
        # The slug too ("sign-up" for "Sign up"), unless it is only the fallback of a name without words.
        slug = row["page_slug"] if slugify(row["page_name"], fallback="") else ""
        for needle in {row["page_name"].strip().casefold(), slug}:
            if needle and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", text):
                return row
    return None


def prompt_for(conn: Connection, project_id: Any, prompt: str) -> PromptDesign | None:
    """The design system's section of the generation prompt (None without one), with the override of
    the page the user's prompt names when it has one."""
    master = _master(conn, project_id)
    if master is None:
        return None
    named = _page_named_in(prompt, _pages(conn, project_id)) if prompt else None
    page_override = PageOverride(named["page_name"], named["document"]) if named else None
    return PromptDesign(prompt_section(master["document"], page_override), named["page_name"] if named else None)


# ----------------------------------------------------------------------------------------- writes


def _insert(
    conn: Connection, project_id: Any, page_name: str | None, document: Document, user_id: Any
) -> dict[str, Any]:
    columns = _spec_columns(page_name, document)
    row = conn.execute(
        f"""
        INSERT INTO design_systems
            (project_id, page_name, page_slug, document, schema_version, revision, updated_by,
             name, pattern, style, color_palette, typography, effects, anti_patterns, generated_by_ai)
        VALUES (%s, %s, %s, %s, %s, 1, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        RETURNING {_COLUMNS}
        """,
        (
            project_id,
            page_name,
            page_slug(page_name) if page_name is not None else None,
            jsonb(document),
            design_document.SCHEMA_VERSION,
            user_id,
            columns["name"],
            columns["pattern"],
            columns["style"],
            columns["color_palette"],
            columns["typography"],
            columns["effects"],
            columns["anti_patterns"],
            columns["generated_by_ai"],
        ),
    ).fetchone()
    assert row is not None
    return dict(row)


def _update(conn: Connection, row: dict[str, Any], document: Document, user_id: Any) -> dict[str, Any]:
    columns = _spec_columns(row["page_name"], document)
    updated = conn.execute(
        f"""
        UPDATE design_systems SET
            document = %s, schema_version = %s, revision = revision + 1, updated_by = %s,
            name = %s, pattern = %s, style = %s, color_palette = %s, typography = %s, effects = %s,
            anti_patterns = %s, generated_by_ai = %s
        WHERE id = %s
        RETURNING {_COLUMNS}
        """,
        (
            jsonb(document),
            design_document.SCHEMA_VERSION,
            user_id,
            columns["name"],
            columns["pattern"],
            columns["style"],
            columns["color_palette"],
            columns["typography"],
            columns["effects"],
            columns["anti_patterns"],
            columns["generated_by_ai"],
            row["id"],
        ),
    ).fetchone()
    assert updated is not None
    return dict(updated)


def _record_revision(
    conn: Connection, row: dict[str, Any], change: str, user_id: Any, restored_from_id: Any = None
) -> dict[str, Any]:
    revision = conn.execute(
        """
        INSERT INTO design_system_revisions
            (design_system_id, revision, document, schema_version, change, restored_from_id, created_by)
        VALUES (%s, %s, %s, %s, %s, %s, %s)
        RETURNING id, design_system_id, revision, document, schema_version, change, restored_from_id, version_id,
                  created_by, created_at
        """,
        (row["id"], row["revision"], jsonb(row["document"]), row["schema_version"], change, restored_from_id, user_id),
    ).fetchone()
    assert revision is not None
    return {**dict(revision), "page_name": row["page_name"]}


def record_version(conn: Connection, revision_id: Any, version_id: Any) -> None:
    """The version that holds the files of a revision (set once that version exists)."""
    conn.execute("UPDATE design_system_revisions SET version_id = %s WHERE id = %s", (version_id, revision_id))


def _write_files(conn: Connection, organization_id: Any, project_id: Any) -> list[str]:
    """Render the design system (master and every page) into the working copy; return the paths whose
    bytes changed (files already equal are not rewritten)."""
    master = _master(conn, project_id)
    assert master is not None
    pages = [PageOverride(row["page_name"], row["document"]) for row in _pages(conn, project_id)]
    changed: list[str] = []
    for path, text in sorted(render_files(master["document"], pages).items()):
        body = working_copy.FileBytes(text.encode("utf-8"), is_text=True)
        existing = working_copy.current(conn, project_id, path)
        if existing is not None and existing["sha256"] == body.sha256:
            continue
        working_copy.write(conn, organization_id=organization_id, project_id=project_id, path=path, body=body)
        changed.append(path)
    return changed


def _commit(
    conn: Connection,
    project: dict[str, Any],
    row: dict[str, Any],
    change: str,
    user_id: Any,
    message: str,
    *,
    restored_from_id: Any = None,
    adjustments: list[dict[str, str]] | None = None,
) -> Change:
    revision = _record_revision(conn, row, change, user_id, restored_from_id)
    _write_files(conn, project["organization_id"], project["id"])
    version = versions.create_version(conn, project["id"], source="user", message=message, created_by=user_id)
    record_version(conn, revision["id"], version["id"])
    revision["version_id"] = version["id"]
    loaded = require(conn, project["id"], row["page_name"])
    return Change(loaded=loaded, revision=revision, version=version, adjustments=adjustments or [])


def _generated(description: str, project_name: str, page_name: str | None) -> Document:
    try:
        return generate_document(description, project_name, page_name=page_name)
    except DesignSystemError as error:
        raise _invalid(error, "description") from None
    except EngineUnavailableError as error:
        _log.error("the design engine is unavailable: %s", error)
        raise EngineUnavailable("The design system generator is not available right now. Try again later.") from None


def generate(
    conn: Connection, project_id: Any, *, description: str | None, page_name: str | None, user_id: Any
) -> Change:
    """Generate the master (or a page's override) from a description, by default the project's own."""
    project = versions.lock_project(conn, project_id)
    details = conn.execute("SELECT name, description FROM projects WHERE id = %s", (project_id,)).fetchone()
    assert details is not None
    text = (description or "").strip() or (details["description"] or "").strip()
    if not text:
        message = "Describe the product (or give the project a description) to generate its design system."
        raise Unprocessable(
            message, code="description_required", details=[{"field": "description", "message": message}]
        )
    if page_name is not None:
        problem = page_name_problem(page_name)
        if problem:
            raise Unprocessable(problem, details=[{"field": "pageName", "message": problem}])
        page_name = page_name.strip()
    generated = _generated(text, details["name"], page_name)
    if page_name is None:
        current = _master(conn, project_id)
        if current is None:
            row = _insert(conn, project_id, None, generated, user_id)
        else:
            row = _update(conn, current, generated, user_id)
        return _commit(conn, project, row, "generated", user_id, "Design system generated")
    master = _master(conn, project_id)
    if master is None:
        raise Conflict(
            "Generate the project's design system before a page's override of it.", code="design_system_not_found"
        )
    override = design_document.page_override(master["document"], generated)
    existing = _page(conn, project_id, page_name)
    if existing is None:
        row = _insert(conn, project_id, page_name, override, user_id)
    else:
        row = _update(conn, existing, override, user_id)
    return _commit(conn, project, row, "generated", user_id, f"Design system for the {row['page_name']} page generated")


def edit(conn: Connection, project_id: Any, changes: dict[str, Any], *, user_id: Any) -> Change:
    """A person's edit of the master's colours, fonts or anti-patterns, re-checked for contrast."""
    project = versions.lock_project(conn, project_id)
    master = _master(conn, project_id)
    if master is None:
        raise NotFound(NO_DESIGN_SYSTEM, code="design_system_not_found")
    try:
        result = design_document.apply_edit(master["document"], changes)
    except DesignSystemError as error:
        raise _invalid(error, next(iter(changes), "body")) from None
    row = _update(conn, master, result.document, user_id)
    return _commit(conn, project, row, "edited", user_id, "Design system edited", adjustments=result.adjustments)


def restore(conn: Connection, project_id: Any, revision_id: Any, *, user_id: Any) -> Change:
    """Bring an earlier revision back, as a new revision (history only moves forward)."""
    project = versions.lock_project(conn, project_id)
    found = conn.execute(
        f"""
        SELECT {_REVISION_COLUMNS}
        FROM design_system_revisions r JOIN design_systems d ON d.id = r.design_system_id
        WHERE r.id = %s AND d.project_id = %s
        """,
        (revision_id, project_id),
    ).fetchone()
    if found is None:
        raise NotFound(NO_REVISION, code="revision_not_found")
    old = dict(found)
    row = conn.execute(f"SELECT {_COLUMNS} FROM design_systems WHERE id = %s", (old["design_system_id"],)).fetchone()
    assert row is not None
    try:
        if old["page_name"] is None:
            schema.validate(old["document"])
        else:
            master = _master(conn, project_id)
            assert master is not None  # a page exists only under a master
            design_document.check_page_override(master["document"], old["document"])
    except DesignSystemError as error:
        message = f"Revision {old['revision']} cannot be restored: {error}"
        raise Conflict(message, code="revision_not_restorable") from None
    updated = _update(conn, dict(row), old["document"], user_id)
    where = "" if old["page_name"] is None else f" of the {old['page_name']} page"
    return _commit(
        conn,
        project,
        updated,
        "restored",
        user_id,
        f"Design system{where} restored to revision {old['revision']}",
        restored_from_id=old["id"],
    )


def adopt_for_new_project(
    conn: Connection, *, organization_id: Any, project_id: Any, document: Document, user_id: Any
) -> dict[str, Any]:
    """Store a new project's master and render its files into the working copy, without a version:
    they belong to the project's first version (record it with :func:`record_version`)."""
    versions.lock_project(conn, project_id)
    row = _insert(conn, project_id, None, document, user_id)
    revision = _record_revision(conn, row, "generated", user_id)
    _write_files(conn, organization_id, project_id)
    return revision


def try_generate(description: str | None, project_name: str) -> Document | None:
    """A document for a new project's description, or None (no description, or the engine failed:
    a project is created without a design system rather than not at all)."""
    if not (description or "").strip():
        return None
    try:
        return generate_document(description or "", project_name)
    except (DesignSystemError, EngineUnavailableError) as error:
        _log.warning("no design system for a new project: %s", error)
    except Exception as error:  # noqa: BLE001  # the engine is third-party code; no failure of it may stop a project
        _log.warning("no design system for a new project: the engine failed (%s)", type(error).__name__)
    return None
