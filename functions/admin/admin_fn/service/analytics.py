"""Platform analytics and health for admins and co-admins, and the failure logs (failed jobs, failed deployments)
with their internal detail.

The numbers come from indexed queries (:mod:`admin_fn.queries.analytics`) in one transaction; the queue depths
from SQS, read concurrently with them. The series and the projects' activity are kept per ended day: the days
not kept yet are counted first, a week at a time, each week in a transaction of its own. A queue that cannot be
read is reported with a null depth: the dashboard is what an operator opens when something is wrong, so one
unreadable part must not hide the rest.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from admin_fn.queries import analytics as queries
from admin_fn.service import SERVICE
from mm_common import db
from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.errors import Unprocessable
from mm_common.observability import for_service, traced

DEFAULT_DAYS = 30
MAX_DAYS = 366
# The ended days counted and kept in one transaction: the first look at a year over a big database makes progress
# that stays even when it runs out of time, and no statement counts more than a week of rows.
KEEP_DAYS_AT_ONCE = 7


@dataclass(frozen=True)
class Window:
    """UTC calendar days, both ends included."""

    start: date
    end: date


def window(start: date | None, end: date | None, *, today: date | None = None) -> Window:
    """The days asked for (``to`` by default today, ``from`` 30 days up to ``to``): at most 366 days, ``from`` not
    after ``to``."""
    end = end or today or datetime.now(UTC).date()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise Unprocessable("'from' must not be after 'to'.", code="invalid_range")
    if (end - start).days + 1 > MAX_DAYS:
        raise Unprocessable(f"The range may cover at most {MAX_DAYS} days.", code="invalid_range")
    return Window(start, end)


# ------------------------------------------------------------------------------------------ queues


def _queue_urls() -> dict[str, str]:
    """The stack's work queues this function knows of (label → URL), as its environment names them."""
    settings = get_settings()
    known = {
        "generation-jobs": settings.jobs_queue_url,
        "gitea-mirror": settings.gitea_mirror_queue_url,
        "project-cleanup": settings.project_cleanup_queue_url,
        "preview-builds": settings.preview_builds_queue_url,
        "imports": settings.imports_queue_url,
    }
    return {label: url for label, url in known.items() if url}


def _depth(url: str) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@cache
def _dead_letter_url(url: str) -> str | None:
    """The queue's dead-letter queue (from its redrive policy), found once per execution environment."""
    import json

    sqs = client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    if "RedrivePolicy" not in attributes:
        return None
    # arn:<partition>:sqs:<region>:<account>:<name>
    arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    account, name = arn.split(":")[4:6]
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def _queue_health(label: str, url: str) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    health: dict[str, Any] = {"name": label, "depth": None, "dlq_depth": None}
    try:
        health["depth"] = _depth(url)
        dead_letters = _dead_letter_url(url)
        if dead_letters is not None:
            health["dlq_depth"] = _depth(dead_letters)
    # An unreadable queue (no access, gone, a malformed redrive policy) is reported as unknown, not as the page's
    # failure.
    except (BotoCoreError, ClientError, KeyError, ValueError, IndexError) as error:
        for_service(SERVICE).logger.warning(
            "admin health: a queue could not be read", extra={"queue": label, "error": str(error)}
        )
    return health


# --------------------------------------------------------------------------------------- analytics


def _mrr(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {row["tier"]: int(row["cents"]) for row in rows}


def _keep_ended_days(days: Window) -> date:
    """Count and keep the ended days of the window and of the projects' recent activity not kept yet (nothing to
    do, one query, once they are); the last ended day, through which they are kept."""
    with db.transaction() as conn:
        closed = queries.last_closed_day(conn)
        activity_start, activity_end = queries.activity_days(closed)
        series_from = queries.first_day_not_kept(conn, queries.SERIES_METRICS, days.start, min(days.end, closed))
        activity_from = queries.first_day_not_kept(conn, [queries.ACTIVITY_METRIC], activity_start, activity_end)
    for first, last, keep in [
        (series_from, min(days.end, closed), queries.keep_ended_days),
        (activity_from, activity_end, queries.fold_activity),
    ]:
        while first is not None and first <= last:
            through = min(last, first + timedelta(days=KEEP_DAYS_AT_ONCE - 1))
            with db.transaction() as conn:
                keep(conn, first, through)
            first = through + timedelta(days=1)
    return closed


@traced(SERVICE)
def platform_analytics(days: Window) -> dict[str, Any]:
    """Totals, series per day, revenue and health (see the route for the shape)."""
    queues = _queue_urls()
    with ThreadPoolExecutor(max_workers=max(1, len(queues))) as pool:
        pending = [pool.submit(_queue_health, label, url) for label, url in queues.items()]
        closed = _keep_ended_days(days)
        with db.transaction() as conn:
            totals = {**queries.totals(conn), **queries.active_projects(conn, closed)}
            series = queries.series(conn, days.start, days.end, closed)
            invoices = queries.paid_invoices(conn, days.start, days.end)
            revenue = {
                "mrr_by_tier": _mrr(queries.mrr_by_tier(conn)),
                "paid_invoices": {
                    "count": sum(int(row["count"]) for row in invoices),
                    "amount_by_currency": {row["currency"]: int(row["amount"]) for row in invoices},
                },
            }
            health = queries.job_and_deployment_health(conn)
        health["queues"] = [future.result() for future in pending]
    return {
        "from": days.start,
        "to": days.end,
        "totals": totals,
        "series": series,
        "revenue": revenue,
        "health": health,
    }


# -------------------------------------------------------------------------------------- failure logs


@traced(SERVICE)
def failed_jobs(*, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    with db.transaction() as conn:
        return queries.failed_jobs_page(conn, limit=limit, cursor=cursor)


@traced(SERVICE)
def failed_deployments(*, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    with db.transaction() as conn:
        return queries.failed_deployments_page(conn, limit=limit, cursor=cursor)
