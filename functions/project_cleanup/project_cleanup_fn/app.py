"""Deletes a deleted project's objects (manifests, archives) from the snapshots bucket, then
the organization's blobs that no version or working copy refers to any more."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from mm_common import db, snapshots
from mm_common.config import get_settings
from mm_common.observability import for_service

obs = for_service("project-cleanup")
processor = BatchProcessor(event_type=EventType.SQS)


def delete_project_objects(record: SQSRecord) -> None:
    message: dict[str, Any] = json.loads(record.body)
    organization_id, project_id = message["organizationId"], message["projectId"]
    # A message sent by a deletion that then rolled back must not destroy a live project's history.
    if db.fetch_one("SELECT 1 FROM projects WHERE id = %s", (project_id,)) is not None:
        obs.logger.warning("project still exists; keeping its objects", extra={"project_id": project_id})
        return
    deleted = snapshots.delete_prefix(snapshots.project_prefix(organization_id, project_id))
    # Blobs only that project used are garbage now; blobs shared with other projects stay.
    with db.transaction() as conn:
        swept = snapshots.sweep_organization(conn, organization_id, grace_hours=get_settings().blob_gc_grace_hours)
    obs.metrics.add_metric(name="ProjectObjectsDeleted", unit="Count", value=deleted)
    obs.metrics.add_metric(name="BlobsCollected", unit="Count", value=swept)
    obs.logger.info("deleted project objects", extra={"project_id": project_id, "objects": deleted, "blobs": swept})


@obs.logger.inject_lambda_context(clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=delete_project_objects, processor=processor, context=context
        )
    )
