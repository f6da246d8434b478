"""The admin Overview and System logs in a real browser against the local stack: an administrator sees the totals
and the day-by-day numbers of what was seeded, follows the health panel to the failed AI job and the failed
deployment (with the step that failed and its logs); a co-admin gets both screens, not the administrators' own."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from playwright.sync_api import Page, expect

from tests.admin.test_analytics import ago, deployment, job, model, noon, project
from tests.support.identity import make_organization, make_user
from tests.web.test_journeys import assert_accessible, screenshot, sign_in

Db = psycopg.Connection[Any]

JOB_ERROR = "The provider answered 429: too many requests."
STEP_DETAIL = "Gitea refused the push: repository is archived."
BUILD_TAIL = "npm ERR! missing script: build"


def test_an_admin_sees_the_seeded_numbers_and_follows_health_to_the_failures(page: Page, db: Db, web: str) -> None:
    admin = make_user(db, role="admin", full_name="Ada Admin")
    make_organization(db, admin, "Platform team")
    owner = make_user(db, full_name="Fay Founder")
    org = make_organization(db, owner, "Failing Inc")
    # Two sign-ups three days ago (the admin and the owner signed up today).
    for _ in range(2):
        early = make_user(db)
        db.execute("UPDATE users SET created_at = %s WHERE id = %s", (noon(ago(3)), early.id))
    storefront = project(db, org)
    db.execute("UPDATE projects SET name = 'Storefront' WHERE id = %s", (storefront,))
    gpt, claude = model(db, "openai", "gpt-x"), model(db, "anthropic", "claude-y")
    job(db, org, storefront, status="succeeded", finished_at=noon(ago(5)), model_id=gpt, tokens=(100, 50))
    job(db, org, storefront, status="succeeded", finished_at=noon(ago(2)), model_id=claude, tokens=(7, 3))
    now = datetime.now(UTC)
    job(
        db,
        org,
        storefront,
        status="failed",
        finished_at=now - timedelta(hours=1),
        model_id=gpt,
        error=("provider_error", JOB_ERROR),
    )
    failed = deployment(db, storefront, "failed", now - timedelta(hours=2))
    db.execute("UPDATE deployment_logs SET build_log = %s WHERE id = %s", (f"> build\n{BUILD_TAIL}", failed))
    db.execute(
        "INSERT INTO deployment_steps (deployment_id, step, status, started_at, attempts, detail) VALUES"
        " (%s, 'Prepare', 'succeeded', now() - interval '3 hours', 1, NULL),"
        " (%s, 'PushToGitea', 'failed', now() - interval '3 hours', 3, %s)",
        (failed, failed, STEP_DETAIL),
    )
    db.execute(
        "INSERT INTO deployment_log_lines (deployment_id, step, line) VALUES (%s, 'PushToGitea', 'pushing to gitea')",
        (failed,),
    )

    sign_in(page, admin.email)
    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Administration").click()
    expect(page).to_have_url(re.compile(r"/admin/overview$"))
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()

    totals = page.get_by_role("list", name="Totals")
    expect(totals.get_by_role("listitem", name="Users")).to_have_text(re.compile(r"^Users\s+4\s"), use_inner_text=True)
    expect(totals.get_by_role("listitem", name="Organizations")).to_have_text(
        re.compile(r"^Organizations\s+2$"), use_inner_text=True
    )
    expect(page.get_by_role("img", name=re.compile(r"^Sign-ups per day, .*: 4 in total;"))).to_be_visible()
    numbers = page.locator("details", has_text="Sign-ups: the numbers")
    numbers.get_by_text("Sign-ups: the numbers").click()
    day = numbers.get_by_role("row").filter(has=page.locator(f'time[datetime="{ago(3).isoformat()}"]'))
    expect(day.get_by_role("cell")).to_have_text("2")
    expect(page.get_by_role("img", name=re.compile(r"^Deployments per day, .*: 1 in total;"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^AI tokens per day, .*: 160 in total;"))).to_be_visible()
    tokens = page.get_by_role("region", name="AI tokens by model").get_by_role("list", name="Legend")
    expect(tokens.get_by_role("listitem")).to_have_text(["gpt-x (openai)150", "claude-y (anthropic)10"])

    health = page.get_by_role("region", name="Platform health")
    failed_jobs = health.get_by_role("listitem").filter(has_text="Failed AI jobs, last 24 hours")
    expect(failed_jobs).to_contain_text("Problem")
    expect(failed_jobs).to_contain_text("1")
    expect(health.get_by_role("link", name="System logs")).to_be_visible()
    assert_accessible(page, "admin overview")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top of the full-page picture
    screenshot(page, "admin-overview")
    page.get_by_role("button", name="1 year").click()
    expect(page).to_have_url(re.compile(r"/admin/overview\?days=365$"))
    expect(totals.get_by_role("listitem", name="Sign-ups")).to_contain_text("last 365 days")

    # The health panel leads to the failed job, with its message.
    failed_jobs.get_by_role("link", name=re.compile("^See them")).click()
    expect(page).to_have_url(re.compile(r"/admin/logs\?tab=jobs$"))
    expect(page.get_by_role("tab", name="Failed jobs")).to_have_attribute("aria-selected", "true")
    jobs = page.get_by_role("tabpanel", name="Failed jobs").get_by_role("list", name="Failed jobs")
    item = jobs.get_by_role("listitem")
    expect(item).to_have_count(1)
    expect(item).to_contain_text(JOB_ERROR)
    expect(item).to_contain_text("Storefront in Failing Inc")
    expect(item).to_contain_text("gpt-x (openai)")

    # The tabs are keyboard tabs: the arrow key opens the failed deployments.
    page.get_by_role("tab", name="Failed jobs").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Failed deployments")).to_be_focused()
    expect(page).to_have_url(re.compile(r"/admin/logs\?tab=deployments$"))
    panel = page.get_by_role("tabpanel", name="Failed deployments")
    failure = panel.get_by_role("listitem")
    expect(failure).to_contain_text("Failed at: Push to Git")
    failure.get_by_text("Step, logs and build log").click()
    expect(failure).to_contain_text(STEP_DETAIL)
    expect(failure.get_by_label("Last log lines")).to_contain_text("pushing to gitea")
    expect(failure.get_by_label("Build log (end)")).to_contain_text(BUILD_TAIL)
    assert_accessible(page, "admin system logs")
    screenshot(page, "admin-logs")


def test_a_co_admin_sees_overview_and_system_logs_but_not_users_or_organizations(page: Page, db: Db, web: str) -> None:
    co_admin = make_user(db, role="co_admin", full_name="Cora Coadmin")
    make_organization(db, co_admin, "Support")

    sign_in(page, co_admin.email)
    page.goto("/admin/overview")
    navigation = page.get_by_role("navigation", name="Administration")
    expect(navigation.get_by_role("link", name="Overview")).to_be_visible()
    expect(navigation.get_by_role("link", name="System logs")).to_be_visible()
    expect(navigation.get_by_role("link", name="Users")).to_have_count(0)
    expect(navigation.get_by_role("link", name="Organizations")).to_have_count(0)

    totals = page.get_by_role("list", name="Totals")
    expect(totals.get_by_role("listitem", name="Users")).to_have_text(re.compile(r"^Users\s+1\s"), use_inner_text=True)
    # The period is kept in the address; empty charts still draw and say so.
    page.get_by_role("group", name="Period").get_by_role("button", name="7 days").click()
    expect(page).to_have_url(re.compile(r"/admin/overview\?days=7$"))
    expect(page.get_by_role("button", name="7 days")).to_have_attribute("aria-pressed", "true")
    # The 7 days' numbers have arrived (the previous ones stay on screen, said to be updating, until then).
    expect(page.get_by_test_id("overview-updating")).to_have_text("")
    expect(page.get_by_role("img", name=re.compile(r"^Chat messages per day, .*: none\.$"))).to_be_visible()
    expect(page.get_by_text("No messages in this period")).to_be_visible()
    expect(page.get_by_role("region", name="Platform health")).to_contain_text("Failed AI jobs, last 24 hours")
    assert_accessible(page, "admin overview (co-admin)")

    navigation.get_by_role("link", name="System logs").click()
    expect(page.get_by_role("heading", name="System logs")).to_be_visible()
    expect(page.get_by_role("tab", name="Audit log")).to_have_attribute("aria-selected", "true")
    audit = page.get_by_role("tabpanel", name="Audit log")
    sign_ins = audit.get_by_role("row").filter(has_text="auth.login")
    expect(sign_ins).to_have_count(1)
    sign_ins.get_by_role("button", name="Details of auth.login").click()
    expect(audit).to_contain_text(str(co_admin.id))
    assert_accessible(page, "admin audit log (co-admin)")
    # An action selected in the list becomes the filter, kept in the address.
    sign_ins.get_by_role("button", name=re.compile("^auth.login")).click()
    expect(page).to_have_url(re.compile(r"/admin/logs\?action=auth.login$"))
    expect(audit.get_by_label("Action")).to_have_value("auth.login")
    page.get_by_role("tab", name="Failed deployments").click()
    expect(page.get_by_role("tabpanel", name="Failed deployments")).to_contain_text("No failed deployments.")
