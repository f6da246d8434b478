"""Scheduled clean-up: drop what has expired so tables of short-lived rows stay small, re-announce
generation jobs nothing is working on, and remove blobs uploaded but never recorded."""

from __future__ import annotations

from maintenance_fn import queries
from mm_common import db, snapshots
from mm_common.ai import jobs
from mm_common.config import get_settings

EXPIRED = {
    "sessions": queries.delete_old_sessions,
    "emailVerificationTokens": queries.delete_old_email_verification_tokens,
    "passwordResetTokens": queries.delete_old_password_reset_tokens,
    "invitations": queries.delete_expired_invitations,
    "rateLimits": queries.delete_old_rate_limit_windows,
}


def run_cleanup() -> dict[str, int]:
    deleted: dict[str, int] = {}
    with db.transaction() as conn:
        for name, delete in EXPIRED.items():
            deleted[name] = delete(conn)
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
