"""The SQL of platform analytics, health and the failure logs.

Days are UTC calendar days. A series covers ``start``..``end`` (dates, both included) through
``generate_series``, so a day without rows is present with zero; the rows counted are read through
an index on the time column (a range of it), never a scan of the table: users by ``idx_users_created``,
messages by ``idx_messages_created``, the rest by the indexes of migration 0009. Every series is counted once
per ended day and kept (``analytics_daily_counts``, tokens per model in ``analytics_daily_tokens``; migrations
0009 and 0010): a year's range reads 366 kept rows per series, and only the days not ended yet are counted on
each request. Active projects read each project's latest activity kept through the ended days
(``analytics_project_activity``) instead of probing every chat.
"""

from __future__ import annotations

from dataclasses import dataclass
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


# ----------------------------------------------------------------------------------------- totals


def totals(conn: Connection) -> dict[str, Any]:
    """Users (and verified ones), organizations, live projects, projects live on their deployment now: each table
    read once (these are counts of now, nothing to keep per day)."""
    row = conn.execute(
        """
        SELECT u.users, u.verified_users, o.organizations, p.projects, p.live_deployments
        FROM (SELECT count(*) AS users, count(*) FILTER (WHERE email_verified) AS verified_users FROM users) u,
             (SELECT count(*) AS organizations FROM organizations) o,
             (SELECT count(*) AS projects,
                     count(*) FILTER (WHERE status = 'deployed' AND NOT deployment_stopped) AS live_deployments
              FROM projects WHERE deleted_at IS NULL) p
        """
    ).fetchone()
    assert row is not None
    return dict(row)


# Active projects: a message or a version in the last 30 days. Each project's latest activity is kept through the
# ended days; the days folded into it are the last ended ones, this many (the day 30 days ago included).
ACTIVITY_DAYS = 31


def active_projects(conn: Connection, closed: date) -> dict[str, Any]:
    """Live projects with a message or a version in the last 7 and 30 days. Each project's latest activity over
    the ended days is kept (``analytics_project_activity``, folded in once per day); the days not ended are looked
    at only for the projects not active in the last 7 days already, each chat of theirs probed for a message since
    (a range of ``idx_messages_chat``) and each of them for a version since: the cost follows the number of
    projects, not of messages. ``closed`` is the last ended day (its activity folded in by the caller; what is
    missing is folded in here)."""
    fold_activity(conn, *activity_days(closed))
    row = conn.execute(
        """
        WITH latest AS (
            SELECT CASE WHEN a.last_at >= now() - interval '7 days' THEN a.last_at ELSE GREATEST(
                a.last_at,
                (SELECT max(m.created_at) FROM chats c JOIN messages m ON m.chat_id = c.id
                 WHERE c.project_id = p.id AND m.created_at >= %(open)s::timestamp AT TIME ZONE 'UTC'),
                (SELECT max(v.created_at) FROM project_versions v
                 WHERE v.project_id = p.id AND v.created_at >= %(open)s::timestamp AT TIME ZONE 'UTC')
            ) END AS at
            FROM projects p LEFT JOIN analytics_project_activity a ON a.project_id = p.id
            WHERE p.deleted_at IS NULL
        )
        SELECT count(*) FILTER (WHERE at >= now() - interval '7 days') AS active_projects_7d,
               count(*) FILTER (WHERE at >= now() - interval '30 days') AS active_projects_30d
        FROM latest
        """,
        {"open": closed + timedelta(days=1)},
    ).fetchone()
    assert row is not None
    return dict(row)


def activity_days(closed: date) -> tuple[date, date]:
    """The ended days folded into the projects' latest activity (``closed`` the last ended day)."""
    return closed - timedelta(days=ACTIVITY_DAYS - 1), closed


