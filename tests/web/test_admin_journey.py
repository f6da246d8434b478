"""The admin area in a real browser against the local stack: an administrator turns maintenance mode on from
Admin → Settings, a member (another browser) gets the maintenance page with the administrator's message while
the administrator keeps working, maintenance ends, and an announcement reaches the member as a banner."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from mm_common import system_settings
from tests.support.identity import make_organization, make_user
from tests.web.test_journeys import assert_accessible, screenshot, sign_in

MESSAGE = "Upgrading the database: back by 10:30 UTC."
ANNOUNCEMENT = "New: custom domains on the Pro plan."


@pytest.fixture
def _settings_reset(db: psycopg.Connection[Any]) -> Iterator[None]:
    """No later test runs in maintenance mode, whatever this one left behind: the rows go and the stack's
    settings cache (shared by every handler of the local stack, in this process) forgets them."""
    system_settings.clear_cache()
    yield
    db.execute("DELETE FROM system_settings")
    system_settings.clear_cache()


def test_maintenance_mode_stops_members_not_the_admin_and_the_announcement_reaches_them(
    browser: Browser, page: Page, db: psycopg.Connection[Any], web: str, _settings_reset: None
) -> None:
    admin = make_user(db, role="admin", full_name="Ada Admin")
    make_organization(db, admin, "Platform team")
    member = make_user(db, full_name="Max Member")
    make_organization(db, member, "Acme")

    member_context = browser.new_context(base_url=web, viewport={"width": 1280, "height": 800})
    try:
        visitor = member_context.new_page()
        sign_in(visitor, member.email)
        # The admin area is not offered to a member, and not shown to one who types its address.
        visitor.get_by_role("button", name="Account menu").click()
        expect(visitor.get_by_role("menuitem", name="Account settings")).to_be_visible()
        expect(visitor.get_by_role("menuitem", name="Administration")).to_have_count(0)
        visitor.keyboard.press("Escape")

        sign_in(page, admin.email)
        page.get_by_role("button", name="Account menu").click()
        page.get_by_role("menuitem", name="Administration").click()
        expect(page).to_have_url(re.compile(r"/admin/overview$"))
        page.get_by_role("navigation", name="Administration").get_by_role("link", name="Settings").click()
        expect(page).to_have_url(re.compile(r"/admin/settings$"))
        expect(page.get_by_role("heading", name="System settings")).to_be_visible()
        maintenance = page.get_by_role("region", name="Maintenance mode")
        switch = maintenance.get_by_role("switch", name="Maintenance mode")
        expect(switch).not_to_be_checked()
        signups = page.get_by_role("region", name="Sign-ups")
        expect(signups.get_by_role("radio", name=re.compile("^Open"))).to_be_checked()
        assert_accessible(page, "admin settings")
        screenshot(page, "admin-settings")

        switch.check()
        maintenance.get_by_label("Message").fill(MESSAGE)
        maintenance.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Maintenance mode saved", exact=True)).to_be_visible()
        expect(page.get_by_test_id("maintenance-on")).to_be_visible()

        # The member's next API call (another screen's data) is refused with 503: the maintenance page.
        visitor.get_by_role("navigation", name="Main").get_by_role("link", name="Organization").click()
        expect(visitor.get_by_role("heading", name="Down for maintenance")).to_be_visible()
        expect(visitor.get_by_test_id("maintenance-message")).to_have_text(MESSAGE)
        assert_accessible(visitor, "maintenance page")
        screenshot(visitor, "maintenance")
        # A reload does not get them in either (the platform's status says so before any other call).
        visitor.reload()
        expect(visitor.get_by_test_id("maintenance-message")).to_have_text(MESSAGE)

        # The administrator still works: the dashboard's projects load.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
        expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
        expect(page.get_by_text("No projects yet")).to_be_visible()
        expect(page.get_by_role("heading", name="Down for maintenance")).to_have_count(0)

        # Someone not signed in is told on the sign-in page, before trying, that only administrators get in.
        stranger = browser.new_context(base_url=web)
        try:
            sign_in_page = stranger.new_page()
            sign_in_page.goto("/sign-in")
            expect(sign_in_page.get_by_test_id("auth-notice")).to_contain_text(MESSAGE)
            expect(sign_in_page.get_by_test_id("auth-notice")).to_contain_text("only administrators can sign in")
        finally:
            stranger.close()

        page.get_by_role("button", name="Account menu").click()
        page.get_by_role("menuitem", name="Administration").click()
        page.get_by_role("navigation", name="Administration").get_by_role("link", name="Settings").click()
        maintenance = page.get_by_role("region", name="Maintenance mode")
        expect(maintenance.get_by_label("Message")).to_have_value(MESSAGE)
        maintenance.get_by_role("switch", name="Maintenance mode").uncheck()
        maintenance.get_by_role("button", name="Save").click()
        expect(page.get_by_test_id("maintenance-on")).to_have_count(0)

        # Maintenance is over: the member's reload opens the screen they were on, with its data.
        visitor.reload()
        expect(visitor.get_by_role("heading", name="Acme")).to_be_visible()
        expect(visitor.get_by_role("region", name="Members")).to_contain_text(member.email)
        expect(visitor.get_by_role("heading", name="Down for maintenance")).to_have_count(0)

        announcement = page.get_by_role("region", name="Announcement banner")
        announcement.get_by_label("Announcement text").fill(ANNOUNCEMENT)
        announcement.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Announcement saved", exact=True)).to_be_visible()
        expect(page.get_by_role("region", name="Announcement", exact=True)).to_contain_text(ANNOUNCEMENT)

        visitor.reload()
        banner = visitor.get_by_role("region", name="Announcement", exact=True)
        expect(banner).to_contain_text(ANNOUNCEMENT)
        visitor.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
        expect(banner).to_contain_text(ANNOUNCEMENT)
        assert_accessible(visitor, "dashboard with the announcement")
        screenshot(visitor, "announcement")
        banner.get_by_role("button", name="Dismiss announcement").click()
        expect(banner).to_have_count(0)

        # A member who types the admin area's address gets nothing there.
        visitor.goto("/admin/settings")
        expect(visitor.get_by_role("heading", name="Nothing here")).to_be_visible()
        expect(visitor.get_by_role("heading", name="System settings")).to_have_count(0)
    finally:
        member_context.close()


def test_a_co_admin_changes_the_default_ai_model_but_not_maintenance_mode(
    page: Page, db: psycopg.Connection[Any], web: str, _settings_reset: None
) -> None:
    provider = db.execute(
        "INSERT INTO ai_providers (slug, name, kind, api_base_url)"
        " VALUES ('local', 'Local', 'openai_compatible', 'http://127.0.0.1:9/v1') RETURNING id"
    ).fetchone()
    assert provider is not None
    model = db.execute(
        "INSERT INTO ai_models (provider_id, display_name, api_name) VALUES (%s, 'Local coder', 'coder') RETURNING id",
        (provider[0],),
    ).fetchone()
    assert model is not None
    co_admin = make_user(db, role="co_admin", full_name="Cora Coadmin")
    make_organization(db, co_admin, "Support")

    sign_in(page, co_admin.email)
    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Administration").click()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Settings").click()
    maintenance = page.get_by_role("region", name="Maintenance mode")
    expect(maintenance.get_by_role("switch", name="Maintenance mode")).to_be_disabled()
    expect(maintenance).to_contain_text("Only platform administrators can change this.")
    expect(maintenance.get_by_role("button", name="Save")).to_have_count(0)
    signups = page.get_by_role("region", name="Sign-ups")
    expect(signups.get_by_role("radio", name=re.compile("^Closed"))).to_be_disabled()

    default_model = page.get_by_role("region", name="Default AI model")
    default_model.get_by_label("Default model for new chats").select_option(label="Local coder")
    default_model.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Default AI model saved", exact=True)).to_be_visible()
    page.reload()
    expect(page.get_by_label("Default model for new chats")).to_have_value(str(model[0]))
    row = db.execute("SELECT value FROM system_settings WHERE key = 'default_ai_model_id'").fetchone()
    assert row is not None and row[0] == str(model[0])
