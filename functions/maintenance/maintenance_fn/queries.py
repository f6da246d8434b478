"""The rows the scheduled clean-up deletes, one named statement per table."""

from __future__ import annotations

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
