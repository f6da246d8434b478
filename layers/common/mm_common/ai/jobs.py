"""Generation jobs: a user's message becomes a job row and an SQS message for the worker.

The row is the job's truth (status, streamed output, usage, error); the queue only says "look at
job X". A job is committed before it is announced, so a worker never sees an id that does not
exist yet; a job whose announcement failed is failed at once rather than left queued.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from mm_common import db
from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import Conflict, ServiceUnavailable, Unprocessable

JOB_COLUMNS = (
    "id, chat_id, project_id, organization_id, user_message_id, assistant_message_id, model_id, mode, status,"
    " output, prompt_tokens, completion_tokens, error_code, error_message, attempts, cancel_requested_at,"
    " created_by, created_at, started_at, finished_at"
)


def default_model_id(conn: Connection, user_id: Any) -> Any:
    """The model a message uses when none is named: one the user has a key for, else any available."""
    row = conn.execute(
        """
        SELECT m.id FROM ai_models m JOIN ai_providers p ON p.id = m.provider_id
        LEFT JOIN user_api_keys k ON k.provider_id = p.id AND k.user_id = %s AND k.is_active
        WHERE m.is_available AND p.is_enabled
        ORDER BY (k.id IS NOT NULL) DESC, p.is_builtin DESC, m.display_name, m.id LIMIT 1
        """,
        (user_id,),
    ).fetchone()
    if row is None:
        raise Unprocessable("No AI model is available yet: ask an administrator to add one.", code="no_model")
    return row["id"]


def create_job(
    conn: Connection,
    *,
    chat: dict[str, Any],
    organization_id: Any,
    user_message_id: Any,
    model_id: Any,
    mode: str,
    created_by: Any,
) -> dict[str, Any]:
    available = conn.execute(
        "SELECT 1 FROM ai_models m JOIN ai_providers p ON p.id = m.provider_id"
        " WHERE m.id = %s AND m.is_available AND p.is_enabled",
        (model_id,),
    ).fetchone()
    if available is None:
        raise Unprocessable("This model is not available. Pick one from GET /api/ai/models.", code="model_unavailable")
    try:
        with conn.transaction():  # a savepoint: the one-active-job rule answers 409, not 500
            row = conn.execute(
                f"""
                INSERT INTO generation_jobs
                    (chat_id, project_id, organization_id, user_message_id, model_id, mode, created_by)
                VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {JOB_COLUMNS}
                """,
                (chat["id"], chat["project_id"], organization_id, user_message_id, model_id, mode, created_by),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(
            "The AI is still answering in this chat: wait for it, or cancel it first.", code="generation_in_progress"
        ) from None
    assert row is not None
    return dict(row)


def announce(job_id: Any) -> None:
    """Send the job to the worker queue (after the job's row is committed)."""
    try:
        client("sqs").send_message(
            QueueUrl=get_settings().jobs_queue_url, MessageBody=json.dumps({"jobId": str(job_id)})
        )
    except Exception as error:
        with db.transaction() as conn:
            conn.execute(
                "UPDATE generation_jobs SET status = 'failed', error_code = 'not_queued',"
                " error_message = 'The job could not be queued. Try again.', finished_at = now()"
                " WHERE id = %s AND status = 'queued'",
                (job_id,),
            )
        raise ServiceUnavailable("The answer could not be started. Try again in a moment.") from error


def requeue_stalled(conn: Connection, *, limit: int = 100) -> int:
    """Announce again the jobs nothing is working on: a worker died holding the lease, or the
    process died between committing a job and queueing it. Claiming stays exactly-once."""
    rows = conn.execute(
        """
        SELECT id FROM generation_jobs
        WHERE cancel_requested_at IS NULL AND (
            (status = 'running' AND lease_expires_at < now() - interval '1 minute')
            OR (status = 'queued' AND created_at < now() - interval '5 minutes'))
        ORDER BY created_at LIMIT %s
        """,
        (limit,),
    ).fetchall()
    sqs = client("sqs")
    for row in rows:
        sqs.send_message(QueueUrl=get_settings().jobs_queue_url, MessageBody=json.dumps({"jobId": str(row["id"])}))
    return len(rows)
