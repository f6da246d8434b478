"""What the projects function's routes share: who may call them and their path parameters."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Path

from mm_common.auth import Caller, organization_from_project, parse_uuid, require
from mm_common.permissions import Action

IN_PROJECT = organization_from_project("id")
Viewer = Annotated[Caller, require(Action.PROJECT_VIEW, organization=IN_PROJECT)]
Editor = Annotated[Caller, require(Action.PROJECT_EDIT, organization=IN_PROJECT)]
Manager = Annotated[Caller, require(Action.PROJECT_MANAGE, organization=IN_PROJECT)]
SecretReader = Annotated[Caller, require(Action.PROJECT_SECRETS_REVEAL, organization=IN_PROJECT)]
ProjectId = Annotated[str, Path(description="The project's id.")]
VersionId = Annotated[str, Path(alias="versionId", description="The version's id.")]
FilePath = Annotated[str, Path(description="The file's path in the project, e.g. src/App.tsx.")]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]


def project_uuid(value: str) -> uuid.UUID:
    """The project id of the path; require() has resolved the project, so it is well formed."""
    project_id = parse_uuid(value)
    assert project_id is not None
    return project_id


def etag(sha256: str) -> str:
    return f'"{sha256}"'
