"""Deploying from the web app's Deploy tab, in a real browser, against the local stack: the real deploy state
machine pushes to the Gitea emulator and builds on the Easypanel emulator, which serves the built site at
http://<service>.localhost:<its port>/ (Chromium resolves *.localhost to this machine)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Locator, Page, expect

from devstack.stack import LocalStack
from tests.conftest import wait_for_executions
from tests.support.identity import Account, add_member, make_organization, make_user
from tests.web.test_journeys import assert_accessible, screenshot, sign_in

FAILED_MESSAGE = "Deployment failed. Please contact us."
# A deployment takes a few seconds of real work (git push, a build, health checks) on the emulators.
DEPLOYED_MS = 90_000


@pytest.fixture(autouse=True)
def _deploys_poll_without_delay(stack: LocalStack) -> Iterator[None]:
    """The template gives the deploy steps DEPLOY_POLL_SECONDS=5, set in this process's environment when the
    stack starts (its functions run here and read it on each call). The emulator's builds advance on each
    look, so looks need no delay; the executions a test started end before the delay is restored."""
    assert stack.easypanel is not None and stack.gitea is not None
    stack.easypanel.emulator.faults.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEPLOY_POLL_SECONDS", "0")
        yield
        wait_for_executions(stack)
    stack.easypanel.emulator.faults.clear()


def site_project(web: str, owner: Account, org: uuid.UUID, heading: str) -> dict[str, Any]:
    """A blank project (a plain index.html, served as it is) whose page shows ``heading``."""
    project: dict[str, Any] = httpx.post(
        f"{web}/api/projects",
        json={"organizationId": str(org), "name": "Bakery", "template": "blank"},
        headers=owner.headers,
    ).json()["project"]
    page = f"<!doctype html>\n<html lang='en'><title>Bakery</title><body><h1>{heading}</h1></body></html>\n"
    httpx.put(
        f"{web}/api/projects/{project['id']}/files/index.html", json={"content": page}, headers=owner.headers
    ).raise_for_status()
    return project


def step(page: Page, label: str) -> Locator:
    """The timeline's row of the step labelled ``label``."""
    rows = page.get_by_role("list", name="Steps").get_by_role("listitem")
    return rows.filter(has=page.get_by_text(label, exact=True))