def fold_activity(conn: Connection, start: date, end: date) -> None:
    """Fold the ended days of ``start``..``end`` not folded in yet into each project's latest activity (one range
    of ``idx_messages_created`` and of ``idx_project_versions_created`` over the span they cover), and mark them
    folded with the number of projects active on each. Folding a day twice (two requests at once) changes
    nothing; the marks are inserted in day order, so such requests wait for each other instead of deadlocking."""
    conn.execute(
        f"""
        WITH missing AS (
            SELECT days.day FROM ({_DAYS}) days
            WHERE NOT EXISTS (
                SELECT 1 FROM analytics_daily_counts a WHERE a.metric = 'active_projects' AND a.day = days.day
            )
        ),
        span AS (
            SELECT min(day)::timestamp AT TIME ZONE 'UTC' AS first, (max(day) + 1)::timestamp AT TIME ZONE 'UTC' AS last
            FROM missing
        ),
        activity AS (
            SELECT c.project_id, m.created_at AS at FROM span, messages m JOIN chats c ON c.id = m.chat_id
            WHERE m.created_at >= span.first AND m.created_at < span.last
            UNION ALL
            SELECT v.project_id, v.created_at FROM span, project_versions v
            WHERE v.created_at >= span.first AND v.created_at < span.last
        ),
        per_day AS (
            SELECT missing.day, activity.project_id, max(activity.at) AS at
            FROM activity JOIN missing ON missing.day = {_day_of("activity.at")}
            GROUP BY 1, 2
        ),
        folded AS (
            INSERT INTO analytics_project_activity AS kept (project_id, last_at)
            SELECT project_id, max(at) FROM per_day GROUP BY project_id ORDER BY project_id
            ON CONFLICT (project_id) DO UPDATE SET last_at = EXCLUDED.last_at WHERE kept.last_at < EXCLUDED.last_at
        )
        INSERT INTO analytics_daily_counts (metric, day, count)
        SELECT 'active_projects', missing.day, count(per_day.project_id)
        FROM missing LEFT JOIN per_day USING (day) GROUP BY missing.day ORDER BY missing.day
        ON CONFLICT (metric, day) DO NOTHING
        """,
        {"start": start, "end": end},
    )


# ----------------------------------------------------------------------------------------- series

# Day counts kept per ended day (``analytics_daily_counts``): the first request that covers an ended day counts
# it and keeps it (``keep_ended_days``), every later one reads its row; only the days not ended yet are counted on
# each request.


@dataclass(frozen=True)
class _DayCounts:
    """Counts per day of ``table``'s rows by ``column`` (all SQL written here): each metric is ``aggregate`` over
    the day's rows matching ``where``, reported as ``field`` and kept in ``analytics_daily_counts`` as ``metric``."""

    table: str
    column: str
    where: str
    metrics: tuple[tuple[str, str, str], ...]  # (metric, field, aggregate)


_SIGNUPS = _DayCounts("users", "created_at", "TRUE", (("signups", "count", "count(*)"),))
_MESSAGES = _DayCounts("messages", "created_at", "TRUE", (("messages", "count", "count(*)"),))
_FAILED_JOBS = _DayCounts(
    "generation_jobs", "finished_at", "status = 'failed'", (("failed_jobs", "count", "count(*)"),)
)
_DEPLOYMENTS = _DayCounts(
    "deployment_logs",
    "completed_at",
    "status IN ('success', 'failed')",
    (
        ("deployments_succeeded", "succeeded", "count(*) FILTER (WHERE status = 'success')"),
        ("deployments_failed", "failed", "count(*) FILTER (WHERE status = 'failed')"),
    ),
)


def last_closed_day(conn: Connection) -> date:
    """The latest UTC day that ended over an hour ago: no transaction that began on it can still add a row."""
    row = conn.execute("SELECT ((now() - interval '1 hour') AT TIME ZONE 'UTC')::date - 1 AS day").fetchone()
    assert row is not None
    return row["day"]  # type: ignore[no-any-return]


# Every metric of the series, kept per ended day.
SERIES_METRICS = ["signups", "messages", "tokens", "deployments_succeeded", "deployments_failed", "failed_jobs"]
ACTIVITY_METRIC = "active_projects"


def first_day_not_kept(conn: Connection, metrics: list[str], start: date, end: date) -> date | None:
    """The first day of ``start``..``end`` some of ``metrics`` are not kept for (None when all are: one range of
    the kept rows' key counted, the days looked at one by one only when some are missing)."""
    row = conn.execute(
        f"""
        SELECT CASE WHEN (SELECT count(*) FROM analytics_daily_counts
                          WHERE metric = ANY(%(metrics)s) AND day BETWEEN %(start)s AND %(end)s)
                         = (%(end)s::date - %(start)s::date + 1) * cardinality(%(metrics)s::text[])
               THEN NULL
               ELSE (SELECT min(days.day) FROM ({_DAYS}) days
                     WHERE (SELECT count(*) FROM analytics_daily_counts a
                            WHERE a.metric = ANY(%(metrics)s) AND a.day = days.day) < cardinality(%(metrics)s::text[]))
               END AS day
        """,
        {"start": start, "end": end, "metrics": metrics},
    ).fetchone()
    assert row is not None
    return row["day"]  # type: ignore[no-any-return]


def keep_ended_days(conn: Connection, start: date, end: date) -> None:
    """Count and keep every series over the ended days of ``start``..``end`` not kept yet (in the order the series
    are read in, so that concurrent requests take the rows' locks in one order)."""
    _keep_days(conn, _SIGNUPS, start, end)
    _keep_days(conn, _MESSAGES, start, end)
    _keep_token_days(conn, start, end)
    _keep_days(conn, _DEPLOYMENTS, start, end)
    _keep_days(conn, _FAILED_JOBS, start, end)


