"""SQS worker: each message names a new version, backed up as a commit of its project's Gitea
repository (see service.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from gitea_mirror_fn.service import mirror_record, obs
from mm_common.config import require_settings
from mm_common.observability import traced_handler

processor = BatchProcessor(event_type=EventType.SQS)

# Versions are read from the snapshots bucket: without it, fail at cold start. (Gitea is optional
# in the template: without GITEA_URL no version is queued, and a message is dropped with a warning.)
require_settings("snapshots_bucket")


@obs.logger.inject_lambda_context(clear_state=True)
@traced_handler(obs.service)
@obs.metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=mirror_record, processor=processor, context=context)
    )
