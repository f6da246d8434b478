"""Backs every version up to Gitea: one commit per version on the project's repository
``<GITEA_OWNER>/<org-slug>--<project-slug>`` (created on the first message), in version order.

A message names a version (``{"projectId", "versionId"}``, sent when the version is created).
The worker mirrors every version of the project up to that one that has no commit yet, oldest
first, so a newer version never lands before an older one, and a version whose message was lost
is caught up by the next. Each commit's sha is recorded on its version as soon as Gitea answers:
a redelivered message finds nothing left to do, and a crash between the commit and the record
makes no second commit (the repository already holds the files: nothing differs, the head is
recorded). Gitea failing transiently (timeouts, 429, 5xx) or permanently fails the message: SQS
delivers it again and, after the queue's maxReceiveCount, moves it to the dead-letter queue.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from gitea_mirror_fn import queries
from mm_common import db, versions
from mm_common.config import Settings, get_settings, gitea_token
from mm_common.deploy import repository
from mm_common.deploy.errors import PermanentError, TransientError
from mm_common.deploy.gitea import GiteaClient
from mm_common.observability import count, for_service, traced

SERVICE = "gitea-mirror"
obs = for_service(SERVICE)


class MirrorBusy(TransientError):
    """Another mirror of the same project held it longer than we would wait; try again later."""


def mirror_record(record: SQSRecord) -> None:
    message: dict[str, Any] = json.loads(record.body)
    project_id = uuid.UUID(str(message["projectId"]))
    version_id = uuid.UUID(str(message["versionId"]))
    settings = get_settings()
    if not settings.gitea_url:
        obs.logger.warning("GITEA_URL is not set: version not mirrored", extra={"version_id": str(version_id)})
        return
    try:
        mirror_version(settings, project_id, version_id)
    except TransientError as error:
        count(SERVICE, "TransientFailure")
        obs.logger.warning(
            "gitea mirror failed; it will be retried",
            extra={"project_id": str(project_id), "version_id": str(version_id), "error": error.message},
        )
        raise
    except PermanentError as error:
        count(SERVICE, "PermanentFailure")
        obs.logger.error(
            "gitea mirror refused; the message goes to the dead-letter queue after its retries",
            extra={
                "project_id": str(project_id),
                "version_id": str(version_id),
                "error": error.message,
                "status": error.status,
                "detail": error.detail,
            },
        )
        raise


@traced(SERVICE)
def mirror_version(settings: Settings, project_id: uuid.UUID, version_id: uuid.UUID) -> None:
    with db.transaction() as conn:
        project = queries.project_for_mirror(conn, project_id)
        number = queries.version_number(conn, project_id, version_id) if project is not None else None
    if project is None or number is None:
        # Deleted since, or the version's transaction rolled back: nothing to back up.
        obs.logger.info("nothing to mirror", extra={"project_id": str(project_id), "version_id": str(version_id)})
        return
    try:
        with db.transaction() as conn:
            queries.lock_mirror(conn, project_id)
    except psycopg.errors.QueryCanceled as error:
        raise MirrorBusy(f"another mirror of project {project_id} is running", service="gitea") from error
    try:
        with db.transaction() as conn:
            pending = versions.unmirrored_versions(conn, project_id, number)
            baseline = repository.mirrored_baseline(conn, project_id, pending[0]["number"]) if pending else None
        if not pending:
            return  # a redelivery: mirrored already
        with GiteaClient(settings.gitea_url, gitea_token(settings)) as gitea:
            owner, name = ensure_repository(gitea, settings, project)
            results = repository.commit_versions(gitea, owner, name, project["organization_id"], pending, baseline)
        count(SERVICE, "VersionMirrored", len(results))
        count(SERVICE, "Commits", sum(len(result.commits) for result in results))
    finally:
        with db.transaction() as conn:
            queries.unlock_mirror(conn, project_id)


def ensure_repository(gitea: GiteaClient, settings: Settings, project: dict[str, Any]) -> tuple[str, str]:
    """The project's repository: the one recorded (renaming a slug later does not move it), or a new
    private one; a repository of that name already there is reused only when it is this project's."""
    if project["gitea_repo_url"]:
        return repository.owner_and_name(project["gitea_repo_url"])
    ensured = repository.create_repository(gitea, settings.gitea_owner, project)
    with db.transaction() as conn:
        queries.record_repository(conn, project["id"], ensured.repository.id, ensured.repository.html_url)
    count(SERVICE, "RepositoryCreated" if ensured.created else "RepositoryReused")
    return ensured.repository.owner, ensured.repository.name