def _keep_days(conn: Connection, counts: _DayCounts, start: date, end: date) -> None:
    """Count and keep the ended days of ``start``..``end`` not kept yet: one range of the time column's index over
    the span they cover. Rows are inserted in (metric, day) order, so requests keeping the same days at once wait
    for each other instead of deadlocking; the one that kept a day first wins, with the same numbers."""
    column = counts.column
    aggregates = ", ".join(f"{aggregate} AS {field}" for _, field, aggregate in counts.metrics)
    values = ", ".join(f"('{metric}', counted.{field})" for metric, field, _ in counts.metrics)
    conn.execute(
        f"""
        WITH missing AS (
            SELECT days.day FROM ({_DAYS}) days
            WHERE (SELECT count(*) FROM analytics_daily_counts a
                   WHERE a.metric = ANY(%(metrics)s) AND a.day = days.day) < cardinality(%(metrics)s::text[])
        ),
        span AS (SELECT min(day) AS first, max(day) AS last FROM missing),
        counted AS (
            SELECT {_day_of(column)} AS day, {aggregates} FROM {counts.table}, span
            WHERE {column} >= span.first::timestamp AT TIME ZONE 'UTC'
              AND {column} < (span.last + 1)::timestamp AT TIME ZONE 'UTC'
              AND {counts.where}
            GROUP BY 1
        )
        INSERT INTO analytics_daily_counts (metric, day, count)
        SELECT kept.metric, missing.day, COALESCE(kept.count, 0)
        FROM missing LEFT JOIN counted USING (day) CROSS JOIN LATERAL (VALUES {values}) kept (metric, count)
        ORDER BY kept.metric, missing.day
        ON CONFLICT (metric, day) DO NOTHING
        """,
        {"start": start, "end": end, "metrics": [metric for metric, _, _ in counts.metrics]},
    )


def _kept_rows(conn: Connection, start: date, end: date) -> list[Any]:
    return conn.execute(
        """
        SELECT day, metric, count FROM analytics_daily_counts
        WHERE metric = ANY(%(metrics)s) AND day BETWEEN %(start)s AND %(end)s ORDER BY day
        """,
        {"start": start, "end": end, "metrics": SERIES_METRICS},
    ).fetchall()


def _count_days(conn: Connection, counts: _DayCounts, start: date, end: date) -> list[Any]:
    """The days counted from the table (a range of the time column's index)."""
    column = counts.column
    aggregates = ", ".join(f"{aggregate} AS {field}" for _, field, aggregate in counts.metrics)
    fields = ", ".join(f"COALESCE(counted.{field}, 0) AS {field}" for _, field, _ in counts.metrics)
    rows = conn.execute(
        f"""
        WITH counted AS (
            SELECT {_day_of(column)} AS day, {aggregates} FROM {counts.table}
            WHERE {_window(column)} AND {counts.where} GROUP BY 1
        )
        SELECT days.day, {fields} FROM ({_DAYS}) days LEFT JOIN counted USING (day) ORDER BY days.day
        """,
        {"start": start, "end": end},
    ).fetchall()
    return [dict(row) for row in rows]


# The day-count series as the response names them (tokens per model are read apart).
_COUNTED = {"signups": _SIGNUPS, "messages": _MESSAGES, "deployments": _DEPLOYMENTS, "failed_jobs": _FAILED_JOBS}


def series(conn: Connection, start: date, end: date, closed: date) -> dict[str, list[Any]]:
    """Every series over ``start``..``end``, one entry per day (tokens one per day and model): the days through
    ``closed`` (ended and kept by the caller) read from what is kept, in one query, the later ones counted from
    the tables. Sign-ups are accounts created, messages sent, deployments and failed jobs by the day they ended;
    a kept day stays as counted when its rows are deleted later (an account, a project with its chats and jobs)."""
    days: dict[str, list[Any]] = {name: [] for name in _COUNTED}
    through = min(end, closed)
    if start <= through:
        rows = _kept_rows(conn, start, through)
        if len(rows) < ((through - start).days + 1) * len(SERIES_METRICS):
            # The caller's days were not all kept (a day that ended meanwhile is not among them): keep them now.
            keep_ended_days(conn, start, through)
            rows = _kept_rows(conn, start, through)
        kept: dict[date, dict[str, int]] = {}
        for row in rows:
            kept.setdefault(row["day"], {})[row["metric"]] = row["count"]
        for day, counts in kept.items():
            for name, spec in _COUNTED.items():
                days[name].append({"day": day, **{field: counts[metric] for metric, field, _ in spec.metrics}})
    if end > closed:
        for name, spec in _COUNTED.items():
            days[name] += _count_days(conn, spec, max(start, closed + timedelta(days=1)), end)
    days["ai_tokens"] = _tokens_by_day(conn, start, end, closed)
    return days