def test_deploy_a_site_open_it_stop_start_update_roll_back_and_destroy(
    page: Page, db: psycopg.Connection[Any], web: str
) -> None:
    owner = make_user(db, full_name="Dana Deployer")
    org = make_organization(db, owner, "Acme")
    project = site_project(web, owner, org, "Fresh bread every morning")

    sign_in(page, owner.email)
    page.goto(f"/projects/{project['id']}")
    page.get_by_role("link", name="Deploy", exact=True).click()
    overview = page.get_by_role("region", name="Deployment", exact=True)
    expect(overview.get_by_test_id("deploy-state")).to_have_text("Not deployed")
    expect(page.get_by_text("No deployments yet.")).to_be_visible()
    expect(overview.get_by_label("PostgreSQL")).to_be_checked()
    expect(overview.get_by_role("link", name="environment variables")).to_have_attribute(
        "href", f"/projects/{project['id']}/settings"
    )
    assert_accessible(page, "deploy (not deployed)")

    overview.get_by_label("No database").check()
    overview.get_by_role("button", name="Deploy", exact=True).click()
    # The timeline follows the running deployment to its end.
    expect(step(page, "Prepare")).to_be_visible()
    expect(step(page, "Go live")).to_contain_text("done", timeout=DEPLOYED_MS)
    for label in ("Push to Git", "Set up the app", "Build", "Health check"):
        expect(step(page, label)).to_contain_text("done")
    expect(overview.get_by_test_id("deploy-state")).to_have_text("Live")
    # The log followed the deployment and stays at its newest line.
    log = page.get_by_role("log", name="Deployment log")
    expect(log).to_contain_text("The build finished.")
    log.scroll_into_view_if_needed()
    assert log.evaluate("area => area.scrollHeight > area.clientHeight"), "the log should be long enough to scroll"
    expect(log.get_by_text(re.compile("Live at http"))).to_be_in_viewport()
    deployments = page.get_by_role("list", name="Deployments")
    expect(deployments.get_by_role("listitem")).to_have_count(1)
    expect(deployments).to_contain_text("Succeeded")
    expect(overview.get_by_role("button", name="Update")).to_be_visible()

    url = overview.get_by_test_id("deploy-url")
    expect(url).to_have_text(re.compile(r"^http://[a-z0-9-]+\.localhost:\d+/?$"))
    assert_accessible(page, "deploy (live)")
    screenshot(page, "deploy-live")

    with page.expect_popup() as opened:
        overview.get_by_role("link", name="Open the app in a new tab").click()
    app = opened.value
    expect(app.get_by_role("heading", name="Fresh bread every morning")).to_be_visible()

    overview.get_by_role("button", name="Stop").click()
    expect(overview.get_by_test_id("deploy-state")).to_have_text("Stopped")
    expect(page.get_by_text("App stopped", exact=True)).to_be_visible()
    app.reload()
    expect(app.get_by_text("Bad Gateway")).to_be_visible()

    overview.get_by_role("button", name="Start").click()
    expect(overview.get_by_test_id("deploy-state")).to_have_text("Live")
    app.reload()
    expect(app.get_by_role("heading", name="Fresh bread every morning")).to_be_visible()

    # A custom domain needs the Pro plan; with it, the DNS record to create is shown.
    db.execute("UPDATE organizations SET subscription_tier = 'free' WHERE id = %s", (org,))
    domain = page.get_by_role("region", name="Custom domain")
    domain.get_by_label("Domain").fill("shop.bakery.example")
    domain.get_by_role("button", name="Save domain").click()
    expect(domain.get_by_role("alert")).to_have_text(re.compile("need the Pro plan"))
    db.execute("UPDATE organizations SET subscription_tier = 'pro' WHERE id = %s", (org,))
    domain.get_by_role("button", name="Save domain").click()
    expect(domain.get_by_role("link", name="shop.bakery.example")).to_be_visible()
    record = domain.get_by_role("table")
    expect(record.get_by_role("row", name=re.compile("^Type"))).to_contain_text("CNAME")
    expect(record.get_by_role("row", name=re.compile("^Name"))).to_contain_text("shop.bakery.example")
    app_host = re.sub(r"^http://|:\d+/?$", "", url.inner_text())
    expect(record.get_by_role("row", name=re.compile("^Value"))).to_contain_text(app_host)
    expect(domain.get_by_role("button", name="Copy record value")).to_be_visible()
    assert_accessible(page, "deploy (custom domain)")

    # A second version goes out as an update, then the first is rolled back to.
    httpx.put(
        f"{web}/api/projects/{project['id']}/files/index.html",
        json={"content": "<!doctype html><html lang='en'><title>Bakery</title><h1>Now with cakes</h1></html>"},
        headers=owner.headers,
    ).raise_for_status()
    overview.get_by_role("button", name="Update").click()
    expect(page.get_by_role("region", name=re.compile("^Update of v"))).to_be_visible()
    expect(step(page, "Go live")).to_contain_text("done", timeout=DEPLOYED_MS)
    expect(deployments.get_by_role("listitem")).to_have_count(2)
    app.reload()
    expect(app.get_by_role("heading", name="Now with cakes")).to_be_visible()

    first = deployments.get_by_role("listitem").nth(1)
    first.get_by_role("button", name="Roll back to this").click()
    confirm = page.get_by_role("dialog", name="Roll back to this deployment?")
    expect(confirm).to_contain_text("replaces what runs now")
    confirm.get_by_role("button", name="Roll back").click()
    expect(page.get_by_role("region", name=re.compile("^Rollback of v"))).to_be_visible()
    expect(step(page, "Go live")).to_contain_text("done", timeout=DEPLOYED_MS)
    expect(deployments.get_by_role("listitem")).to_have_count(3)
    expect(deployments.get_by_role("listitem").first).to_contain_text("Rollback")
    app.reload()
    expect(app.get_by_role("heading", name="Fresh bread every morning")).to_be_visible()

    deployments.scroll_into_view_if_needed()
    screenshot(page, "deploy-history")

    # Choosing a past deployment shows its own timeline.
    deployments.get_by_role("listitem").nth(1).get_by_role("button").first.click()
    expect(page.get_by_role("region", name=re.compile("^Update of v"))).to_be_visible()

    overview.get_by_role("button", name="Destroy").click()
    destroy = page.get_by_role("dialog", name="Destroy the deployed app?")
    expect(destroy).to_contain_text("deployment history stay")
    destroy.get_by_role("button", name="Destroy app").click()
    expect(overview.get_by_test_id("deploy-state")).to_have_text("Not deployed")
    expect(overview.get_by_role("button", name="Deploy", exact=True)).to_be_visible()
    expect(deployments.get_by_role("listitem")).to_have_count(3)
    app.reload()
    expect(app.get_by_text("404 page not found")).to_be_visible()


