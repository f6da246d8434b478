"""The SQL of platform analytics, health and the failure logs.

Days are UTC calendar days. A series covers ``start``..``end`` (dates, both included) through
``generate_series``, so a day without rows is present with zero; the rows counted are read through
an index on the time column (a range of it), never a scan of the table: users by ``idx_users_created``,
the rest by the indexes of migration 0009. Messages, the biggest table, are counted once per ended day and
kept (``analytics_daily_counts``); only the day in progress is counted on each request.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from mm_common.ai.jobs import STALLED_QUEUED
from mm_common.db import Connection
from mm_common.pagination import Keyset, fetch_page

# The days of the window, and the window as a half-open range of instants (UTC midnights).
_DAYS = "SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') d"
_IN_WINDOW = "{column} >= %(start)s::date::timestamp AT TIME ZONE 'UTC'" + (
    " AND {column} < (%(end)s::date + 1)::timestamp AT TIME ZONE 'UTC'"
)
_DAY_OF = "({column} AT TIME ZONE 'UTC')::date"


def _window(column: str) -> str:
    return _IN_WINDOW.format(column=column)


def _day_of(column: str) -> str:
    return _DAY_OF.format(column=column)


def _daily_counts(conn: Connection, table: str, column: str, start: date, end: date, where: str = "TRUE") -> list[Any]:
    """``count(*)`` of ``table`` per day of ``column`` (table, column and where are SQL written here)."""
    rows = conn.execute(
        f"""
        WITH counted AS (
            SELECT {_day_of(column)} AS day, count(*) AS n FROM {table}
            WHERE {_window(column)} AND {where} GROUP BY 1
        )
        SELECT days.day, COALESCE(counted.n, 0) AS count
        FROM ({_DAYS}) days LEFT JOIN counted USING (day) ORDER BY days.day
        """,
        {"start": start, "end": end},
    ).fetchall()
    return [dict(row) for row in rows]


# ----------------------------------------------------------------------------------------- totals


def totals(conn: Connection) -> dict[str, Any]:
    """Users (and verified ones), organizations, live projects, projects live on their deployment now."""
    row = conn.execute(
        """
        SELECT
            (SELECT count(*) FROM users) AS users,
            (SELECT count(*) FROM users WHERE email_verified) AS verified_users,
            (SELECT count(*) FROM organizations) AS organizations,
            (SELECT count(*) FROM projects WHERE deleted_at IS NULL) AS projects,
            (SELECT count(*) FROM projects
             WHERE deleted_at IS NULL AND status = 'deployed' AND NOT deployment_stopped) AS live_deployments
        """
    ).fetchone()
    assert row is not None
    return dict(row)


def active_projects(conn: Connection) -> dict[str, Any]:
    """Live projects with a message or a version in the last 7 and 30 days. Each chat is probed once for its
    latest message (the newest entry of ``idx_messages_chat``) and each project for its latest version: the cost
    follows the number of chats and projects, not of messages."""
    row = conn.execute(
        """
        WITH activity AS (
            SELECT c.project_id, last.created_at AS at FROM chats c
            CROSS JOIN LATERAL (
                SELECT m.created_at FROM messages m WHERE m.chat_id = c.id ORDER BY m.created_at DESC LIMIT 1
            ) last
            WHERE last.created_at >= now() - interval '30 days'
            UNION ALL
            SELECT p.id, last.created_at FROM projects p
            CROSS JOIN LATERAL (
                SELECT v.created_at FROM project_versions v WHERE v.project_id = p.id
                ORDER BY v.created_at DESC LIMIT 1
            ) last
            WHERE p.deleted_at IS NULL AND last.created_at >= now() - interval '30 days'
        ),
        latest AS (SELECT project_id, max(at) AS at FROM activity GROUP BY project_id)
        SELECT count(*) FILTER (WHERE latest.at >= now() - interval '7 days') AS active_projects_7d,
               count(*) AS active_projects_30d
        FROM latest JOIN projects p ON p.id = latest.project_id AND p.deleted_at IS NULL
        """
    ).fetchone()
    assert row is not None
    return dict(row)


# ----------------------------------------------------------------------------------------- series


def signups_by_day(conn: Connection, start: date, end: date) -> list[Any]:
    return _daily_counts(conn, "users", "created_at", start, end)


def last_closed_day(conn: Connection) -> date:
    """The latest UTC day that ended over an hour ago: no transaction that began on it can still add a row."""
    row = conn.execute("SELECT ((now() - interval '1 hour') AT TIME ZONE 'UTC')::date - 1 AS day").fetchone()
    assert row is not None
    return row["day"]  # type: ignore[no-any-return]


def messages_by_day(conn: Connection, start: date, end: date) -> list[Any]:
    """Messages per day: the days that ended from ``analytics_daily_counts`` (each counted the first time it is
    asked for, then kept), the rest counted live."""
    closed = last_closed_day(conn)
    days: list[Any] = []
    if start <= closed:
        days += _closed_message_days(conn, start, min(end, closed))
    if end > closed:
        days += _daily_counts(conn, "messages", "created_at", max(start, closed + timedelta(days=1)), end)
    return days


def _closed_message_days(conn: Connection, start: date, end: date) -> list[Any]:
    """Ended days' message counts: those not kept yet are counted (one range of ``idx_messages_created`` over the
    span they cover) and kept; a concurrent request that kept them first wins, with the same numbers."""
    window = {"start": start, "end": end}
    conn.execute(
        f"""
        WITH missing AS (
            SELECT days.day FROM ({_DAYS}) days
            WHERE NOT EXISTS (SELECT 1 FROM analytics_daily_counts a WHERE a.metric = 'messages' AND a.day = days.day)
        ),
        span AS (SELECT min(day) AS first, max(day) AS last FROM missing),
        counted AS (
            SELECT {_day_of("m.created_at")} AS day, count(*) AS n FROM messages m, span
            WHERE m.created_at >= span.first::timestamp AT TIME ZONE 'UTC'
              AND m.created_at < (span.last + 1)::timestamp AT TIME ZONE 'UTC'
            GROUP BY 1
        )
        INSERT INTO analytics_daily_counts (metric, day, count)
        SELECT 'messages', missing.day, COALESCE(counted.n, 0) FROM missing LEFT JOIN counted USING (day)
        ON CONFLICT (metric, day) DO NOTHING
        """,
        window,
    )
    rows = conn.execute(
        """
        SELECT day, count FROM analytics_daily_counts
        WHERE metric = 'messages' AND day BETWEEN %(start)s AND %(end)s ORDER BY day
        """,
        window,
    ).fetchall()
    return [dict(row) for row in rows]


def failed_jobs_by_day(conn: Connection, start: date, end: date) -> list[Any]:
    return _daily_counts(conn, "generation_jobs", "finished_at", start, end, "status = 'failed'")


def tokens_by_day(conn: Connection, start: date, end: date) -> list[Any]:
    """Tokens (prompt + completion) of the answers that ended in the window, per day and model; every day of
    the window for each model used in it (a model since deleted is reported as provider and model None)."""
    rows = conn.execute(
        f"""
        WITH used AS (
            SELECT {_day_of("j.finished_at")} AS day, j.model_id,
                   sum(COALESCE(j.prompt_tokens, 0) + COALESCE(j.completion_tokens, 0)) AS tokens
            FROM generation_jobs j
            WHERE j.status = 'succeeded' AND {_window("j.finished_at")}
            GROUP BY 1, 2
        ),
        models AS (SELECT DISTINCT model_id FROM used)
        SELECT days.day, p.slug AS provider, m.api_name AS model, COALESCE(used.tokens, 0) AS tokens
        FROM ({_DAYS}) days
        CROSS JOIN models
        LEFT JOIN used ON used.day = days.day AND used.model_id IS NOT DISTINCT FROM models.model_id
        LEFT JOIN ai_models m ON m.id = models.model_id
        LEFT JOIN ai_providers p ON p.id = m.provider_id
        ORDER BY days.day, p.slug NULLS LAST, m.api_name NULLS LAST
        """,
        {"start": start, "end": end},
    ).fetchall()
    return [dict(row) for row in rows]


def deployments_by_day(conn: Connection, start: date, end: date) -> list[Any]:
    """Deployments that ended in the window, per day: succeeded and failed."""
    rows = conn.execute(
        f"""
        WITH ended AS (
            SELECT {_day_of("completed_at")} AS day,
                   count(*) FILTER (WHERE status = 'success') AS succeeded,
                   count(*) FILTER (WHERE status = 'failed') AS failed
            FROM deployment_logs
            WHERE status IN ('success', 'failed') AND {_window("completed_at")}
            GROUP BY 1
        )
        SELECT days.day, COALESCE(ended.succeeded, 0) AS succeeded, COALESCE(ended.failed, 0) AS failed
        FROM ({_DAYS}) days LEFT JOIN ended USING (day) ORDER BY days.day
        """,
        {"start": start, "end": end},
    ).fetchall()
    return [dict(row) for row in rows]


# ---------------------------------------------------------------------------------------- revenue


def mrr_by_tier(conn: Connection) -> list[Any]:
    """Monthly recurring revenue per tier, in minor units of the plan's currency, from the subscriptions that
    are current (active, trialing or past due): the plan's monthly display price, or its yearly one / 12. A
    tier without a display price (Enterprise: set up by hand) counts 0. Every tier is listed."""
    rows = conn.execute(
        """
        SELECT pl.tier, pl.currency,
               COALESCE(sum(CASE WHEN o.subscription_interval = 'year'
                                 THEN round(pl.yearly_price_cents / 12.0)
                                 ELSE pl.monthly_price_cents END), 0)::bigint AS cents,
               count(o.id) AS subscriptions
        FROM plans pl
        LEFT JOIN organizations o
          ON o.subscription_tier = pl.tier AND o.stripe_subscription_id IS NOT NULL
         AND o.subscription_status IN ('active', 'trialing', 'past_due')
        GROUP BY pl.tier, pl.currency ORDER BY pl.tier
        """
    ).fetchall()
    return [dict(row) for row in rows]


def paid_invoices(conn: Connection, start: date, end: date) -> list[Any]:
    """Invoices paid in the window: count and amount paid per currency."""
    rows = conn.execute(
        f"""
        SELECT currency, count(*) AS count, sum(amount_paid)::bigint AS amount
        FROM invoices WHERE status = 'paid' AND {_window("paid_at")}
        GROUP BY currency ORDER BY currency
        """,
        {"start": start, "end": end},
    ).fetchall()
    return [dict(row) for row in rows]


# ----------------------------------------------------------------------------------------- health


def job_and_deployment_health(conn: Connection) -> dict[str, Any]:
    """Jobs nothing is working on (running past their lease, or queued and never claimed for longer than the
    worker sweep tolerates), jobs and deployments failed in the last 24 hours."""
    row = conn.execute(
        """
        SELECT
            (SELECT count(*) FROM generation_jobs
             WHERE (status = 'running' AND lease_expires_at < now())
                OR (status = 'queued' AND created_at < now() - %s::interval)) AS stuck_jobs,
            (SELECT count(*) FROM generation_jobs
             WHERE status = 'failed' AND finished_at >= now() - interval '24 hours') AS failed_jobs_24h,
            (SELECT count(*) FROM deployment_logs
             WHERE status = 'failed' AND completed_at >= now() - interval '24 hours') AS failed_deployments_24h
        """,
        (STALLED_QUEUED,),
    ).fetchone()
    assert row is not None
    return dict(row)


# ------------------------------------------------------------------------------------ failure logs

FAILED_JOBS = Keyset("j.finished_at", "j.id")
FAILED_DEPLOYMENTS = Keyset("d.completed_at", "d.id")
# The log lines of a failed deployment shown with it (its last ones, where it stopped).
LAST_LOG_LINES = 5
# The end of the build log shown with a failed deployment.
BUILD_LOG_TAIL_CHARS = 2000


def failed_jobs_page(conn: Connection, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Failed generation jobs, latest first, with their error code and message and where they ran."""
    select = """
        SELECT j.id, j.finished_at, j.created_at, j.started_at, j.mode, j.attempts, j.error_code, j.error_message,
               j.organization_id, o.name AS organization_name, j.project_id, p.name AS project_name, j.chat_id,
               j.created_by, u.email AS created_by_email, pr.slug AS provider, m.api_name AS model
        FROM generation_jobs j
        JOIN organizations o ON o.id = j.organization_id
        JOIN projects p ON p.id = j.project_id
        LEFT JOIN users u ON u.id = j.created_by
        LEFT JOIN ai_models m ON m.id = j.model_id
        LEFT JOIN ai_providers pr ON pr.id = m.provider_id
    """
    return fetch_page(
        conn,
        select,
        ["j.status = 'failed'", "j.finished_at IS NOT NULL"],
        [],
        FAILED_JOBS,
        limit=limit,
        cursor=cursor,
    )


