"""Request and response bodies of the imports function."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field, field_validator

from mm_common.models import ApiModel, RequestModel, UtcDatetime

MAX_ARCHIVES = 20
MAX_APPS_PER_IMPORT = 50


class ArchiveSlot(RequestModel):
    name: str = Field(min_length=1, max_length=200, description="The file's name, e.g. todo-app.zip.")
    size: int = Field(ge=1, description="The file's size in bytes (checked against the import's limits).")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError("Give the file's name alone, without folders.")
        return value


class CreateImportBody(RequestModel):
    organization_id: uuid.UUID = Field(description="The organization the projects are imported into.")
    database_size: int = Field(ge=1, description="Size in bytes of the desktop app's sqlite.db.")
    archives: list[ArchiveSlot] = Field(
        default_factory=list,
        max_length=MAX_ARCHIVES,
        description="Each app's folder with its .git as a zip, or a git bundle.",
    )


class StartApp(RequestModel):
    app_id: int = Field(description="The app's id in the desktop database (from the analysis).")
    project_name: str | None = Field(default=None, min_length=1, max_length=255)


class StartOptions(RequestModel):
    chats: bool = True
    files: bool = True
    prompts: bool = True
    models: bool = Field(default=False, description="List the custom models for an administrator to add.")
    env_vars: bool = Field(default=False, description="Seal the apps' .env files as project variables.")


class StartBody(RequestModel):
    apps: list[StartApp] = Field(min_length=1, max_length=MAX_APPS_PER_IMPORT)
    options: StartOptions = Field(default_factory=StartOptions)


class Upload(ApiModel):
    name: str
    kind: Literal["database", "archive"]
    max_bytes: int
    url: str | None = Field(description="Where to POST the file (multipart form: the fields, then `file`).")
    fields: dict[str, str] | None = Field(description="The form fields of the presigned POST, in order.")


class AnalyzedApp(ApiModel):
    app_id: int
    name: str
    path: str
    chats: int
    messages: int
    archive: str | None = Field(description="The uploaded archive matched to this app (by its folder name).")
    commits: int | None
    files: int | None
    skipped_files: int | None
    env_files: int | None
    archive_error: str | None


class CustomModel(ApiModel):
    display_name: str
    api_name: str
    provider: str | None
    api_base_url: str | None


class Analysis(ApiModel):
    apps: list[AnalyzedApp]
    prompts: int
    themes: list[str]
    custom_models: list[CustomModel]
    unmatched_archives: list[str]
    warnings: list[str]


class ImportedApp(ApiModel):
    id: uuid.UUID
    app_id: int
    project_name: str
    project_id: uuid.UUID | None
    archive_name: str | None
    status: Literal["queued", "importing", "completed", "failed"]
    stage: str | None
    counts: dict[str, int]
    warnings: list[str]
    errors: list[dict[str, Any]]


class ImportFailure(ApiModel):
    code: str
    message: str


class Import(ApiModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    created_by: uuid.UUID | None
    status: Literal["uploading", "analyzing", "analyzed", "importing", "completed", "failed"]
    uploads: list[Upload]
    analysis: Analysis | None
    options: StartOptions | None
    error: ImportFailure | None
    apps: list[ImportedApp]
    created_at: UtcDatetime
    analyzed_at: UtcDatetime | None
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None


class ImportEnvelope(ApiModel):
    import_: Import = Field(alias="import")


class ImportPage(ApiModel):
    items: list[Import]
    next_cursor: str | None = None
