"""A project's Gitea repository, shared by the mirror worker and the deploy steps.

Name: ``<GITEA_OWNER>/<org-slug>--<project-slug>`` (slugs are [a-z0-9-] and unique per organization, and
"--" never starts or ends a slug, so two projects never share a name), recorded on the project at its
creation and reused forever after (a slug renamed later does not move it). A repository of that name
already there is reused only when its description names this project.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from mm_common import db, snapshots, versions
from mm_common.deploy.errors import PermanentError
from mm_common.deploy.gitea import EnsuredRepository, GiteaClient, Identity, SyncResult

MAX_REPO_NAME = 100  # Gitea: AlphaDashDot, at most 100 characters
FALLBACK_AUTHOR = Identity("MoreMinimore", "noreply@moreminimore.local")


def repository_name(organization_slug: str, project_slug: str, project_id: uuid.UUID) -> str:
    """``<org-slug>--<project-slug>``; too long for Gitea: cut, with the project id's start to keep it unique."""
    name = f"{organization_slug}--{project_slug}"
    if len(name) <= MAX_REPO_NAME:
        return name
    return f"{name[: MAX_REPO_NAME - 9].rstrip('-')}-{project_id.hex[:8]}"


def description(project_id: uuid.UUID) -> str:
    return f"MoreMinimore project {project_id}"


def owner_and_name(repo_url: str) -> tuple[str, str]:
    """("owner", "name") of a recorded repository URL (``…/owner/name`` or ``…/owner/name.git``)."""
    owner, name = repo_url.rstrip("/").removesuffix(".git").split("/")[-2:]
    return owner, name


def create_repository(gitea: GiteaClient, gitea_owner: str, project: Mapping[str, Any]) -> EnsuredRepository:
    """A new private repository for ``project`` (``id``, ``slug``, ``organization_slug``), or the one of
    that name when it is this project's; another's is refused (PermanentError)."""
    project_id = uuid.UUID(str(project["id"]))
    name = repository_name(project["organization_slug"], project["slug"], project_id)
    ensured = gitea.create_org_repo(gitea_owner, name, description=description(project_id))
    if not ensured.created and ensured.repository.description != description(project_id):
        raise PermanentError(
            f"Gitea repository {gitea_owner}/{name} exists and is not this project's", service="gitea", status=409
        )
    return ensured


def version_files(organization_id: Any, manifest_key: str) -> dict[str, bytes]:
    """path → content of a version, read from the snapshots bucket."""
    manifest = snapshots.get_manifest(manifest_key)
    blobs = snapshots.get_blobs(organization_id, [entry["sha256"] for entry in manifest.values()])
    return {path: blobs[entry["sha256"]] for path, entry in manifest.items()}


def author(name: str | None, email: str | None) -> Identity:
    """The version's author as Gitea takes it; the platform when the user is gone."""
    if not email:
        return FALLBACK_AUTHOR
    return Identity(name or email.split("@")[0], email)


def commit_version(
    gitea: GiteaClient, owner: str, name: str, organization_id: Any, version: Mapping[str, Any]
) -> SyncResult:
    """Make the repository's main hold exactly the version's files, as a commit with the version's message
    and author (none when nothing differs), and record the head on the version (``gitea_commit_id``).
    ``version``: ``id``, ``number``, ``message``, ``manifest_key``, ``author_name``, ``author_email``."""
    files = version_files(organization_id, version["manifest_key"])
    message = version["message"] or f"Version {version['number']}"
    result = gitea.sync(
        owner, name, files, message=message, author=author(version["author_name"], version["author_email"])
    )
    if result.head is None:
        raise PermanentError(f"Gitea repository {owner}/{name} has no commit to record", service="gitea")
    with db.transaction() as conn:
        versions.record_gitea_commit(conn, version["id"], result.head)
    return result