def failed_deployments_page(
    conn: Connection, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Failed deployments, latest first, with the step they failed at (its detail and attempts), their last
    log lines and the end of the build log."""
    select = f"""
        SELECT d.id, d.completed_at, d.started_at, d.kind, d.error_message, d.easypanel_service, d.commit_sha,
               right(d.build_log, {BUILD_LOG_TAIL_CHARS}) AS build_log_tail,
               d.project_id, p.name AS project_name, p.organization_id, o.name AS organization_name,
               d.version_id, v.number AS version_number, d.triggered_by, u.email AS triggered_by_email,
               failed.step AS failed_step, failed.detail AS failed_step_detail, failed.attempts AS failed_step_attempts,
               COALESCE(lines.lines, '[]'::jsonb) AS log_lines
        FROM deployment_logs d
        JOIN projects p ON p.id = d.project_id
        JOIN organizations o ON o.id = p.organization_id
        LEFT JOIN project_versions v ON v.id = d.version_id
        LEFT JOIN users u ON u.id = d.triggered_by
        LEFT JOIN LATERAL (
            SELECT s.step, s.detail, s.attempts FROM deployment_steps s
            WHERE s.deployment_id = d.id AND s.status = 'failed' AND s.step <> 'MarkFailed'
            ORDER BY s.started_at DESC LIMIT 1
        ) failed ON TRUE
        LEFT JOIN LATERAL (
            SELECT jsonb_agg(jsonb_build_object('at', l.created_at, 'step', l.step, 'line', l.line)
                             ORDER BY l.seq) AS lines
            FROM (SELECT * FROM deployment_log_lines WHERE deployment_id = d.id
                  ORDER BY seq DESC LIMIT {LAST_LOG_LINES}) l
        ) lines ON TRUE
    """
    return fetch_page(
        conn,
        select,
        ["d.status = 'failed'", "d.completed_at IS NOT NULL"],
        [],
        FAILED_DEPLOYMENTS,
        limit=limit,
        cursor=cursor,
    )
