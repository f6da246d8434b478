"""What a person does in the web app, in a real browser, asserted by what they see."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from devstack.stack import LocalStack
from tests.support.fake_providers import DEFAULT_API_KEY, FakeProviders, Reply
from tests.support.identity import PASSWORD, make_organization, make_user
from tests.web.conftest import AXE, SCREENSHOTS

# The first chunk opens the file (the worker stores a stream's first text at once), then the fake
# holds the stream until the test has seen it.
ANSWER = [
    'Here is an about page.\n\n<mm-write path="about.html" description="About page">\n<h1>About us</h1>\n',
    "<p>We build things.</p>\n</mm-write>\n",
    "<mm-chat-summary>Add an about page</mm-chat-summary>",
]


def mail_link(web: str, to: str, path: str) -> str:
    for message in httpx.get(f"{web}/dev/mail.json").json():
        if message["to"] == to and path in message["text"]:
            match = re.search(re.escape(path) + r"\?token=[\w-]+", message["text"])
            assert match, message["text"]
            return match.group(0)
    raise AssertionError(f"no e-mail to {to} with {path}")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (375, 812)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def assert_accessible(page: Page, screen: str) -> None:
    """axe-core (bundled from npm) finds no serious or critical violation on the screen."""
    # Served from the app's own origin: the SPA's CSP allows scripts from 'self' only.
    page.route("**/__axe.js", lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"))
    page.add_script_tag(url="/__axe.js")
    result = page.evaluate("async () => await axe.run(document, { resultTypes: ['violations'] })")
    serious = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['html'][:120]})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{screen}: {serious}"


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server


@pytest.fixture
def local_model(db: psycopg.Connection[Any], fake: FakeProviders) -> uuid.UUID:
    """A provider and model the catalog offers, answered by the fake provider server."""
    provider = db.execute(
        "INSERT INTO ai_providers (slug, name, kind, api_base_url) VALUES ('local', 'Local', 'openai_compatible', %s)"
        " RETURNING id",
        (fake.base_url("openai_compatible"),),
    ).fetchone()
    assert provider is not None
    db.execute(
        "INSERT INTO ai_models (provider_id, display_name, api_name, context_window, max_output_tokens)"
        " VALUES (%s, 'Local coder', 'coder', 32000, 4000)",
        (provider[0],),
    )
    return provider[0]  # type: ignore[no-any-return]


def run_worker(stack: LocalStack) -> int:
    return sum(poller.poll_once() for poller in stack.pollers["GenerationWorkerFunction"])


def test_sign_up_confirm_sign_in_and_stay_signed_in(page: Page, web: str) -> None:
    email = f"ann-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/sign-up")
    assert_accessible(page, "sign up")
    page.get_by_label("Full name").fill("Ann Example")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("short")
    expect(page.get_by_text("At least 10 characters(not met yet)")).to_be_visible()
    page.get_by_label("Password").fill("a-strong-passphrase-2026")
    expect(page.get_by_text("At least 10 characters(met)")).to_be_visible()
    screenshot(page, "sign-up")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    page.goto(mail_link(web, email, "/verify-email"))
    expect(page.get_by_text("Your e-mail address is confirmed")).to_be_visible()
    page.get_by_role("link", name="Sign in").click()
    assert_accessible(page, "sign in")
    screenshot(page, "sign-in")
    sign_in(page, email, "a-strong-passphrase-2026")
    expect(page.get_by_role("button", name=re.compile("Organization: Ann Example's workspace"))).to_be_visible()
    expect(page.get_by_text("No projects yet")).to_be_visible()
    assert_accessible(page, "dashboard (empty)")

    # The access token lives in memory only; a reload signs in again through the refresh cookie.
    page.reload()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_build_by_chatting_approve_see_the_version_and_undo(
    page: Page, db: psycopg.Connection[Any], stack: LocalStack, fake: FakeProviders, local_model: uuid.UUID
) -> None:
    owner = make_user(db, full_name="Olivia Owner")
    make_organization(db, owner, "Acme")
    sign_in(page, owner.email)

    # Their own key for the provider: saved, then only ever shown masked.
    page.goto("/account")
    page.get_by_label("Your Local key").fill(DEFAULT_API_KEY)
    local = page.get_by_role("listitem").filter(has_text="Local")
    local.get_by_role("button", name="Save").click()
    expect(local.get_by_test_id("masked-key")).to_contain_text(DEFAULT_API_KEY[-4:])
    expect(page.get_by_text(DEFAULT_API_KEY, exact=True)).to_have_count(0)
    assert DEFAULT_API_KEY not in page.content()
    assert_accessible(page, "account")
    screenshot(page, "account")

    page.goto("/")
    page.get_by_role("button", name="New project").click()
    page.get_by_label("Name").fill("Bakery site")
    page.get_by_label("Blank").check()
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Bakery site")).to_be_visible()
    page.get_by_role("button", name="Start a chat").click()

    fake.script.chunks = ANSWER
    fake.script.replies = [Reply(hold_after=1)]
    page.get_by_label("Message").fill("add an about page")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("user-message")).to_have_text("add an about page")

    worker = threading.Thread(target=run_worker, args=(stack,))
    worker.start()
    try:
        # The answer streams: the file being written shows as a card before the answer ends.
        expect(page.get_by_test_id("streaming-answer")).to_contain_text("Writing about.html…")
        assert_accessible(page, "workspace (streaming)")
        screenshot(page, "workspace-streaming")
    finally:
        fake.release.set()
        worker.join(timeout=60)

    proposal = page.get_by_test_id("proposal")
    expect(proposal).to_contain_text("Waiting for approval")
    expect(proposal).to_contain_text("about.html")
    proposal.get_by_role("button", name="Approve").click()
    expect(proposal).to_contain_text("Applied")

    tree = page.get_by_role("tree", name="Files")
    expect(tree.get_by_role("button", name="about.html")).to_be_visible()
    tree.get_by_role("button", name="about.html").click()
    expect(page.get_by_test_id("open-file")).to_have_text("about.html")
    expect(page.locator(".monaco-editor").first).to_contain_text("About us")
    assert_accessible(page, "workspace (code)")
    screenshot(page, "workspace-code")

    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_label("Slug")).to_have_value(re.compile("bakery-site"))
    assert_accessible(page, "project settings")
    screenshot(page, "project-settings")

    page.get_by_role("link", name="Versions").click()
    versions = page.get_by_role("list", name="Versions")
    expect(versions.get_by_role("button").first).to_contain_text("AI")
    versions.get_by_role("button").first.click()
    expect(page.get_by_role("list", name="Changed files")).to_contain_text("about.html")
    expect(page.get_by_test_id("version-diff")).to_contain_text("About us")
    assert_accessible(page, "versions")
    screenshot(page, "versions")

    page.get_by_role("link", name="Code").click()
    page.get_by_role("button", name="Undo last change").click()
    expect(page.get_by_text("Undone", exact=True)).to_be_visible()
    expect(page.get_by_role("tree", name="Files").get_by_role("button", name="about.html")).to_have_count(0)


def test_a_stale_save_in_a_second_tab_gets_the_conflict_dialog(
    context: BrowserContext, db: psycopg.Connection[Any], web: str
) -> None:
    owner = make_user(db)
    org = make_organization(db, owner, "Acme")
    project = httpx.post(
        f"{web}/api/projects",
        json={"organizationId": str(org), "name": "Notes", "template": "blank"},
        headers=owner.headers,
    ).json()["project"]

    first = context.new_page()
    sign_in(first, owner.email)
    second = context.new_page()
    for tab in (first, second):
        tab.goto(f"/projects/{project['id']}")
        tab.get_by_role("tree", name="Files").get_by_role("button", name="README.md").click()
        expect(tab.locator(".monaco-editor").first).to_be_visible()

    def type_into_editor(tab: Page, text: str) -> None:
        tab.locator(".monaco-editor .view-lines").first.click()
        tab.keyboard.press("Control+Home")
        tab.keyboard.type(text)

    type_into_editor(first, "edited in the first tab\n")
    first.get_by_role("button", name="Save", exact=True).click()
    expect(first.get_by_text("Saved", exact=True)).to_be_visible()

    type_into_editor(second, "edited in the second tab\n")
    second.get_by_role("button", name="Save", exact=True).click()
    dialog = second.get_by_role("dialog", name="Someone changed this file")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("conflict-diff")).to_contain_text("edited in the first tab")
    screenshot(second, "conflict")
    dialog.get_by_role("button", name="Overwrite with mine").click()
    expect(second.get_by_text("Saved", exact=True)).to_be_visible()
    saved = httpx.get(f"{web}/api/projects/{project['id']}/files/README.md", headers=owner.headers).json()
    assert "edited in the second tab" in saved["content"]
    assert "edited in the first tab" not in saved["content"]


def test_an_invited_viewer_joins_and_cannot_approve(
    browser: Any,
    page: Page,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    fake: FakeProviders,
    local_model: uuid.UUID,
    web: str,
) -> None:
    owner = make_user(db, full_name="Olivia Owner")
    org = make_organization(db, owner, "Acme")
    teammate = make_user(db, full_name="Vic Viewer")
    # A pending proposal for the viewer to look at.
    project = httpx.post(
        f"{web}/api/projects",
        json={"organizationId": str(org), "name": "Shop", "template": "blank"},
        headers=owner.headers,
    ).json()["project"]
    httpx.put(
        f"{web}/api/users/me/api-keys/{local_model}", json={"apiKey": DEFAULT_API_KEY}, headers=owner.headers
    ).raise_for_status()
    chat = httpx.post(f"{web}/api/projects/{project['id']}/chats", json={}, headers=owner.headers).json()["chat"]
    fake.script.chunks = ANSWER
    httpx.post(f"{web}/api/chats/{chat['id']}/messages", json={"content": "add an about page"}, headers=owner.headers)
    assert run_worker(stack) == 1

    sign_in(page, owner.email)
    page.goto("/organization")
    page.get_by_role("button", name="Invite").click()
    invite = page.get_by_role("dialog", name="Invite someone")
    invite.get_by_label("E-mail").fill(teammate.email)
    invite.get_by_label("Role").select_option("viewer")
    invite.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("region", name="Pending invitations")).to_contain_text(teammate.email)
    assert_accessible(page, "organization")
    screenshot(page, "organization")

    viewer_context = browser.new_context(base_url=web, viewport={"width": 1280, "height": 800})
    viewer = viewer_context.new_page()
    viewer.goto(mail_link(web, teammate.email, "/invitations/accept"))
    viewer.get_by_role("link", name="Sign in to accept").click()
    viewer.get_by_label("E-mail").fill(teammate.email)
    viewer.get_by_label("Password").fill(PASSWORD)
    viewer.get_by_role("button", name="Sign in").click()
    viewer.get_by_role("button", name="Accept invitation").click()
    expect(viewer.get_by_role("button", name=re.compile("Organization: Acme"))).to_be_visible()
    viewer.get_by_role("list", name="Projects").get_by_role("link", name=re.compile("Shop")).click()
    expect(viewer.get_by_text("Read only")).to_be_visible()
    proposal = viewer.get_by_test_id("proposal")
    expect(proposal).to_contain_text("Waiting for approval")
    expect(proposal.get_by_role("button", name="Approve")).to_have_count(0)
    expect(viewer.get_by_label("Message")).to_have_count(0)
    viewer_context.close()


def test_search_finds_a_project_beyond_the_first_page(page: Page, db: psycopg.Connection[Any], web: str) -> None:
    owner = make_user(db)
    org = make_organization(db, owner, "Acme")
    # 30 projects: more than the dashboard's first page of 24, the oldest one the one searched.
    for name in ["Lighthouse tracker"] + [f"Shop {i}" for i in range(29)]:
        httpx.post(
            f"{web}/api/projects",
            json={"organizationId": str(org), "name": name, "template": "blank"},
            headers=owner.headers,
        ).raise_for_status()
    sign_in(page, owner.email)
    grid = page.get_by_role("list", name="Projects")
    expect(grid.get_by_role("link", name=re.compile("Shop 28"))).to_be_visible()
    expect(grid.get_by_role("link", name=re.compile("Lighthouse"))).to_have_count(0)
    expect(page.get_by_role("complementary", name="Recent activity")).to_contain_text("created a project")
    assert_accessible(page, "dashboard")
    screenshot(page, "dashboard")

    page.get_by_label("Search projects").fill("lighthouse")
    expect(grid.get_by_role("link", name=re.compile("Lighthouse tracker"))).to_be_visible()
    expect(grid.get_by_role("link")).to_have_count(1)
    page.get_by_label("Search projects").fill("nothing like this")
    expect(page.get_by_text("No project matches your search")).to_be_visible()


def test_signing_out_another_device_ends_its_session(
    browser: Any, page: Page, db: psycopg.Connection[Any], web: str
) -> None:
    person = make_user(db, full_name="Sam Sessions")
    make_organization(db, person, "Acme")
    laptop = browser.new_context(base_url=web, viewport={"width": 1280, "height": 800})
    other = laptop.new_page()
    sign_in(other, person.email)
    sign_in(page, person.email)

    page.goto("/account")
    sessions = page.get_by_role("list", name="Sessions")
    # The fixture's own API session, the laptop and this browser.
    this_device = sessions.get_by_role("listitem").filter(has_text="This device")
    expect(this_device).to_have_count(1)
    expect(this_device.get_by_role("button", name="Sign out")).to_have_count(0)
    others = sessions.get_by_role("listitem").filter(has_not_text="This device")
    expect(others).to_have_count(2)
    assert_accessible(page, "account sessions")
    for remaining in (1, 0):
        others.first.get_by_role("button", name="Sign out").click()
        expect(others).to_have_count(remaining)

    # The laptop's next request is refused and its refresh cookie no longer works.
    other.reload()
    expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
    laptop.close()

    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/account")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
