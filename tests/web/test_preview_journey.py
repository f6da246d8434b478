"""The workspace's Preview pane in a real browser: a version's build framed (and kept on screen while the next one
builds), its type errors, the errors the running app reports, a failed build's status and log, and "Fix with AI".

The stack runs no background workers here: the test runs the preview builds (real npm, vite and tsc; the session's
first build installs from the registry) and the generation worker itself, while the page waits.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from devstack.stack import LocalStack
from tests.support.fake_providers import DEFAULT_API_KEY, FakeProviders, drain
from tests.support.identity import Account, add_member, make_organization, make_user
from tests.support.workers import run_until_empty
from tests.web.test_journeys import assert_accessible, fake, local_model, run_worker, screenshot, sign_in

__all__ = ["fake", "local_model"]  # fixtures, used by name

# A build: npm (the first one), vite and tsc.
BUILD_MS = 90_000

NEW_APP = """import { useState } from "react";

export default function App() {
  const [count, setCount] = useState(0);
  return (
    <main className="p-10">
      <h1 id="welcome-heading" className="text-4xl font-bold">Fresh bread daily</h1>
      <button type="button" onClick={() => setCount((current) => current + 1)}>
        Click me
      </button>
      <p>
        You have clicked the button {count} {count === 1 ? "time" : "times"}.
      </p>
      <button
        type="button"
        onClick={() => {
          throw new Error("The oven is on fire");
        }}
      >
        Light the oven
      </button>
    </main>
  );
}
"""

# The new heading, a button that throws, and a file that does not type-check (a preview is built anyway).
ANSWER = [
    'A bakery home page.\n\n<mm-write path="src/App.tsx" description="Bakery home page">\n',
    NEW_APP,
    "</mm-write>\n",
    '<mm-write path="src/loaves.ts" description="How many loaves">\n',
    'export const loaves: number = "twelve";\n</mm-write>\n',
    "<mm-chat-summary>Bakery home page</mm-chat-summary>",
]


@pytest.fixture(autouse=True)
def _no_earlier_builds(stack: LocalStack) -> None:
    # Every version earlier tests made queued a build; their rows are gone, their messages are not.
    drain(stack, "PreviewBuildsQueue")


def run_builds(stack: LocalStack) -> None:
    """The preview worker takes every queued build (one per invocation, as in AWS)."""
    run_until_empty(stack, "PreviewBuildFunction")


def use_own_key(web: str, owner: Account, model: uuid.UUID) -> None:
    httpx.put(
        f"{web}/api/users/me/api-keys/{model}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers
    ).raise_for_status()


def test_the_preview_follows_approved_versions_and_lists_what_went_wrong(
    page: Page, db: psycopg.Connection[Any], stack: LocalStack, fake: FakeProviders, local_model: uuid.UUID, web: str
) -> None:
    owner = make_user(db, full_name="Olivia Owner")
    make_organization(db, owner, "Acme")
    use_own_key(web, owner, local_model)
    sign_in(page, owner.email)

    page.get_by_role("button", name="New project").click()
    page.get_by_label("Name").fill("Bakery")
    page.get_by_label(re.compile(r"React \+ Vite")).check()
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Bakery")).to_be_visible()

    page.get_by_role("link", name="Preview").click()
    status = page.get_by_test_id("preview-status")
    expect(status).to_contain_text("Building version 1")
    run_builds(stack)
    site = page.frame_locator('iframe[title^="Preview"]')
    expect(site.get_by_role("heading", name="Welcome to your new app")).to_be_visible(timeout=BUILD_MS)
    expect(status).to_contain_text("Version 1 is ready.")
    expect(page.get_by_label("Version to preview")).to_have_value(re.compile(".+"))

    # Asked in the chat beside the pane, approved: the pane moves on to the new version by itself.
    page.get_by_role("button", name="Start a chat").click()
    fake.script.chunks = ANSWER
    page.get_by_label("Message").fill("make it a bakery")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("user-message")).to_have_text("make it a bakery")
    assert run_worker(stack) == 1
    proposal = page.get_by_test_id("proposal")
    proposal.get_by_role("button", name="Approve").click()
    expect(proposal).to_contain_text("Applied")

    # While version 2 builds, version 1's site stays on screen.
    expect(status).to_contain_text("Building version 2")
    expect(page.get_by_test_id("preview-shown")).to_contain_text("Showing version 1")
    expect(site.get_by_role("heading", name="Welcome to your new app")).to_be_visible()
    run_builds(stack)
    expect(site.get_by_role("heading", name="Fresh bread daily")).to_be_visible(timeout=BUILD_MS)
    expect(page.locator('iframe[title="Preview of version 2"]')).to_have_count(1)
    site.get_by_role("button", name="Click me").click()
    expect(site.get_by_text("You have clicked the button 1 time.")).to_be_visible()

    # The type error is listed though the site runs; so is the error the app throws.
    problems = page.get_by_role("list", name="Problems")
    expect(problems).to_contain_text("src/loaves.ts:1")
    expect(problems).to_contain_text("TS2322")
    site.get_by_role("button", name="Light the oven").click()
    expect(problems).to_contain_text("The oven is on fire")

    frame = page.locator('iframe[title^="Preview"]')
    page.get_by_role("button", name="Phone, 375 pixels wide").click()
    expect(frame).to_have_css("width", "375px")
    assert_accessible(page, "preview")
    screenshot(page, "preview")

    # Reloading starts the app (and its list of runtime errors) over.
    page.get_by_role("button", name="Reload").click()
    expect(problems).not_to_contain_text("The oven is on fire")
    expect(site.get_by_text("You have clicked the button 0 times.")).to_be_visible()
    expect(page.get_by_role("link", name="Open in new tab")).to_have_attribute("target", "_blank")


def test_a_failed_build_shows_its_log_and_fix_with_ai_asks_in_the_chat(
    browser: Browser,
    page: Page,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    fake: FakeProviders,
    local_model: uuid.UUID,
    web: str,
) -> None:
    owner = make_user(db, full_name="Olivia Owner")
    org = make_organization(db, owner, "Acme")
    use_own_key(web, owner, local_model)
    project = httpx.post(
        f"{web}/api/projects",
        json={"organizationId": str(org), "name": "Broken bakery", "template": "react-vite-ts-tailwind"},
        headers=owner.headers,
    ).json()["project"]
    httpx.put(
        f"{web}/api/projects/{project['id']}/files/src/main.tsx",
        json={"content": "import { broken from './nowhere'\n"},
        headers=owner.headers,
    ).raise_for_status()
    httpx.post(
        f"{web}/api/projects/{project['id']}/versions", json={"message": "broken"}, headers=owner.headers
    ).raise_for_status()
    run_builds(stack)

    sign_in(page, owner.email)
    page.goto(f"/projects/{project['id']}/preview")
    status = page.get_by_test_id("preview-status")
    expect(status).to_contain_text("Version 2 failed to build.")
    expect(page.get_by_role("button", name="Build this version")).to_be_visible()
    page.get_by_role("button", name="Log").click()
    expect(page.get_by_label("Build log")).to_contain_text("src/main.tsx")
    expect(page.get_by_role("list", name="Problems")).to_contain_text("src/main.tsx")
    assert_accessible(page, "preview (failed build)")
    screenshot(page, "preview-failed")

    page.get_by_role("button", name="Fix with AI").click()
    # The project had no chat: one is started, and the chat beside the pane shows the request.
    expect(page.get_by_test_id("user-message")).to_contain_text("src/main.tsx")
    expect(page.get_by_test_id("user-message")).to_contain_text("version 2")
    # The answer goes through the usual flow (here: the fake's plain text answer, nothing to approve).
    assert run_worker(stack) == 1
    expect(page.get_by_test_id("assistant-message")).to_be_visible()

    # Narrower, the chat is a tab of its own: after sending, the pane goes there.
    page.set_viewport_size({"width": 600, "height": 800})
    page.get_by_role("button", name="Fix with AI").click()
    expect(page).to_have_url(re.compile(r"/chat$"))
    expect(page.get_by_test_id("user-message")).to_have_count(2)
    assert run_worker(stack) == 1
    page.set_viewport_size({"width": 1280, "height": 800})

    # An older version, from the Versions tab: the newer one was built instead.
    page.get_by_role("link", name="Versions").click()
    page.get_by_role("list", name="Versions").get_by_role("button", name=re.compile("v1")).click()
    page.get_by_role("link", name="Preview this version").click()
    expect(page).to_have_url(re.compile(r"/preview\?version="))
    expect(status).to_contain_text("Version 1 was not built.")
    expect(page.get_by_label("Version to preview")).to_have_value(project["currentVersionId"])

    # A viewer sees the same, and can neither build nor ask the AI.
    viewer = make_user(db, full_name="Vic Viewer")
    add_member(db, org, viewer, "viewer", [])
    viewer_context = browser.new_context(base_url=web, viewport={"width": 1280, "height": 800})
    viewer_page = viewer_context.new_page()
    sign_in(viewer_page, viewer.email)
    viewer_page.goto(f"/projects/{project['id']}/preview")
    expect(viewer_page.get_by_test_id("preview-status")).to_contain_text("Version 2 failed to build.")
    expect(viewer_page.get_by_role("button", name="Fix with AI")).to_be_disabled()
    expect(viewer_page.get_by_role("button", name="Build this version")).to_have_count(0)
    viewer_context.close()
