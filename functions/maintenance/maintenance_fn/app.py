"""Scheduled clean-up: drop what has expired so tables of short-lived rows stay small."""

from __future__ import annotations

from typing import Any

from mm_common import db, snapshots
from mm_common.ai import jobs
from mm_common.config import get_settings
from mm_common.observability import for_service

obs = for_service("maintenance")

# Each statement deletes rows nobody can use any more. Sessions and tokens are kept a day past
# expiry so that a late "this link has expired" is still explained rather than "not found".
CLEANUP_STATEMENTS: dict[str, str] = {
    "sessions": "DELETE FROM sessions WHERE expires_at < now() - interval '1 day'"
    " OR revoked_at < now() - interval '1 day'",
    "emailVerificationTokens": "DELETE FROM email_verification_tokens WHERE expires_at < now() - interval '1 day'",
    "passwordResetTokens": "DELETE FROM password_reset_tokens WHERE expires_at < now() - interval '1 day'",
    "invitations": "DELETE FROM invitations WHERE accepted_at IS NULL AND expires_at < now() - interval '30 days'",
    "rateLimits": "DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'",
}


def run_cleanup() -> dict[str, int]:
    deleted: dict[str, int] = {}
    with db.transaction() as conn:
        for name, statement in CLEANUP_STATEMENTS.items():
            deleted[name] = conn.execute(statement).rowcount
    # Generation jobs nothing is working on: announced again, or ended when canceled meanwhile.
    with db.transaction() as conn:
        sweep = jobs.requeue_stalled(conn)
    deleted["requeuedJobs"] = sweep.requeued
    deleted["abandonedJobsCanceled"] = sweep.canceled
    # Blobs uploaded by a version whose transaction then failed: in S3, never recorded.
    with db.transaction() as conn:
        deleted["unrecordedBlobs"] = snapshots.collect_unrecorded_blobs(
            conn, grace_hours=get_settings().blob_gc_grace_hours
        )
    return deleted


@obs.logger.inject_lambda_context(clear_state=True)
@obs.tracer.capture_lambda_handler(capture_response=False)
@obs.metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deleted = run_cleanup()
    for name, count in deleted.items():
        obs.metrics.add_metric(name=f"CleanupDeleted_{name}", unit="Count", value=count)
    obs.logger.info("cleanup finished", extra={"deleted": deleted})
    return {"deleted": deleted}
