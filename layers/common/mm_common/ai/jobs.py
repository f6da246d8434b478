"""Generation jobs: the one writer of the ``generation_jobs`` table.

A user's message becomes a job row and an SQS message for the worker. The row is the job's truth
(status, streamed output, usage, error); the queue only says "look at job X". A job is committed
before it is announced, so a worker never sees an id that does not exist yet; a job whose
announcement failed is failed at once rather than left queued.

Life of a job: ``queued`` → (claimed with a lease) ``running`` → ``succeeded`` | ``failed`` |
``canceled``. Only the holder of the lease writes the output or ends a running job, so a
duplicate or late delivery changes nothing. Every function takes the caller's connection and
runs inside the caller's transaction, except :func:`announce`, which runs after it committed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mm_common import db, system_settings
from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.db import Connection
from mm_common.errors import Conflict, ServiceUnavailable, Unprocessable

JOB_COLUMNS = (
    "id, chat_id, project_id, organization_id, user_message_id, assistant_message_id, model_id, mode, status,"
    " output, prompt_tokens, completion_tokens, error_code, error_message, attempts, cancel_requested_at,"
    " created_by, created_at, started_at, finished_at"
)
# A worker's hold on a running job: as long as the worker Lambda may run (its timeout).
LEASE_SECONDS = 15 * 60
# Nothing is working on a job: a running one whose lease ended this long ago (its worker died),
# or a queued one this old (the process died between committing it and queueing it).
STALLED_RUNNING = "1 minute"
STALLED_QUEUED = "5 minutes"
# Re-announcing did not help: a running job whose lease ended this long ago, or a job queued this long ago, is
# ended failed (more than two hourly maintenance runs, so each was announced again at least once first).
ABANDONED_AFTER = "2 hours"
ABANDONED_CODE = "abandoned"
ABANDONED_MESSAGE = "The answer stopped before it finished. Send your message again to retry."


def default_model_id(conn: Connection, user_id: Any) -> Any:
    """The model a message uses when none is named: the administrators' default (a system setting)
    while it is available, else one the user has a key for, else any available."""
    chosen = system_settings.current(conn).default_ai_model_id
    row = conn.execute(
        """
        SELECT m.id FROM ai_models m JOIN ai_providers p ON p.id = m.provider_id
        LEFT JOIN user_api_keys k ON k.provider_id = p.id AND k.user_id = %s AND k.is_active
        WHERE m.is_available AND p.is_enabled
        ORDER BY m.id = %s DESC, (k.id IS NOT NULL) DESC, p.is_builtin DESC, m.display_name, m.id LIMIT 1
        """,
        (user_id, chosen),
    ).fetchone()
    if row is None:
        raise Unprocessable("No AI model is available yet: ask an administrator to add one.", code="no_model")
    return row["id"]


# ------------------------------------------------------------------------------- the API side


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
    """A queued job answering ``user_message_id``: 422 when the model cannot be used, 409 while
    another job of the chat is queued or running (one answer at a time per chat)."""
    available = conn.execute(
        "SELECT 1 FROM ai_models m JOIN ai_providers p ON p.id = m.provider_id"
        " WHERE m.id = %s AND m.is_available AND p.is_enabled",
        (model_id,),
    ).fetchone()
    if available is None:
        raise Unprocessable("This model is not available. Pick one from GET /api/ai/models.", code="model_unavailable")
    import psycopg

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


def _send(job_id: Any) -> None:
    client("sqs").send_message(QueueUrl=get_settings().jobs_queue_url, MessageBody=json.dumps({"jobId": str(job_id)}))


def announce(job_id: Any) -> None:
    """Send the job to the worker queue, after the transaction that created it committed. When
    the queue cannot take it, the job is failed (in a transaction of its own: the one that made
    it is over) and the caller gets 503."""
    try:
        _send(job_id)
    except Exception as error:
        with db.transaction() as conn:
            conn.execute(
                "UPDATE generation_jobs SET status = 'failed', error_code = 'not_queued',"
                " error_message = 'The job could not be queued. Try again.', finished_at = now()"
                " WHERE id = %s AND status = 'queued'",
                (job_id,),
            )
        raise ServiceUnavailable("The answer could not be started. Try again in a moment.") from error


def request_cancel(conn: Connection, job_id: Any) -> None:
    """Stop a job. A queued one, or a running one whose worker is gone (its lease ended), ends
    canceled at once; a live worker sees the request at its next flush and stops the stream.
    A finished job stays as it is."""
    ended = "(status = 'queued' OR lease_expires_at IS NULL OR lease_expires_at < now())"
    conn.execute(
        f"""
        UPDATE generation_jobs SET
            cancel_requested_at = coalesce(cancel_requested_at, now()),
            status = CASE WHEN {ended} THEN 'canceled' ELSE status END,
            finished_at = CASE WHEN {ended} THEN now() ELSE finished_at END,
            lease_owner = CASE WHEN {ended} THEN NULL ELSE lease_owner END,
            lease_expires_at = CASE WHEN {ended} THEN NULL ELSE lease_expires_at END
        WHERE id = %s AND status IN ('queued', 'running')
        """,
        (job_id,),
    )


# ---------------------------------------------------------------------------- the worker side


def claim(conn: Connection, job_id: Any, owner: str) -> dict[str, Any] | None:
    """Take the job for this delivery (``owner``) with a lease: a queued job, or a running one
    whose worker's lease ended. None when it is finished, canceled or held by a live worker."""
    row = conn.execute(
        """
        UPDATE generation_jobs
        SET status = 'running', attempts = attempts + 1, lease_owner = %s,
            lease_expires_at = now() + make_interval(secs => %s), started_at = coalesce(started_at, now())
        WHERE id = %s AND cancel_requested_at IS NULL
          AND (status = 'queued' OR (status = 'running' AND lease_expires_at < now()))
        RETURNING *
        """,
        (owner, LEASE_SECONDS, job_id),
    ).fetchone()
    return dict(row) if row else None


