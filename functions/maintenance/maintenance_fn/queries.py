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
