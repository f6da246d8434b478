"""Scheduled clean-up: drop what has expired so tables of short-lived rows stay small, re-announce
generation jobs nothing is working on, end deployments whose execution died, ask the Gitea mirror
again for versions it has not backed up (their message was lost or dead-lettered while Gitea was
down), and remove blobs uploaded but never recorded."""

from __future__ import annotations

from maintenance_fn import queries
from mm_common import db, deployments, snapshots, versions
from mm_common.ai import jobs
from mm_common.config import get_settings

# A version's mirror message normally lands within seconds; one still waiting after this long was lost.
MIRROR_GRACE_MINUTES = 15
# A deployment's execution ends within about 25 minutes (180 build polls 5 s apart, a 2-minute health check,
# bounded retries); one still active after this long lost its execution.
ABANDONED_DEPLOYMENT_MINUTES = 120
# Projects re-announced per run (each run is hourly; the rest wait for the next one).
MIRROR_BATCH = 500

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
    # Deployments whose execution died before MarkFailed: ended, so their projects may deploy again.
    with db.transaction() as conn:
        deleted["abandonedDeploymentsFailed"] = deployments.fail_abandoned(
            conn, older_than_minutes=ABANDONED_DEPLOYMENT_MINUTES
        )
    # Versions Gitea has not backed up: one message per project names its newest (the mirror takes the older ones
    # first). Nothing to do where no Gitea is configured (enqueue_mirror sends nothing then).
    with db.transaction() as conn:
        behind = queries.projects_behind_their_backup(conn, older_than_minutes=MIRROR_GRACE_MINUTES, limit=MIRROR_BATCH)
    for project_id, version_id in behind:
        versions.enqueue_mirror(project_id, version_id)
    deleted["mirrorsRequeued"] = len(behind)
    # Blobs uploaded by a version whose transaction then failed: in S3, never recorded.
    with db.transaction() as conn:
        deleted["unrecordedBlobs"] = snapshots.collect_unrecorded_blobs(
            conn, grace_hours=get_settings().blob_gc_grace_hours
        )
    return deleted