def status_of(conn: Connection, job_id: Any) -> str | None:
    row = conn.execute("SELECT status FROM generation_jobs WHERE id = %s", (job_id,)).fetchone()
    return str(row["status"]) if row else None


@dataclass(frozen=True)
class Progress:
    cancel_requested: bool


def save_output(conn: Connection, job_id: Any, owner: str, output: str) -> Progress | None:
    """Store the output streamed so far while the lease is ours; None when it is not any more."""
    row = conn.execute(
        "UPDATE generation_jobs SET output = %s WHERE id = %s AND lease_owner = %s RETURNING cancel_requested_at",
        (output, job_id, owner),
    ).fetchone()
    if row is None:
        return None
    return Progress(cancel_requested=row["cancel_requested_at"] is not None)


def hold(conn: Connection, job_id: Any, owner: str) -> bool:
    """Lock the job for its ending if this delivery still runs it (another may have taken over)."""
    row = conn.execute(
        "SELECT 1 FROM generation_jobs WHERE id = %s AND lease_owner = %s AND status = 'running' FOR UPDATE",
        (job_id, owner),
    ).fetchone()
    return row is not None


def succeed(
    conn: Connection,
    job_id: Any,
    *,
    output: str,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    assistant_message_id: Any,
) -> None:
    """End a job held with :func:`hold` with its answer (in the transaction that stored it)."""
    conn.execute(
        """
        UPDATE generation_jobs SET status = 'succeeded', output = %s, prompt_tokens = %s, completion_tokens = %s,
            assistant_message_id = %s, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
        WHERE id = %s
        """,
        (output, prompt_tokens, completion_tokens, assistant_message_id, job_id),
    )


def fail(conn: Connection, job_id: Any, owner: str, code: str, message: str) -> None:
    """End the job failed with a reason for the user, if this delivery still holds it."""
    conn.execute(
        """
        UPDATE generation_jobs SET status = 'failed', error_code = %s, error_message = %s, finished_at = now(),
            lease_owner = NULL, lease_expires_at = NULL
        WHERE id = %s AND lease_owner = %s
        """,
        (code, message, job_id, owner),
    )


def end_canceled(conn: Connection, job_id: Any, owner: str) -> None:
    """The worker stopped the stream because the user canceled."""
    conn.execute(
        "UPDATE generation_jobs SET status = 'canceled', finished_at = now(), lease_owner = NULL,"
        " lease_expires_at = NULL WHERE id = %s AND lease_owner = %s",
        (job_id, owner),
    )


# ------------------------------------------------------------------------------- maintenance


@dataclass(frozen=True)
class Sweep:
    requeued: int
    canceled: int


def requeue_stalled(conn: Connection, *, limit: int = 100) -> Sweep:
    """Announce again the jobs nothing is working on: a worker died holding the lease, or the
    process died between committing a job and queueing it (claiming stays exactly-once). A job
    whose cancellation was asked while its worker died is ended canceled instead: no delivery
    would claim it, and it would hold its chat's one active turn for ever."""
    canceled = conn.execute(
        """
        UPDATE generation_jobs SET status = 'canceled', finished_at = now(), lease_owner = NULL,
            lease_expires_at = NULL
        WHERE status = 'running' AND cancel_requested_at IS NOT NULL
          AND lease_expires_at < now() - %s::interval
        """,
        (STALLED_RUNNING,),
    ).rowcount
    rows = conn.execute(
        """
        SELECT id FROM generation_jobs
        WHERE cancel_requested_at IS NULL AND (
            (status = 'running' AND lease_expires_at < now() - %s::interval)
            OR (status = 'queued' AND created_at < now() - %s::interval))
        ORDER BY created_at LIMIT %s
        """,
        (STALLED_RUNNING, STALLED_QUEUED, limit),
    ).fetchall()
    for row in rows:
        _send(row["id"])
    return Sweep(requeued=len(rows), canceled=canceled)


def fail_abandoned(conn: Connection, *, limit: int = 100) -> int:
    """End failed (``ABANDONED_CODE``, the chat shows ``ABANDONED_MESSAGE``) the jobs nothing took up again long
    after they were re-announced (:data:`ABANDONED_AFTER`): their chat's one active turn is free again. Jobs
    whose cancellation was asked are left to :func:`requeue_stalled` (it ends them canceled). How many."""
    return conn.execute(
        """
        UPDATE generation_jobs SET status = 'failed', error_code = %s, error_message = %s, finished_at = now(),
            lease_owner = NULL, lease_expires_at = NULL
        WHERE id IN (
            SELECT id FROM generation_jobs
            WHERE cancel_requested_at IS NULL AND (
                (status = 'running' AND lease_expires_at < now() - %s::interval)
                OR (status = 'queued' AND created_at < now() - %s::interval))
            ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)
        """,
        (ABANDONED_CODE, ABANDONED_MESSAGE, ABANDONED_AFTER, ABANDONED_AFTER, limit),
    ).rowcount
