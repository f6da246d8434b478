"""Deletes a deleted project's objects (manifests, archives) from the snapshots bucket, then
the organization's blobs that no version or working copy refers to any more."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from mm_common import db, snapshots
from mm_common.config import get_settings
from mm_common.db import Connection
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
    deleted = snapshots.delete_prefix(snapshots.project_prefix(organization_id, project_id))
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
