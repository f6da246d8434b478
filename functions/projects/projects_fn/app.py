"""Projects, their working copy (files) and versions (S3 snapshots)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Annotated, Any

from fastapi import Header, Path, Query, Response

from mm_common import audit, crypto, db, snapshots, versions
from mm_common import working_copy
from mm_common.api import create_app, lambda_handler
from mm_common.auth import (
    Caller,
    organization_from_body,
    organization_from_project,
    parse_uuid,
    require,
)
from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import Conflict, NotFound, Unprocessable
from mm_common.pagination import Cursor, Limit, decode_cursor, decode_time_cursor, page, time_key
from mm_common.paths import PathError, language_for, normalize_path
from mm_common.permissions import Action, GlobalRole
from mm_common.project_templates import DEFAULT_TEMPLATE_ID, get_template, list_templates
from mm_common.slugs import slugify, unique_slug
from projects_fn.schemas import (
    Archive,
    CreateProjectBody,
    CreateVersionBody,
    Diff,
    EnvironmentVariable,
    FileChange,
    FileContent,
    FileEntry,
    FilePage,
    Project,
    ProjectEnvelope,
    ProjectPage,
    PutFileBody,
    RenameFileBody,
    TagBody,
    Template,
    TemplateList,
    UpdateProjectBody,
    VersionDetail,
    VersionEnvelope,
    VersionFile,
    VersionPage,
    version_model,
)

app = create_app("projects")

IN_PROJECT = organization_from_project("id")
Viewer = Annotated[Caller, require(Action.PROJECT_VIEW, organization=IN_PROJECT)]
Editor = Annotated[Caller, require(Action.PROJECT_EDIT, organization=IN_PROJECT)]
Manager = Annotated[Caller, require(Action.PROJECT_MANAGE, organization=IN_PROJECT)]
ProjectId = Annotated[str, Path(description="The project's id.")]
VersionId = Annotated[str, Path(alias="versionId", description="The version's id.")]
FilePath = Annotated[str, Path(description="The file's path in the project, e.g. src/App.tsx.")]
IfMatch = Annotated[str | None, Header(alias="If-Match")]

PROJECT_COLUMNS = (
    "id, organization_id, name, slug, description, template, status, install_command, build_command,"
    " start_command, auto_approve, environment_variables, current_version_id, deployment_url, created_by,"
    " created_at, updated_at, last_deployed_at"
)


# ------------------------------------------------------------------------------------ helpers


def _env_context(project_id: Any, name: str) -> dict[str, str]:
    return {"projectId": str(project_id), "variable": name}


def _project(row: dict[str, Any], *, reveal_secrets: bool) -> Project:
    sealed: dict[str, Any] = row["environment_variables"] or {}
    variables = [
        EnvironmentVariable(
            name=name,
            value=crypto.unseal(sealed[name], _env_context(row["id"], name)) if reveal_secrets else None,
        )
        for name in sorted(sealed)
    ]
    data = {k: row[k] for k in Project.model_fields if k != "environment_variables"}
    return Project.model_validate({**data, "environment_variables": variables})


def _load_project(conn: Connection, project_id: Any) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id = %s AND deleted_at IS NULL", (project_id,)
    ).fetchone()
    if row is None:
        raise NotFound("There is no such project, or you cannot see it.")
    return dict(row)


def _project_id(caller: Caller, value: str) -> uuid.UUID:
    # require() has resolved the project already; a malformed id never gets this far.
    project_id = parse_uuid(value)
    assert project_id is not None
    return project_id


def _path(raw: str) -> str:
    try:
        return normalize_path(raw)
    except PathError as error:
        raise Unprocessable(
            str(error), code="invalid_path", details=[{"field": "path", "message": str(error)}]
        ) from None


def _version_id(value: str) -> uuid.UUID:
    version_id = parse_uuid(value)
    if version_id is None:
        raise NotFound("There is no such version of this project.")
    return version_id


def _tags(conn: Connection, version_ids: list[Any]) -> dict[Any, list[str]]:
    tags: dict[Any, list[str]] = {}
    if version_ids:
        for row in conn.execute(
            "SELECT version_id, name FROM version_tags WHERE version_id = ANY(%s) ORDER BY name", (version_ids,)
        ).fetchall():
            tags.setdefault(row["version_id"], []).append(row["name"])
    return tags


def _file_content(row: dict[str, Any], data: bytes) -> FileContent:
    text = row["encoding"] == "utf-8"
    return FileContent(
        path=row["path"],
        content=data.decode("utf-8") if text else base64.b64encode(data).decode("ascii"),
        encoding="utf-8" if text else "base64",
        size=row["size"],
        sha256=row["sha256"],
        language=row["language"],
        mode=row["mode"],
        updated_at=row.get("updated_at"),
    )


# ------------------------------------------------------------------------------------ projects


@app.get("/api/project-templates", response_model=TemplateList, summary="Starter templates for new projects")
def templates(caller: Annotated[Caller, require(Action.SELF)]) -> TemplateList:
    return TemplateList(
        items=[
            Template(id=t.id, name=t.name, description=t.description, default=t.default, file_count=len(t.files))
            for t in list_templates()
        ]
    )


@app.post("/api/projects", status_code=201, response_model=ProjectEnvelope, summary="Create a project from a template")
def create_project(
    body: CreateProjectBody,
    caller: Annotated[Caller, require(Action.PROJECT_CREATE, organization=organization_from_body("organizationId"))],
) -> ProjectEnvelope:
    template = get_template(body.template or DEFAULT_TEMPLATE_ID)
    if template is None:
        known = ", ".join(t.id for t in list_templates())
        raise Unprocessable(
            f"There is no template '{body.template}'. Choose one of: {known}.", details=[{"field": "template"}]
        )
    organization_id = caller.organization_id
    with db.transaction() as conn:
        # Serialise slug choice within the organization; the unique index is the last word.
        conn.execute("SELECT 1 FROM organizations WHERE id = %s FOR UPDATE", (organization_id,))

        def taken(slug: str) -> bool:
            found = conn.execute(
                "SELECT 1 FROM projects WHERE organization_id = %s AND slug = %s", (organization_id, slug)
            ).fetchone()
            return found is not None

        slug = unique_slug(slugify(body.name, fallback="project"), taken)
        row = conn.execute(
            f"""
            INSERT INTO projects
                (organization_id, name, slug, description, template, install_command, build_command,
                 start_command, created_by)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
            RETURNING {PROJECT_COLUMNS}
            """,
            (
                organization_id,
                body.name,
                slug,
                body.description,
                template.id,
                template.install_command,
                template.build_command,
                template.start_command,
                caller.user_id,
            ),
        ).fetchone()
        assert row is not None
        project_id = row["id"]
        for path, data in sorted(template.files.items()):
            working_copy.write(
                conn,
                organization_id=organization_id,
                project_id=project_id,
                path=path,
                body=working_copy.FileBytes(data, is_text=working_copy.is_text(data)),
            )
        versions.create_version(
            conn, project_id, source="template", message=f"Created from {template.name}", created_by=caller.user_id
        )
        audit.record(
            conn,
            "project.create",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=organization_id,
            resource_type="project",
            resource_id=project_id,
            details={"name": body.name, "template": template.id},
        )
        project = _load_project(conn, project_id)
    return ProjectEnvelope(project=_project(project, reveal_secrets=True))


@app.get("/api/projects", response_model=ProjectPage, summary="Projects the caller can see, newest first")
def list_projects(
    caller: Annotated[Caller, require(Action.SELF)],
    limit: Limit = 50,
    cursor: Cursor = None,
    organization_id: Annotated[uuid.UUID | None, Query(alias="organizationId")] = None,
) -> ProjectPage:
    conditions = ["p.deleted_at IS NULL"]
    params: list[Any] = []
    if caller.role != GlobalRole.ADMIN:
        conditions.append(
            "EXISTS (SELECT 1 FROM organization_members m"
            " WHERE m.organization_id = p.organization_id AND m.user_id = %s)"
        )
        params.append(caller.user_id)
    if organization_id is not None:
        conditions.append("p.organization_id = %s")
        params.append(organization_id)
    key = decode_time_cursor(cursor)
    if key:
        conditions.append("(p.created_at, p.id) < (%s, %s)")
        params += key
    rows = db.fetch_all(
        f"SELECT {', '.join('p.' + c.strip() for c in PROJECT_COLUMNS.split(','))} FROM projects p"
        f" WHERE {' AND '.join(conditions)} ORDER BY p.created_at DESC, p.id DESC LIMIT %s",
        (*params, limit + 1),
    )
    items, next_cursor = page([dict(r) for r in rows], limit, time_key("created_at"))
    # Secrets are not listed: the list is for overviews; GET one project to manage its variables.
    return ProjectPage(items=[_project(r, reveal_secrets=False) for r in items], next_cursor=next_cursor)


@app.get("/api/projects/{id}", response_model=ProjectEnvelope, summary="One project")
def get_project(id: ProjectId, caller: Viewer) -> ProjectEnvelope:
    with db.transaction() as conn:
        row = _load_project(conn, _project_id(caller, id))
    return ProjectEnvelope(project=_project(row, reveal_secrets=caller.may(Action.PROJECT_MANAGE)))


@app.patch("/api/projects/{id}", response_model=ProjectEnvelope, summary="Change a project's settings")
def update_project(id: ProjectId, body: UpdateProjectBody, caller: Manager) -> ProjectEnvelope:
    project_id = _project_id(caller, id)
    changes = body.model_dump(exclude_unset=True, exclude={"environment_variables"})
    if any(changes.get(k) is None for k in ("name", "auto_approve") if k in changes):
        raise Unprocessable("name and autoApprove cannot be null; leave them out to keep them.")
    with db.transaction() as conn:
        before = _load_project(conn, project_id)
        if body.environment_variables is not None:
            sealed = dict(before["environment_variables"] or {})
            for name, value in body.environment_variables.items():
                if value is None:
                    sealed.pop(name, None)
                else:
                    sealed[name] = crypto.seal(value, _env_context(project_id, name))
            changes["environment_variables"] = json.dumps(sealed)
        if changes:
            assignments = ", ".join(f"{column} = %s" for column in changes)  # columns from the model only
            conn.execute(f"UPDATE projects SET {assignments} WHERE id = %s", (*changes.values(), project_id))
            audit.record(
                conn,
                "project.update",
                meta=caller.meta,
                user_id=caller.user_id,
                organization_id=caller.organization_id,
                resource_type="project",
                resource_id=project_id,
                # Names of what changed only: values may be secrets.
                details={
                    "fields": sorted(k for k in changes if k != "environment_variables"),
                    "variables": sorted(body.environment_variables or {}),
                },
            )
        row = _load_project(conn, project_id)
    return ProjectEnvelope(project=_project(row, reveal_secrets=True))


@app.delete("/api/projects/{id}", status_code=204, response_class=Response, summary="Delete a project")
def delete_project(id: ProjectId, caller: Manager) -> Response:
    project_id = _project_id(caller, id)
    with db.transaction() as conn:
        row = _load_project(conn, project_id)
        conn.execute("DELETE FROM projects WHERE id = %s", (project_id,))
        audit.record(
            conn,
            "project.delete",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=caller.organization_id,
            resource_type="project",
            resource_id=project_id,
            details={"name": row["name"], "slug": row["slug"]},
        )
        # Rows go now; S3 objects (manifests, archives) go asynchronously. Enqueued inside the
        # transaction: if sending fails nothing is deleted, and a message for a project whose
        # deletion then rolled back would find objects still referenced, so the worker checks.
        client("sqs").send_message(
            QueueUrl=get_settings().project_cleanup_queue_url,
            MessageBody=json.dumps({"organizationId": str(row["organization_id"]), "projectId": str(project_id)}),
        )
    return Response(status_code=204)


# ------------------------------------------------------------------------------------ files


@app.get("/api/projects/{id}/files", response_model=FilePage, summary="The project's files, by path")
def list_files(
    id: ProjectId,
    caller: Viewer,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    cursor: Cursor = None,
) -> FilePage:
    project_id = _project_id(caller, id)
    key = decode_cursor(cursor, 1)
    rows = db.fetch_all(
        f"SELECT {working_copy.FILE_COLUMNS} FROM project_files WHERE project_id = %s AND path > %s"
        " ORDER BY path LIMIT %s",
        (project_id, key[0] if key else "", limit + 1),
    )
    items, next_cursor = page([dict(r) for r in rows], limit, lambda r: (r["path"],))
    return FilePage(items=[FileEntry.model_validate(r) for r in items], next_cursor=next_cursor)


@app.get("/api/projects/{id}/files/{path:path}", response_model=FileContent, summary="One file's content")
def get_file(id: ProjectId, path: FilePath, caller: Viewer, response: Response) -> FileContent:
    project_id = _project_id(caller, id)
    normalized = _path(path)
    with db.transaction() as conn:
        row = working_copy.current(conn, project_id, normalized)
    if row is None:
        raise NotFound("There is no such file in this project.")
    response.headers["ETag"] = f'"{row["sha256"]}"'
    return _file_content(row, working_copy.read_bytes(caller.organization_id, row))


@app.put("/api/projects/{id}/files/{path:path}", response_model=FileContent, summary="Create or replace a file")
def put_file(
    id: ProjectId,
    path: FilePath,
    body: PutFileBody,
    caller: Editor,
    response: Response,
    if_match: IfMatch = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> FileContent:
    project_id = _project_id(caller, id)
    normalized = _path(path)
    data = working_copy.decode_body(body.content, body.encoding)
    with db.transaction() as conn:
        row, created = working_copy.write(
            conn,
            organization_id=caller.organization_id,
            project_id=project_id,
            path=normalized,
            body=data,
            if_match=if_match,
            if_none_match=if_none_match,
            mode=body.mode,
        )
    response.status_code = 201 if created else 200
    response.headers["ETag"] = f'"{row["sha256"]}"'
    return _file_content(row, data.data)


@app.delete("/api/projects/{id}/files/{path:path}", status_code=204, response_class=Response, summary="Delete a file")
def delete_file(id: ProjectId, path: FilePath, caller: Editor, if_match: IfMatch = None) -> Response:
    project_id = _project_id(caller, id)
    with db.transaction() as conn:
        working_copy.delete(conn, project_id, _path(path), if_match)
    return Response(status_code=204)


@app.post("/api/projects/{id}/rename-file", response_model=FileEntry, summary="Rename or move a file")
def rename_file(
    id: ProjectId, body: RenameFileBody, caller: Editor, response: Response, if_match: IfMatch = None
) -> FileEntry:
    project_id = _project_id(caller, id)
    with db.transaction() as conn:
        row = working_copy.rename(conn, project_id, _path(body.from_), _path(body.to), if_match)
    response.headers["ETag"] = f'"{row["sha256"]}"'
    return FileEntry.model_validate(row)


# ------------------------------------------------------------------------------------ versions


@app.post(
    "/api/projects/{id}/versions", status_code=201, response_model=VersionEnvelope, summary="Snapshot the working copy"
)
def create_version(id: ProjectId, caller: Editor, body: CreateVersionBody | None = None) -> VersionEnvelope:
    project_id = _project_id(caller, id)
    with db.transaction() as conn:
        row = versions.create_version(
            conn, project_id, source="user", message=body.message if body else None, created_by=caller.user_id
        )
    return VersionEnvelope(version=version_model(row))


@app.get("/api/projects/{id}/versions", response_model=VersionPage, summary="Versions, newest first")
def list_versions(id: ProjectId, caller: Viewer, limit: Limit = 50, cursor: Cursor = None) -> VersionPage:
    project_id = _project_id(caller, id)
    key = decode_cursor(cursor, 1)
    try:
        before = int(key[0]) if key else None
    except ValueError:
        raise Unprocessable("The cursor is not valid.", code="invalid_cursor") from None
    with db.transaction() as conn:
        rows = conn.execute(
            f"SELECT {versions.VERSION_COLUMNS} FROM project_versions WHERE project_id = %s"
            " AND (%s::int IS NULL OR number < %s::int) ORDER BY number DESC LIMIT %s",
            (project_id, before, before, limit + 1),
        ).fetchall()
        items, next_cursor = page([dict(r) for r in rows], limit, lambda r: (r["number"],))
        tags = _tags(conn, [r["id"] for r in items])
    return VersionPage(items=[version_model(r, tags.get(r["id"])) for r in items], next_cursor=next_cursor)


@app.get("/api/projects/{id}/versions/{versionId}", response_model=VersionDetail, summary="A version and its files")
def get_version(id: ProjectId, version_id: VersionId, caller: Viewer) -> VersionDetail:
    project_id = _project_id(caller, id)
    with db.transaction() as conn:
        row = versions.get_version(conn, project_id, _version_id(version_id))
        tags = _tags(conn, [row["id"]])
    manifest = snapshots.get_manifest(row["manifest_key"])
    files = [
        VersionFile(path=p, sha256=e["sha256"], size=e["size"], mode=e.get("mode", 420))
        for p, e in sorted(manifest.items())
    ]
    return VersionDetail(version=version_model(row, tags.get(row["id"])), files=files)


@app.get(
    "/api/projects/{id}/versions/{versionId}/files/{path:path}",
    response_model=FileContent,
    summary="A file's content at a version",
)
def get_version_file(
    id: ProjectId, version_id: VersionId, path: FilePath, caller: Viewer, response: Response
) -> FileContent:
    project_id = _project_id(caller, id)
    normalized = _path(path)
    with db.transaction() as conn:
        row = versions.get_version(conn, project_id, _version_id(version_id))
    entry = snapshots.get_manifest(row["manifest_key"]).get(normalized)
    if entry is None:
        raise NotFound("This version has no such file.")
    data = snapshots.get_blobs(caller.organization_id, [entry["sha256"]])[entry["sha256"]]
    text = versions.text_or_none(data) is not None
    response.headers["ETag"] = f'"{entry["sha256"]}"'
    return _file_content(
        {
            "path": normalized,
            "encoding": "utf-8" if text else "base64",
            "size": entry["size"],
            "sha256": entry["sha256"],
            "language": language_for(normalized),
            "mode": entry.get("mode", 420),
        },
        data,
    )


@app.get(
    "/api/projects/{id}/versions/{versionId}/diff", response_model=Diff, summary="What changed between two versions"
)
def diff_version(
    id: ProjectId,
    version_id: VersionId,
    caller: Viewer,
    against: Annotated[str | None, Query(description="The version to compare with (default: its parent).")] = None,
) -> Diff:
    project_id = _project_id(caller, id)
    with db.transaction() as conn:
        target = versions.get_version(conn, project_id, _version_id(version_id))
        base_id = _version_id(against) if against else target["parent_id"]
        base = versions.get_version(conn, project_id, base_id) if base_id else None
    old = snapshots.get_manifest(base["manifest_key"]) if base else {}
    new = snapshots.get_manifest(target["manifest_key"])
    changes = versions.diff(caller.organization_id, old, new)
    return Diff(
        from_version_id=base["id"] if base else None,
        to_version_id=target["id"],
        files=[FileChange.model_validate(c) for c in changes],
    )


@app.post(
    "/api/projects/{id}/versions/{versionId}/restore",
    status_code=201,
    response_model=VersionEnvelope,
    summary="Make the working copy that version (recorded as a new version)",
)
def restore_version(id: ProjectId, version_id: VersionId, caller: Editor) -> VersionEnvelope:
    project_id = _project_id(caller, id)
    with db.transaction() as conn:
        target = versions.get_version(conn, project_id, _version_id(version_id))
        row = versions.restore(conn, project_id, target, caller.user_id)
        audit.record(
            conn,
            "version.restore",
            meta=caller.meta,
            user_id=caller.user_id,
            organization_id=caller.organization_id,
            resource_type="project",
            resource_id=project_id,
            details={"restoredVersion": target["number"], "newVersion": row["number"]},
        )
    return VersionEnvelope(version=version_model(row))


@app.post(
    "/api/projects/{id}/versions/{versionId}/tags",
    status_code=201,
    response_model=VersionEnvelope,
    summary="Tag a version",
)
def tag_version(id: ProjectId, version_id: VersionId, body: TagBody, caller: Editor) -> VersionEnvelope:
    project_id = _project_id(caller, id)
    with db.transaction() as conn:
        row = versions.get_version(conn, project_id, _version_id(version_id))
        inserted = conn.execute(
            "INSERT INTO version_tags (project_id, version_id, name, created_by) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (project_id, name) DO NOTHING RETURNING id",
            (project_id, row["id"], body.name, caller.user_id),
        ).fetchone()
        if inserted is None:
            raise Conflict(
                f"The tag '{body.name}' is on another version already; remove it there first.", code="tag_taken"
            )
        tags = _tags(conn, [row["id"]])
    return VersionEnvelope(version=version_model(row, tags.get(row["id"])))


@app.delete(
    "/api/projects/{id}/versions/{versionId}/tags/{name}",
    status_code=204,
    response_class=Response,
    summary="Remove a tag",
)
def untag_version(id: ProjectId, version_id: VersionId, name: str, caller: Editor) -> Response:
    project_id = _project_id(caller, id)
    with db.transaction() as conn:
        deleted = conn.execute(
            "DELETE FROM version_tags WHERE project_id = %s AND version_id = %s AND name = %s",
            (project_id, _version_id(version_id), name),
        ).rowcount
    if not deleted:
        raise NotFound("This version has no such tag.")
    return Response(status_code=204)


@app.get(
    "/api/projects/{id}/versions/{versionId}/archive", response_model=Archive, summary="Download a version as a zip"
)
def archive_version(id: ProjectId, version_id: VersionId, caller: Viewer) -> Archive:
    project_id = _project_id(caller, id)
    with db.transaction() as conn:
        row = versions.get_version(conn, project_id, _version_id(version_id))
        project = _load_project(conn, project_id)
    url = versions.archive_url(caller.organization_id, project_id, row, project["slug"])
    return Archive(url=url, expires_in=versions.ARCHIVE_URL_TTL_S)


handler = lambda_handler(app)
