"""SQS worker: each message asks to analyze an import's uploads or to import its chosen apps (see service.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from import_worker_fn.service import handle_record, obs
from mm_common.config import require_settings
from mm_common.observability import traced_handler

processor = BatchProcessor(event_type=EventType.SQS)

# Uploads are read from the imports bucket, versions written to the snapshots bucket.
require_settings("imports_bucket", "snapshots_bucket")


@obs.logger.inject_lambda_context(clear_state=True)
@traced_handler(obs.service)
@obs.metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    )
