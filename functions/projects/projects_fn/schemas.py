"""Request and response bodies of the projects function."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator
from starlette.responses import Response

from mm_common.models import ApiModel, RequestModel, UtcDatetime
from mm_common.slugs import slug_problem

MAX_SEARCH_LENGTH = 100
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_ENV_VALUE = 16 * 1024
MAX_ENV_VARIABLES = 200


def _clean_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("Give the project a name.")
    return value


def _not_null(value: Any) -> Any:
    """For PATCH fields whose column cannot be empty: null is refused (leave the field out to keep
    it). Runs before type validation, so later validators never see None."""
    if value is None:
        raise ValueError("This field cannot be null; leave it out to keep its value.")
    return value


def _slug(value: str) -> str:
    problem = slug_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _env_changes(value: dict[str, str | None]) -> dict[str, str | None]:
    if len(value) > MAX_ENV_VARIABLES:
        raise ValueError(f"A project may have at most {MAX_ENV_VARIABLES} environment variables.")
    for name, setting in value.items():
        if not ENV_NAME.fullmatch(name):
            raise ValueError(
                f"'{name}' is not a valid variable name: use letters, digits and _, not starting with a digit."
            )
        if setting is not None and len(setting) > MAX_ENV_VALUE:
            raise ValueError(f"The value of {name} is longer than {MAX_ENV_VALUE} characters.")
    return value


class EnvironmentVariable(ApiModel):
    # Values never appear in a project: each is revealed by a call of its own
    # (GET /api/projects/{id}/environment-variables/{name}), permission-checked and audited.
    name: str
    set: bool


class EnvironmentVariableValue(ApiModel):
    name: str
    value: str


class Project(ApiModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    slug: str
    description: str | None
    template: str | None
    status: str
    install_command: str | None
    build_command: str | None
    start_command: str | None
    auto_approve: bool
    environment_variables: list[EnvironmentVariable]
    current_version_id: uuid.UUID | None
    deployment_url: str | None
    created_by: uuid.UUID | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    last_deployed_at: UtcDatetime | None


class ProjectEnvelope(ApiModel):
    project: Project


class ProjectPage(ApiModel):
    items: list[Project]
    next_cursor: str | None = None


class CreateProjectBody(RequestModel):
    organization_id: uuid.UUID
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)
    template: str | None = Field(default=None, max_length=100)

    _name = field_validator("name")(_clean_name)


class UpdateProjectBody(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    slug: str | None = Field(
        default=None,
        max_length=255,
        description="Unique within the organization: lower-case letters, digits and hyphens (at most 60).",
    )
    description: str | None = Field(default=None, max_length=5000)
    install_command: str | None = Field(default=None, max_length=1000)
    build_command: str | None = Field(default=None, max_length=1000)
    start_command: str | None = Field(default=None, max_length=1000)
    auto_approve: bool | None = None
    # NAME -> value sets or replaces a variable; NAME -> null removes it; others stay.
    environment_variables: dict[str, str | None] | None = None

    _required = field_validator("name", "slug", "auto_approve", "environment_variables", mode="before")(_not_null)
    _name = field_validator("name")(_clean_name)
    _slug = field_validator("slug")(_slug)
    _env = field_validator("environment_variables")(_env_changes)


class Template(ApiModel):
    id: str
    name: str
    description: str
    default: bool
    file_count: int


class TemplateList(ApiModel):
    items: list[Template]


class FileEntry(ApiModel):
    path: str
    size: int
    language: str | None
    sha256: str
    encoding: Literal["utf-8", "base64"]
    mode: int
    updated_at: UtcDatetime


class FilePage(ApiModel):
    items: list[FileEntry]
    next_cursor: str | None = None


class FileContent(ApiModel):
    path: str
    content: str
    encoding: Literal["utf-8", "base64"]
    size: int
    sha256: str
    language: str | None
    mode: int
    updated_at: UtcDatetime | None = None


class PutFileBody(RequestModel):
    # Text as is (utf-8), or any bytes as base64. Limits are checked on the decoded bytes. Text
    # cannot hold NUL or unpaired surrogates (RequestModel: 422); binary content is base64.
    content: str
    encoding: Literal["utf-8", "base64"] = "utf-8"
    mode: int | None = Field(default=None, ge=0, le=0o7777)


class RenameFileBody(RequestModel):
    from_: str = Field(alias="from", min_length=1, max_length=2048)
    to: str = Field(min_length=1, max_length=2048)


class Version(ApiModel):
    id: uuid.UUID
    project_id: uuid.UUID
    number: int
    parent_id: uuid.UUID | None
    message: str | None
    source: str
    created_by: uuid.UUID | None
    message_id: uuid.UUID | None
    file_count: int
    total_size: int
    restored_from_id: uuid.UUID | None
    is_current: bool
    tags: list[str] = Field(default_factory=list)
    created_at: UtcDatetime


class VersionEnvelope(ApiModel):
    version: Version


class VersionPage(ApiModel):
    items: list[Version]
    next_cursor: str | None = None


class VersionFile(ApiModel):
    path: str
    sha256: str
    size: int
    mode: int


class VersionDetail(ApiModel):
    version: Version
    files: list[VersionFile]


class CreateVersionBody(RequestModel):
    message: str | None = Field(default=None, max_length=2000)


class TagBody(RequestModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w.\-]+$")


class FileChange(ApiModel):
    path: str
    status: Literal["added", "modified", "deleted", "renamed"]
    old_path: str | None
    size: int
    binary: bool = False
    patch: str | None = None


class Diff(ApiModel):
    from_version_id: uuid.UUID | None
    to_version_id: uuid.UUID
    files: list[FileChange]


class Archive(ApiModel):
    url: str
    expires_in: int


def version_model(row: dict[str, Any], tags: list[str] | None = None) -> Version:
    return Version.model_validate({**{k: row[k] for k in Version.model_fields if k != "tags"}, "tags": tags or []})


def project_model(row: Mapping[str, Any]) -> Project:
    """A project as everyone sees it: variable names only (``set``), never their values."""
    sealed: Mapping[str, Any] = row["environment_variables"] or {}
    data = {k: row[k] for k in Project.model_fields if k != "environment_variables"}
    return Project.model_validate(
        {**data, "environment_variables": [EnvironmentVariable(name=name, set=True) for name in sorted(sealed)]}
    )


def file_content(row: Mapping[str, Any], data: bytes) -> FileContent:
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


def file_page_response(entries: str, next_cursor: str | None) -> Response:
    """``FilePage(items=..., next_cursor=...)`` as FastAPI would answer it (compact JSON, UTF-8),
    around entries already rendered as JSON (``queries.file_entries_json``): a big page is never
    built as 1,000 models."""
    items, cursor = (field.alias or name for name, field in FilePage.model_fields.items())
    body = f'{{"{items}":[{entries}],"{cursor}":{json.dumps(next_cursor)}}}'
    return Response(body.encode("utf-8"), media_type="application/json")


# ------------------------------------------------------------------------------------------------ live previews
PreviewStatus = Literal["queued", "building", "ready", "failed", "unsupported", "skipped", "not_built", "unavailable"]


class PreviewProblem(ApiModel):
    """A type error, build error or invalid file of the version (``file`` relative to the project root)."""

    file: str | None
    line: int | None
    column: int | None
    code: str | None = Field(description="tsc's code (TS2322), or the Vite plugin that failed.")
    message: str


class PreviewSummary(ApiModel):
    id: uuid.UUID
    version_id: uuid.UUID
    version_number: int
    status: PreviewStatus
    message: str | None
    url: str | None = Field(description="Where the site is served (ready builds only): open it or frame it.")
    problems: list[PreviewProblem]
    checking: bool = Field(description="The site is up and its type check still runs: more problems may come.")
    requested: bool = Field(description="A user asked for this build (automatic builds of new versions: false).")
    dependency_source: Literal["warm", "archive", "installed"] | None
    timings: dict[str, float] = Field(
        description="Seconds per step (queued, files, dependencies, build, upload, typecheck, total)."
    )
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    ready_at: UtcDatetime | None
    finished_at: UtcDatetime | None


class Preview(ApiModel):
    """The newest build of a version (or why there is none) and, while it runs, the version's last ready site."""

    status: PreviewStatus
    version_id: uuid.UUID
    message: str | None
    build: PreviewSummary | None
    log: str | None = Field(description="The end of the build's output (npm, vite, tsc).")
    last_ready: PreviewSummary | None = Field(
        description="The version's newest ready build, when the newest build is not it (shown while it runs)."
    )


class PreviewEnvelope(ApiModel):
    preview: Preview


class PreviewPage(ApiModel):
    items: list[PreviewSummary]
    next_cursor: str | None = None


def preview_summary(row: Mapping[str, Any], url: str | None) -> PreviewSummary:
    return PreviewSummary(
        id=row["id"],
        version_id=row["version_id"],
        version_number=row["version_number"],
        status=row["status"],
        message=row["message"],
        url=url,
        problems=[PreviewProblem.model_validate(problem) for problem in row["problems"]],
        checking=row["checking"],
        requested=row["requested_by"] is not None,
        dependency_source=row["dependency_source"],
        timings=row["timings"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ready_at=row["ready_at"],
        finished_at=row["finished_at"],
    )
