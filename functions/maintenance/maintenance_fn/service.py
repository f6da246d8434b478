"""Scheduled clean-up: named tasks, so nothing accumulates or hangs.

Each task is idempotent (run again at once, it changes nothing more), bounded per run (batches, and the run's
time budget: a task stops between batches when it is spent and the next run goes on) and returns counts of what
it changed, which the handler publishes as metrics and one log line. The hourly schedule runs :data:`HOURLY`;
the full blob sweep reads every manifest, so it runs on a slower schedule of its own (``{"tasks":
["blob_sweep"]}``). ``python -m mmctl cleanup run <task>|all`` runs them on demand.

The tasks:

* ``expired`` — sessions, e-mail tokens, invitations and rate-limit windows past their use;
* ``abandoned_jobs`` — generation jobs nothing took up again long after they were re-announced end failed
  (the chat shows why); runs before ``stalled_jobs``, which re-announces the rest;
* ``deployments`` — deployments pending or running past their bound, reconciled with their Step Functions
  execution: ended, missing or never recorded → failed; still running → left until the hard bound;
* ``preview_builds`` — preview builds unfinished long after their worker's time limit (it stopped, or the
  message was lost) end failed, so the Preview pane stops waiting and offers to build again;
* ``imports`` — imports from the desktop app left analyzing or importing hours after their worker's limit end
  failed, with their unfinished apps;
* ``mirrors`` — versions Gitea has not backed up are asked for again;
* ``unrecorded_blobs`` — blobs uploaded by a version whose transaction failed (in S3, never recorded);
* ``blob_sweep`` — recorded blobs no manifest and no working file refers to, per organization;
* ``trials`` — trials given without a subscription that have ended: Free, with an e-mail to the owners.
  A subscription ``past_due`` beyond the grace period needs no write: :func:`mm_common.plans.effective_tier`
  already treats it as Free, and the subscription fields stay Stripe's (the webhook writes them);
* ``retention`` — audit log rows and monthly token counters older than their retention (days, from
  ``AUDIT_RETENTION_DAYS`` and ``TOKEN_USAGE_RETENTION_DAYS``, 365 by default);
* ``easypanel`` — Easypanel services of deleted projects the project clean-up could not destroy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from botocore.exceptions import BotoCoreError, ClientError

from maintenance_fn import queries
from mm_common import audit, billing, db, deployments, emails, imports, preview_builds, snapshots, versions
from mm_common.ai import jobs
from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.observability import for_service

if TYPE_CHECKING:
    from mm_common.deploy.easypanel import DatabaseKind

obs = for_service("maintenance")

Counts = dict[str, int]

# A version's mirror message normally lands within seconds; one still waiting after this long was lost.
MIRROR_GRACE_MINUTES = 15
# Projects re-announced per run (each run is hourly; the rest wait for the next one).
MIRROR_BATCH = 500
# A deployment's execution ends within about 25 minutes (180 build polls 5 s apart, a 2-minute health check,
# bounded retries): after this long Step Functions is asked how it is going...
DEPLOYMENT_CHECK_MINUTES = 30
# ... and after this long it is ended whatever Step Functions says (an execution still running is stuck).
DEPLOYMENT_HARD_BOUND_MINUTES = 120
# Step Functions' statuses of an execution that is over.
EXECUTION_ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# Rows per statement of the tasks that work in batches.
BATCH = 1000
# Organizations per transaction of the trials task (each gets an audit row and its owners' e-mails).
TRIAL_BATCH = 100
# Retention of the audit log and of the monthly token counters, in days, unless the environment says otherwise.
DEFAULT_RETENTION_DAYS = 365
# Easypanel service types the platform creates (an app and, optionally, its database).
PLATFORM_SERVICE_TYPES = frozenset({"app", "postgres", "mariadb"})
# How much of an organization's slug every service name the deploys derive from it starts with, whatever
# suffixes ("-db", "-2") shortened it by (see mm_common.deploy.easypanel.with_suffix).
SERVICE_PREFIX_CHARS = 20


@dataclass(frozen=True)
class Budget:
    """When the run must stop starting new work (``time.monotonic()``)."""

    deadline: float

    @classmethod
    def seconds(cls, seconds: float) -> Budget:
        return cls(time.monotonic() + seconds)

    @property
    def spent(self) -> bool:
        return time.monotonic() >= self.deadline


# ------------------------------------------------------------------------------------------------ tasks
EXPIRED = {
    "sessions": queries.delete_old_sessions,
    "emailVerificationTokens": queries.delete_old_email_verification_tokens,
    "passwordResetTokens": queries.delete_old_password_reset_tokens,
    "invitations": queries.delete_expired_invitations,
    "rateLimits": queries.delete_old_rate_limit_windows,
}


def expired_rows(budget: Budget) -> Counts:
    with db.transaction() as conn:
        return {name: delete(conn) for name, delete in EXPIRED.items()}


def abandoned_jobs(budget: Budget) -> Counts:
    return {"failed": _batches(budget, lambda conn: jobs.fail_abandoned(conn, limit=BATCH))}


def stalled_jobs(budget: Budget) -> Counts:
    """Generation jobs nothing is working on: announced again, or ended when canceled meanwhile."""
    with db.transaction() as conn:
        sweep = jobs.requeue_stalled(conn)
    return {"requeued": sweep.requeued, "canceled": sweep.canceled}


def execution_status(arn: str | None) -> str | None:
    """Step Functions' status of the execution (``RUNNING``, ``SUCCEEDED``…), ``MISSING`` when there is none, or
    None when Step Functions cannot say now (not answering, or this function may not ask)."""
    if not arn:
        return "MISSING"
    try:
        return str(client("stepfunctions").describe_execution(executionArn=arn)["status"])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("ExecutionDoesNotExist", "InvalidArn"):
            return "MISSING"
        # AccessDenied: the function lacks states:DescribeExecution; only the hard bound ends deployments then.
        obs.logger.warning("Step Functions did not describe an execution", extra={"error": code})
        return None
    except BotoCoreError as error:
        obs.logger.warning("Step Functions did not answer", extra={"error": type(error).__name__})
        return None


def stuck_deployments(budget: Budget) -> Counts:
    """Deployments whose execution died before MarkFailed (the database was down then, say), never started, or
    hangs: each ends ``failed`` as MarkFailed would end it, so its project may deploy again."""
    with db.transaction() as conn:
        stale = deployments.stale_deployments(conn, older_than_minutes=DEPLOYMENT_CHECK_MINUTES, limit=BATCH)
    failed = 0
    for deployment in stale:
        if budget.spent:
            break
        status = execution_status(deployment["execution_arn"])
        over = status in EXECUTION_ENDED or status == "MISSING"
        if not over and deployment["age_minutes"] < DEPLOYMENT_HARD_BOUND_MINUTES:
            continue  # still running (or Step Functions cannot say): the execution may still end it
        with db.transaction() as conn:
            ended = deployments.end_abandoned(conn, deployment["id"])
        if ended:
            failed += 1
            obs.logger.info(
                "ended an abandoned deployment",
                extra={"deployment_id": str(deployment["id"]), "execution": status or "UNKNOWN"},
            )
    return {"failed": failed}


# Five times the worker's 300 s limit: a build this old is not running any more.
PREVIEW_BUILD_ABANDONED_MINUTES = 25


def abandoned_preview_builds(budget: Budget) -> Counts:
    with db.transaction() as conn:
        return {"failed": preview_builds.fail_abandoned(conn, older_than_minutes=PREVIEW_BUILD_ABANDONED_MINUTES)}


# Three times the import worker's 15-minute limit times its three deliveries.
IMPORT_ABANDONED_MINUTES = 135


def abandoned_imports(budget: Budget) -> Counts:
    with db.transaction() as conn:
        return {"failed": imports.fail_abandoned(conn, older_than_minutes=IMPORT_ABANDONED_MINUTES)}


def unmirrored_versions(budget: Budget) -> Counts:
    """Versions Gitea has not backed up (their message was lost or dead-lettered while Gitea was down): one
    message per project names its newest (the mirror takes the older ones first). Nothing is sent where no Gitea
    is configured (enqueue_mirror sends nothing then)."""
    with db.transaction() as conn:
        behind = queries.projects_behind_their_backup(conn, older_than_minutes=MIRROR_GRACE_MINUTES, limit=MIRROR_BATCH)
    for project_id, version_id in behind:
        versions.enqueue_mirror(project_id, version_id)
    return {"requeued": len(behind)}


def unrecorded_blobs(budget: Budget) -> Counts:
    with db.transaction() as conn:
        return {"deleted": snapshots.collect_unrecorded_blobs(conn, grace_hours=get_settings().blob_gc_grace_hours)}


def blob_sweep(budget: Budget) -> Counts:
    """Mark and sweep, one organization per transaction (under its blob lock, which version writers share):
    every blob recorded before the grace period that no manifest and no working file refers to goes."""
    grace_hours = get_settings().blob_gc_grace_hours
    with db.transaction() as conn:
        organizations = queries.organizations_with_old_blobs(conn, grace_hours=grace_hours)
    collected = failed = 0
    for organization_id in organizations:
        if budget.spent:
            break
        try:
            with db.transaction() as conn:
                sweep = snapshots.sweep_organization(conn, organization_id, grace_hours=grace_hours)
        except (BotoCoreError, ClientError, ValueError, KeyError) as error:
            # A manifest S3 cannot give (or not a manifest): nothing of that organization is deleted.
            failed += 1
            obs.logger.warning(
                "blob sweep of an organization failed",
                extra={"organization_id": str(organization_id), "error": type(error).__name__},
            )
            continue
        collected += sweep.collected
        if sweep.kept:
            failed += 1
            obs.logger.warning(
                "unreferenced blobs left for a later sweep",
                extra={"organization_id": str(organization_id), "kept": sweep.kept, "problem": sweep.problem},
            )
    return {"collected": collected, "failedOrganizations": failed}


def ended_trials(budget: Budget) -> Counts:
    settings = get_settings()
    ended = mailed = 0
    while not budget.spent:
        mails: list[tuple[str, str, str]] = []
        with db.transaction() as conn:
            organizations = queries.end_trials_without_subscription(conn, limit=TRIAL_BATCH)
            for organization in organizations:
                audit.record(
                    conn,
                    "organization.trial_ended",
                    meta=None,
                    organization_id=organization["id"],
                    resource_type="organization",
                    resource_id=organization["id"],
                    details={"tier": organization["trial_tier"], "now": "free"},
                )
                link = billing.billing_page_url(settings, organization["id"])
                mails += [
                    (email, organization["name"], link) for email in queries.owner_emails(conn, organization["id"])
                ]
        ended += len(organizations)
        # After the commit: an e-mail never announces a change that rolled back. One that fails is logged, not
        # retried (the organization is Free either way, and the billing page says so).
        for email, name, link in mails:
            try:
                emails.send_trial_ended(email, name, link)
                mailed += 1
            except (BotoCoreError, ClientError) as error:
                obs.logger.warning("trial-ended e-mail not sent", extra={"error": type(error).__name__})
        if len(organizations) < TRIAL_BATCH:
            break
    return {"endedTrials": ended, "emailsSent": mailed}


def retention_days(name: str) -> int:
    """Days to keep, from the environment variable ``name`` (at least 1; the default when unset or not a number)."""
    raw = os.environ.get(name, "").strip()
    try:
        return max(1, int(raw)) if raw else DEFAULT_RETENTION_DAYS
    except ValueError:
        obs.logger.warning("retention setting is not a number; the default applies", extra={"setting": name})
        return DEFAULT_RETENTION_DAYS


def retention(budget: Budget) -> Counts:
    audit_days = retention_days("AUDIT_RETENTION_DAYS")
    usage_days = retention_days("TOKEN_USAGE_RETENTION_DAYS")
    return {
        "auditLogs": _batches(budget, lambda conn: queries.delete_old_audit_logs(conn, days=audit_days, limit=BATCH)),
        "tokenUsage": _batches(budget, lambda conn: queries.delete_old_token_usage(conn, days=usage_days, limit=BATCH)),
    }


def _batches(budget: Budget, delete: Callable[[db.Connection], int]) -> int:
    """Run ``delete`` (one batch of at most BATCH rows, in a transaction of its own) until it deletes fewer or
    the budget is spent; how many in all."""
    deleted = 0
    while not budget.spent:
        with db.transaction() as conn:
            batch = delete(conn)
        deleted += batch
        if batch < BATCH:
            break
    return deleted


def platform_named(service: str, organization_slug: str) -> bool:
    """Whether ``service`` is a name the deploys derive for a project of that organization (``<org>-<project>``,
    maybe shortened and suffixed)."""
    from mm_common.deploy.easypanel import derive_name, is_valid_name

    prefix = derive_name(organization_slug, fallback="org")[:SERVICE_PREFIX_CHARS]
    return is_valid_name(service) and service.startswith(prefix)


def orphaned_services(budget: Budget) -> Counts:
    """Apps and databases on the panel that no project records any more (their project was deleted and the
    clean-up worker could not destroy them), in the organizations' Easypanel projects only, with the platform's
    names only: anything else on the panel is never touched. Nothing to do where no panel is configured."""
    settings = get_settings()
    if not settings.easypanel_url:
        return {"destroyed": 0}
    from mm_common.deploy import services as deploy_services
    from mm_common.deploy.easypanel import derive_name

    destroyed = 0
    with deploy_services.easypanel(settings) as panel:
        # The panel first, then the names: a deploy records a name before it creates the service, so every
        # service this listing shows that a project owns is recorded by the time the names are read.
        listing = panel.list_projects_and_services()
        with db.transaction() as conn:
            slugs_of: dict[str, set[str]] = {}
            for panel_project, slug in queries.organizations_panel_projects(conn):
                slugs_of.setdefault(panel_project, set()).add(slug)
            for slug in queries.organization_slugs(conn):
                slugs_of.setdefault(derive_name(slug, fallback="org"), set()).add(slug)
            recorded = queries.recorded_services(conn)
        for service in listing.services:
            if budget.spent:
                break
            slugs = slugs_of.get(service.project_name)
            if (
                not slugs
                or service.type not in PLATFORM_SERVICE_TYPES
                or (service.project_name, service.name) in recorded
                or not any(platform_named(service.name, slug) for slug in slugs)
            ):
                continue
            if service.type == "app":
                panel.destroy_app(service.project_name, service.name)
            else:
                kind = cast("DatabaseKind", service.type)
                panel.destroy_database(kind, service.project_name, service.name)
            destroyed += 1
            obs.logger.info(
                "destroyed an Easypanel service no project records",
                extra={"panel_project": service.project_name, "service": service.name, "type": service.type},
            )
    return {"destroyed": destroyed}


# ------------------------------------------------------------------------------------------------- runs
Task = Callable[[Budget], Counts]

# In the order a run takes them.
TASKS: dict[str, Task] = {
    "expired": expired_rows,
    "abandoned_jobs": abandoned_jobs,
    "stalled_jobs": stalled_jobs,
    "deployments": stuck_deployments,
    "preview_builds": abandoned_preview_builds,
    "imports": abandoned_imports,
    "mirrors": unmirrored_versions,
    "unrecorded_blobs": unrecorded_blobs,
    "trials": ended_trials,
    "retention": retention,
    "easypanel": orphaned_services,
    "blob_sweep": blob_sweep,
}
# What the hourly schedule runs: every task but the full blob sweep (daily, its own schedule).
HOURLY: tuple[str, ...] = tuple(name for name in TASKS if name != "blob_sweep")


@dataclass
class Report:
    counts: dict[str, Counts] = field(default_factory=dict)  # task -> what it changed
    failed: dict[str, str] = field(default_factory=dict)  # task -> the exception's class


def task_names(wanted: Iterable[str] | None) -> list[str]:
    """The tasks to run, in run order: ``wanted`` (``all``: every task), else :data:`HOURLY`. ValueError names
    an unknown one."""
    if wanted is None:
        return list(HOURLY)
    names = set(wanted)
    if "all" in names:
        return list(TASKS)
    unknown = sorted(names - set(TASKS))
    if unknown:
        raise ValueError(f"unknown clean-up task(s) {unknown}; known: {sorted(TASKS)} or 'all'")
    return [name for name in TASKS if name in names]


def run_cleanup(wanted: Iterable[str] | None = None, *, budget: Budget | None = None) -> Report:
    """Run the tasks in order. A task that fails is reported and the others still run; a task not started
    before the budget is spent waits for the next run (reported with no counts)."""
    budget = budget or Budget.seconds(240)
    report = Report()
    for name in task_names(wanted):
        if budget.spent:
            break
        try:
            report.counts[name] = TASKS[name](budget)
        except Exception as error:
            obs.logger.exception("clean-up task failed", extra={"task": name})
            report.failed[name] = type(error).__name__
    return report
