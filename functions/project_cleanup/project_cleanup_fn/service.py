"""Cleans up after a deleted project: its deployed app and database are destroyed on Easypanel and its Gitea
repository is archived (kept read-only: the backup outlives the project, an operator may delete it), then its
objects (manifests, archives) go from the snapshots bucket, then the organization's blobs that no version or
working copy refers to any more.

Every part is idempotent, so a redelivered message repeats nothing harmful. A deploy server that does not answer
fails the message (SQS delivers it again later, then the dead-letter queue); one that refuses is logged and the
rest of the clean-up goes on (retrying the same refused request cannot help)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from mm_common import db, preview_builds, snapshots
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.deploy import services as deploy_services
from mm_common.deploy.errors import PermanentError
from mm_common.deploy.services import ProjectServices
from mm_common.observability import count, for_service

SERVICE = "project-cleanup"
obs = for_service(SERVICE)


def project_exists(conn: Connection, project_id: uuid.UUID) -> bool:
    return conn.execute("SELECT 1 FROM projects WHERE id = %s", (project_id,)).fetchone() is not None


class BlobsLeft(RuntimeError):
    """S3 stopped deleting part-way through a sweep; the message is to be delivered again."""


def delete_project_objects(record: SQSRecord) -> None:
    message: dict[str, Any] = json.loads(record.body)
    # Ids, not free text: they become an S3 prefix to delete under. A malformed message fails
    # (and reaches the dead-letter queue after its retries) instead of deleting anything.
    organization_id = uuid.UUID(str(message["organizationId"]))
    project_id = uuid.UUID(str(message["projectId"]))
    # A message sent by a deletion that then rolled back must not destroy a live project's history.
    with db.transaction() as conn:
        still_there = project_exists(conn, project_id)
    if still_there:
        obs.logger.warning("project still exists; keeping its objects", extra={"project_id": str(project_id)})
        return
    tear_down_deployment(project_id, message)
    deleted = snapshots.delete_prefix(snapshots.project_prefix(organization_id, project_id))
    deleted += delete_preview_sites(message.get("previewLabels") or [])
    # Blobs only that project used are garbage now; blobs shared with other projects stay.
    with db.transaction() as conn:
        sweep = snapshots.sweep_organization(conn, organization_id, grace_hours=get_settings().blob_gc_grace_hours)
    count(SERVICE, "ProjectObjectsDeleted", deleted)
    count(SERVICE, "BlobsCollected", sweep.collected)
    if sweep.kept:
        # What S3 did delete is forgotten (committed above); the rest is still recorded. Failing
        # the message makes SQS deliver it again later, and the sweep picks up where it stopped.
        obs.logger.warning(
            "unreferenced blobs left for a later sweep",
            extra={"organization_id": str(organization_id), "kept": sweep.kept, "problem": sweep.problem},
        )
        raise BlobsLeft(f"{sweep.kept} unreferenced blobs of organization {organization_id} are left: {sweep.problem}")
    obs.logger.info(
        "deleted project objects",
        extra={"project_id": str(project_id), "objects": deleted, "blobs": sweep.collected},
    )


def delete_preview_sites(labels: list[Any]) -> int:
    """Remove the project's live preview sites (``sites/<label>/`` in the previews bucket)."""
    bucket = get_settings().previews_bucket
    if not bucket:
        return 0
    deleted = 0
    for label in labels:
        # Only labels as the worker makes them: anything else would name another prefix.
        if isinstance(label, str) and preview_builds.LABEL.fullmatch(label):
            deleted += snapshots.delete_prefix(preview_builds.site_prefix(label), bucket=bucket)
    return deleted


def tear_down_deployment(project_id: uuid.UUID, message: dict[str, Any]) -> None:
    """The project's app and database destroyed, its repository archived (each only when recorded)."""
    settings = get_settings()
    recorded = message.get("services")
    if recorded:
        services = ProjectServices.from_json(recorded)
        try:
            with deploy_services.easypanel(settings) as panel:
                destroyed = deploy_services.destroy(panel, services)
            count(SERVICE, "ServicesDestroyed", len(destroyed))
        except PermanentError as error:
            obs.logger.error(
                "the deployed app could not be destroyed; an operator must remove it",
                extra={
                    "project_id": str(project_id),
                    "services": recorded,
                    "error": error.message,
                    "detail": error.detail,
                },
            )
    repository = message.get("repository")
    if repository and "/" in str(repository):
        owner, name = str(repository).split("/", 1)
        try:
            with deploy_services.gitea(settings) as gitea:
                if gitea.get_repo(owner, name) is not None:
                    gitea.archive_repo(owner, name)
        except PermanentError as error:
            obs.logger.error(
                "the repository could not be archived",
                extra={"project_id": str(project_id), "repository": repository, "error": error.message},
            )
