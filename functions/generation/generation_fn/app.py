"""The generation worker: SQS delivers job ids; each is run once (see mm_common.ai.generation)."""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from mm_common.ai.generation import run_job
from mm_common.config import require_settings
from mm_common.observability import count, for_service, traced_handler

# An auto-approved answer writes files and snapshots a version: without the bucket, fail the cold start.
REQUIRED_SETTINGS = ("snapshots_bucket",)
require_settings(*REQUIRED_SETTINGS)

obs = for_service("generation")
processor = BatchProcessor(event_type=EventType.SQS)
# Stop calling the model with this much of the Lambda's time left, to record the outcome.
SAFETY_MARGIN_S = 20.0


def handle_record(record: SQSRecord, lambda_context: Any) -> None:
    # Powertools hands the invocation's context to a record handler that asks for it (a module
    # global would be shared by every environment thread of the local stack).
    body = json.loads(record.body)
    job_id = str(body["jobId"])
    remaining_s = lambda_context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + max(1.0, remaining_s - SAFETY_MARGIN_S)
    outcome = run_job(job_id, owner=f"{lambda_context.aws_request_id}:{record.message_id}", deadline=deadline)
    count("generation", f"Job_{outcome.status}")
    obs.logger.info(
        "job delivery handled", extra={"job_id": job_id, "status": outcome.status, "detail": outcome.detail}
    )


@obs.logger.inject_lambda_context(clear_state=True)
@traced_handler(obs.service)
@obs.metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    )
