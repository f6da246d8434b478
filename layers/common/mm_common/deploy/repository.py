"""A project's Gitea repository, shared by the mirror worker and the deploy steps.

Name: ``<GITEA_OWNER>/<org-slug>--<project-slug>`` (slugs are [a-z0-9-] and unique per organization, and
"--" never starts or ends a slug, so two projects never share a name), recorded on the project at its
creation and reused forever after (a slug renamed later does not move it). A repository of that name
already there is reused only when its description names this project.

Branches: ``main`` holds the versions, one commit each (the mirror's); ``deploy`` holds what the last deployment
built (its version plus any generated Dockerfile), written only by the deploy's PushToGitea and built by the panel.
A version mirrored to main while a deployment builds can therefore never change what that deployment builds, and
generated files never appear in the versions' history.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mm_common import db, snapshots, versions
from mm_common.db import Connection
from mm_common.deploy.errors import PermanentError
from mm_common.deploy.gitea import EnsuredRepository, GiteaClient, Identity, SyncResult

VERSIONS_BRANCH = "main"
DEPLOY_BRANCH = "deploy"
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


class VersionFiles(Mapping[str, bytes]):
    """path → content of a version, each blob read from the snapshots bucket when first wanted (a 2,000-file
    version whose one file changed is compared and committed without reading the other 1,999); ``extra`` files
    (generated ones) are held in memory and take the place of the version's own at the same path."""

    def __init__(self, organization_id: Any, manifest: snapshots.Manifest, extra: Mapping[str, bytes] | None = None):
        self.organization_id = organization_id
        self.manifest = manifest
        self.extra = dict(extra or {})
        self._read: dict[str, bytes] = {}

    def __getitem__(self, path: str) -> bytes:
        if path in self.extra:
            return self.extra[path]
        entry = self.manifest[path]
        sha = entry["sha256"]
        if sha not in self._read:
            self._read.update(snapshots.get_blobs(self.organization_id, [sha]))
        return self._read[sha]

    def __iter__(self) -> Iterator[str]:
        yield from self.manifest
        yield from (path for path in self.extra if path not in self.manifest)

    def __len__(self) -> int:
        return len(self.manifest) + sum(1 for path in self.extra if path not in self.manifest)

    def __contains__(self, path: object) -> bool:
        return path in self.extra or path in self.manifest

    def prefetch(self, paths: Iterable[str]) -> None:
        """Read the blobs of ``paths`` not read yet, in parallel."""
        wanted = {
            self.manifest[path]["sha256"] for path in paths if path not in self.extra and path in self.manifest
        } - set(self._read)
        self._read.update(snapshots.get_blobs(self.organization_id, wanted))

    def with_extra(self, extra: Mapping[str, bytes]) -> VersionFiles:
        """These files plus ``extra`` (sharing what was read already)."""
        combined = VersionFiles(self.organization_id, self.manifest, {**self.extra, **extra})
        combined._read = self._read
        return combined

    def unchanged_since(self, earlier: snapshots.Manifest) -> set[str]:
        """The version's own paths whose content is the same in the ``earlier`` manifest (extra files never are)."""
        return {
            path
            for path, entry in self.manifest.items()
            if path not in self.extra and earlier.get(path, {}).get("sha256") == entry["sha256"]
        }


def version_files(organization_id: Any, manifest_key: str) -> VersionFiles:
    """A version's files, read from the snapshots bucket as they are wanted."""
    return VersionFiles(organization_id, snapshots.get_manifest(manifest_key))


@dataclass(frozen=True)
class Baseline:
    """A commit known to hold a version's files (and only its files, plus ``extra`` paths): a sync onto a branch
    whose head is still ``commit`` reads only the files that changed since that version."""

    commit: str
    manifest_key: str


def _unchanged(files: VersionFiles, baseline: Baseline | None) -> tuple[set[str], str | None]:
    if baseline is None:
        return set(), None
    return files.unchanged_since(snapshots.get_manifest(baseline.manifest_key)), baseline.commit


def author(name: str | None, email: str | None) -> Identity:
    """The version's author as Gitea takes it; the platform when the user is gone."""
    if not email:
        return FALLBACK_AUTHOR
    return Identity(name or email.split("@")[0], email)


def commit_version(
    gitea: GiteaClient,
    owner: str,
    name: str,
    organization_id: Any,
    version: Mapping[str, Any],
    baseline: Baseline | None = None,
) -> SyncResult:
    """Make the repository's main hold exactly the version's files, as a commit with the version's message
    and author (none when nothing differs), and record the head on the version (``gitea_commit_id``).
    ``version``: ``id``, ``number``, ``message``, ``manifest_key``, ``author_name``, ``author_email``;
    ``baseline``: the version main should hold now (the last one mirrored), to read only what changed since."""
    files = version_files(organization_id, version["manifest_key"])
    message = version["message"] or f"Version {version['number']}"
    unchanged, since = _unchanged(files, baseline)
    result = gitea.sync(
        owner,
        name,
        files,
        message=message,
        author=author(version["author_name"], version["author_email"]),
        branch=VERSIONS_BRANCH,
        unchanged=unchanged,
        unchanged_since=since,
    )
    if result.head is None:
        raise PermanentError(f"Gitea repository {owner}/{name} has no commit to record", service="gitea")
    with db.transaction() as conn:
        versions.record_gitea_commit(conn, version["id"], result.head)
    return result


def mirrored_baseline(conn: Connection, project_id: Any, before_number: int) -> Baseline | None:
    """What main holds before version ``before_number`` is committed: the last version mirrored."""
    row = versions.last_mirrored(conn, project_id, before_number)
    return Baseline(row["gitea_commit_id"], row["manifest_key"]) if row else None


def commit_versions(
    gitea: GiteaClient,
    owner: str,
    name: str,
    organization_id: Any,
    pending: list[dict[str, Any]],
    baseline: Baseline | None,
) -> list[SyncResult]:
    """`commit_version` of each pending version in order, each read against the one before it."""
    results: list[SyncResult] = []
    for version in pending:
        result = commit_version(gitea, owner, name, organization_id, version, baseline)
        results.append(result)
        if result.head is not None:
            baseline = Baseline(result.head, version["manifest_key"])
    return results