def test_a_retried_step_and_a_failed_build_show_in_the_timeline_and_a_viewer_only_looks(
    page: Page, browser: Any, db: psycopg.Connection[Any], stack: LocalStack, web: str
) -> None:
    owner = make_user(db, full_name="Dana Deployer")
    org = make_organization(db, owner, "Acme")
    project = site_project(web, owner, org, "Fresh bread every morning")
    assert stack.easypanel is not None
    panel = stack.easypanel.emulator
    panel.faults.fail_next("services.app.updateEnv", status=503, body="<html>502 Bad Gateway</html>")
    panel.faults.fail_next_build("npm ERR! the build broke")

    sign_in(page, owner.email)
    page.goto(f"/projects/{project['id']}/deploy")
    overview = page.get_by_role("region", name="Deployment", exact=True)
    overview.get_by_role("button", name="Deploy", exact=True).click()
    expect(overview.get_by_test_id("deploy-state")).to_have_text("Failed", timeout=DEPLOYED_MS)
    expect(page.get_by_role("alert").filter(has_text=FAILED_MESSAGE)).to_have_text(FAILED_MESSAGE)
    expect(step(page, "Environment variables")).to_contain_text("2 attempts")
    expect(step(page, "Build")).to_contain_text("failed")
    expect(step(page, "Health check")).to_have_count(0)
    # The build log opens by itself on a failure.
    expect(page.get_by_label("Build log")).to_contain_text("npm ERR! the build broke")
    assert_accessible(page, "deploy (failed)")
    page.get_by_label("Build log").scroll_into_view_if_needed()
    screenshot(page, "deploy-failed")

    # A member without the deploy permission sees the same, and nothing to act with.
    viewer = make_user(db, full_name="Vic Viewer")
    add_member(db, org, viewer, "member", ["view", "edit"])
    viewer_context = browser.new_context(base_url=web, viewport={"width": 1280, "height": 800})
    try:
        looker = viewer_context.new_page()
        sign_in(looker, viewer.email)
        looker.goto(f"/projects/{project['id']}/deploy")
        expect(looker.get_by_test_id("deploy-state")).to_have_text("Failed")
        expect(looker.get_by_role("list", name="Deployments")).to_contain_text("Failed")
        expect(looker.get_by_role("alert").filter(has_text=FAILED_MESSAGE)).to_be_visible()
        expect(looker.get_by_text("deploying it needs the deploy permission")).to_be_visible()
        expect(looker.get_by_role("button", name="Deploy", exact=True)).to_have_count(0)
        expect(looker.get_by_role("button", name="Update")).to_have_count(0)
        expect(looker.get_by_role("button", name="Destroy")).to_have_count(0)
        expect(looker.get_by_role("button", name="Save domain")).to_have_count(0)
    finally:
        viewer_context.close()