_JOB_TOKENS = "sum(COALESCE(j.prompt_tokens, 0) + COALESCE(j.completion_tokens, 0))"


def _tokens_by_day(conn: Connection, start: date, end: date, closed: date) -> list[Any]:
    """Tokens (prompt + completion) of the answers that ended in the window, per day and model: only the days a
    model used some (a year of every model's days, zeros included, was thousands of entries to send; the chart
    fills the gaps). A model since deleted is reported as provider and model None. The days through ``closed``
    are read from what is kept per day and model (``analytics_daily_tokens``), the later ones summed from the
    jobs."""
    rows = conn.execute(
        f"""
        WITH used AS (
            SELECT t.day, m.id AS model_id, sum(t.tokens) AS tokens
            FROM analytics_daily_tokens t LEFT JOIN ai_models m ON m.id = t.model_id
            WHERE t.day BETWEEN %(start)s AND %(closed)s
            GROUP BY 1, 2
            UNION ALL
            SELECT {_day_of("j.finished_at")}, j.model_id, {_JOB_TOKENS}
            FROM generation_jobs j
            WHERE j.status = 'succeeded'
              AND j.finished_at >= %(open)s::date::timestamp AT TIME ZONE 'UTC'
              AND j.finished_at < (%(end)s::date + 1)::timestamp AT TIME ZONE 'UTC'
            GROUP BY 1, 2
        )
        SELECT used.day, p.slug AS provider, m.api_name AS model, sum(used.tokens) AS tokens
        FROM used
        LEFT JOIN ai_models m ON m.id = used.model_id
        LEFT JOIN ai_providers p ON p.id = m.provider_id
        GROUP BY used.day, p.slug, m.api_name
        HAVING sum(used.tokens) > 0
        ORDER BY used.day, p.slug NULLS LAST, m.api_name NULLS LAST
        """,
        {"start": start, "end": end, "closed": min(end, closed), "open": max(start, closed + timedelta(days=1))},
    ).fetchall()
    return [dict(row) for row in rows]


def _keep_token_days(conn: Connection, start: date, end: date) -> None:
    """Sum and keep the ended days of ``start``..``end`` not kept yet, per model (one range of
    ``idx_generation_jobs_succeeded`` over the span they cover), then mark them kept with their total (the
    ``tokens`` row of ``analytics_daily_counts``, written after the day's models so it means they are all there).
    Inserted in key order, so requests keeping the same days at once wait for each other and the first wins."""
    window = {"start": start, "end": end}
    not_kept = "NOT EXISTS (SELECT 1 FROM analytics_daily_counts a WHERE a.metric = 'tokens' AND a.day = days.day)"
    conn.execute(
        f"""
        WITH missing AS (SELECT days.day FROM ({_DAYS}) days WHERE {not_kept}),
        span AS (SELECT min(day) AS first, max(day) AS last FROM missing),
        used AS (
            SELECT {_day_of("j.finished_at")} AS day, j.model_id, {_JOB_TOKENS} AS tokens
            FROM generation_jobs j, span
            WHERE j.status = 'succeeded'
              AND j.finished_at >= span.first::timestamp AT TIME ZONE 'UTC'
              AND j.finished_at < (span.last + 1)::timestamp AT TIME ZONE 'UTC'
            GROUP BY 1, 2
        )
        INSERT INTO analytics_daily_tokens (day, model_id, tokens)
        SELECT used.day, used.model_id, used.tokens FROM used JOIN missing USING (day)
        ORDER BY used.day, used.model_id NULLS LAST
        ON CONFLICT DO NOTHING
        """,
        window,
    )
    conn.execute(
        f"""
        INSERT INTO analytics_daily_counts (metric, day, count)
        SELECT 'tokens', days.day,
               COALESCE((SELECT sum(t.tokens) FROM analytics_daily_tokens t WHERE t.day = days.day), 0)
        FROM ({_DAYS}) days WHERE {not_kept}
        ORDER BY days.day
        ON CONFLICT (metric, day) DO NOTHING
        """,
        window,
    )


# ---------------------------------------------------------------------------------------- revenue


def mrr_by_tier(conn: Connection) -> list[Any]:
    """Monthly recurring revenue per tier, in minor units of the plan's currency, from the subscriptions that
    are current (active, trialing or past due): the plan's monthly display price, or its yearly one / 12. A
    tier without a display price (Enterprise: set up by hand) counts 0. Every tier is listed."""
    rows = conn.execute(
        """
        SELECT pl.tier, pl.currency,
               -- A tier nobody subscribes to joins one row without an organization: it adds nothing.
               COALESCE(sum(CASE WHEN o.id IS NULL THEN 0
                                 WHEN o.subscription_interval = 'year'
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
