"""The SQL of the scheduled clean-up's own tasks, one named statement each."""

from __future__ import annotations

from typing import Any

from mm_common.db import Connection

# Sessions and tokens are kept a day past expiry so that a late "this link has expired" is still
# explained rather than "not found".


def delete_old_sessions(conn: Connection) -> int:
    return conn.execute(
        "DELETE FROM sessions WHERE expires_at < now() - interval '1 day' OR revoked_at < now() - interval '1 day'"
    ).rowcount


def delete_old_email_verification_tokens(conn: Connection) -> int:
    return conn.execute("DELETE FROM email_verification_tokens WHERE expires_at < now() - interval '1 day'").rowcount


def delete_old_password_reset_tokens(conn: Connection) -> int:
    return conn.execute("DELETE FROM password_reset_tokens WHERE expires_at < now() - interval '1 day'").rowcount


def delete_expired_invitations(conn: Connection) -> int:
    return conn.execute(
        "DELETE FROM invitations WHERE accepted_at IS NULL AND expires_at < now() - interval '30 days'"
    ).rowcount


def delete_old_rate_limit_windows(conn: Connection) -> int:
    return conn.execute("DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'").rowcount


def projects_behind_their_backup(conn: Connection, *, older_than_minutes: int, limit: int) -> list[tuple[str, str]]:
    """(project id, newest version id) of projects with a version still not in Gitea after ``older_than_minutes``
    (its mirror message was lost or dead-lettered); one message for the newest mirrors every older one too."""
    rows = conn.execute(
        """
        SELECT DISTINCT ON (v.project_id) v.project_id, v.id
        FROM project_versions v JOIN projects p ON p.id = v.project_id AND p.deleted_at IS NULL
        WHERE v.gitea_commit_id IS NULL AND v.created_at < now() - make_interval(mins => %s)
        ORDER BY v.project_id, v.number DESC
        LIMIT %s
        """,
        (older_than_minutes, limit),
    ).fetchall()
    return [(str(row["project_id"]), str(row["id"])) for row in rows]


# ------------------------------------------------------------------------------------------- trials
def end_trials_without_subscription(conn: Connection, *, limit: int) -> list[dict[str, Any]]:
    """Trials given without a Stripe subscription (an admin's) that have ended: the organization is Free now (a
    subscription's own trial ends through Stripe's webhook). Their ids, names and the tier the trial gave."""
    rows = conn.execute(
        """
        WITH ended AS (
            SELECT id, subscription_tier FROM organizations
            WHERE subscription_status = 'trialing' AND stripe_subscription_id IS NULL AND trial_ends_at < now()
            ORDER BY trial_ends_at LIMIT %s FOR UPDATE SKIP LOCKED
        )
        UPDATE organizations o
        SET subscription_tier = 'free', subscription_status = 'active', trial_ends_at = NULL,
            subscription_interval = NULL, current_period_end = NULL, cancel_at_period_end = FALSE,
            past_due_since = NULL
        FROM ended WHERE o.id = ended.id
        RETURNING o.id, o.name, ended.subscription_tier AS trial_tier
        """,
        (limit,),
    ).fetchall()
    return [dict(row) for row in rows]


def owner_emails(conn: Connection, organization_id: Any) -> list[str]:
    rows = conn.execute(
        """
        SELECT u.email FROM organization_members m JOIN users u ON u.id = m.user_id
        WHERE m.organization_id = %s AND m.role = 'owner' AND u.is_active
        ORDER BY u.email
        """,
        (organization_id,),
    ).fetchall()
    return [str(row["email"]) for row in rows]


# ---------------------------------------------------------------------------------------- retention
def delete_old_audit_logs(conn: Connection, *, days: int, limit: int) -> int:
    return conn.execute(
        """
        DELETE FROM audit_logs WHERE id IN (
            SELECT id FROM audit_logs WHERE created_at < now() - make_interval(days => %s)
            ORDER BY created_at LIMIT %s)
        """,
        (days, limit),
    ).rowcount


def delete_old_token_usage(conn: Connection, *, days: int, limit: int) -> int:
    """Monthly counters of months that ended more than ``days`` ago (never the current month's: it is the quota)."""
    return conn.execute(
        """
        DELETE FROM token_usage WHERE (organization_id, period_month) IN (
            SELECT organization_id, period_month FROM token_usage
            WHERE period_month + interval '1 month' <= now() - make_interval(days => %s)
            ORDER BY period_month LIMIT %s)
        """,
        (days, limit),
    ).rowcount


# ------------------------------------------------------------------------------------------- blobs
def organizations_with_old_blobs(conn: Connection, *, grace_hours: int) -> list[Any]:
    """Organizations (deleted ones included: ``snapshot_blobs`` outlives them) with blobs recorded before the
    grace period, in random order: a run that stops at its time budget leaves different ones for the next."""
    rows = conn.execute(
        """
        SELECT organization_id FROM snapshot_blobs
        WHERE created_at < now() - make_interval(hours => %s)
        GROUP BY organization_id ORDER BY random()
        """,
        (grace_hours,),
    ).fetchall()
    return [row["organization_id"] for row in rows]


# --------------------------------------------------------------------------------------- Easypanel
def organizations_panel_projects(conn: Connection) -> list[tuple[str, str]]:
    """(Easypanel project, organization slug) of every Easypanel project a project of an organization recorded."""
    rows = conn.execute(
        """
        SELECT DISTINCT p.easypanel_project_id AS panel_project, o.slug
        FROM projects p JOIN organizations o ON o.id = p.organization_id
        WHERE p.easypanel_project_id IS NOT NULL
        """
    ).fetchall()
    return [(str(row["panel_project"]), str(row["slug"])) for row in rows]


def organization_slugs(conn: Connection) -> list[str]:
    return [str(row["slug"]) for row in conn.execute("SELECT slug FROM organizations ORDER BY slug").fetchall()]


def recorded_services(conn: Connection) -> set[tuple[str, str]]:
    """(Easypanel project, service) of every app and database a project recorded. Deleted projects' rows count
    too until they are gone: a soft-deleted project still owns its names."""
    rows = conn.execute(
        """
        SELECT easypanel_project_id AS project, easypanel_app_id AS service FROM projects
        WHERE easypanel_project_id IS NOT NULL AND easypanel_app_id IS NOT NULL
        UNION
        SELECT easypanel_project_id, easypanel_database_id FROM projects
        WHERE easypanel_project_id IS NOT NULL AND easypanel_database_id IS NOT NULL
        """
    ).fetchall()
    return {(str(row["project"]), str(row["service"])) for row in rows}
