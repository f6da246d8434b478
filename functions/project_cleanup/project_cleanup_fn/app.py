"""SQS worker: each message names a deleted project whose S3 objects go (see service.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from mm_common.config import require_settings
from mm_common.observability import traced_handler
from project_cleanup_fn.service import delete_project_objects, obs

processor = BatchProcessor(event_type=EventType.SQS)

# Everything this worker deletes is in the snapshots bucket: without it, fail at cold start.
require_settings("snapshots_bucket")


@obs.logger.inject_lambda_context(clear_state=True)
@traced_handler(obs.service)
@obs.metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=delete_project_objects, processor=processor, context=context
        )
    )
