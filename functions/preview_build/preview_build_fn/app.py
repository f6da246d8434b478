"""SQS worker: each message names a queued preview build of a project version (see service.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from mm_common.config import require_settings
from mm_common.observability import traced_handler
from mm_common.preview.process import forbid_inspection_by_children
from preview_build_fn.service import build_record, obs

processor = BatchProcessor(event_type=EventType.SQS)

# Versions are read from the snapshots bucket and sites written to the previews bucket.
require_settings("snapshots_bucket", "previews_bucket")
# Before any build starts: the project's code runs in our children and must not read our environment.
if not forbid_inspection_by_children():
    obs.logger.warning("could not make the worker non-dumpable: builds' children may read its environment")


@obs.logger.inject_lambda_context(clear_state=True)
@traced_handler(obs.service)
@obs.metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=build_record, processor=processor, context=context)
    )
