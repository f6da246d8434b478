"""The admin area's people screens in a real browser against the local stack: an administrator finds a user by
part of their e-mail, bans them (the banned user, signed in elsewhere, is sent to sign-in), unbans them and
makes someone else a co-admin; then opens an organization, sets it to Enterprise by hand and suspends it while
its owner, in another browser, is refused their next change."""

from __future__ import annotations

import re
import uuid
from typing import Any

import psycopg
from playwright.sync_api import Browser, Page, expect

from tests.support.identity import make_organization, make_user
from tests.web.test_journeys import assert_accessible, screenshot, sign_in


def _open_admin_screen(page: Page, name: str) -> None:
    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Administration").click()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()


def test_an_admin_finds_bans_and_unbans_a_user_and_makes_another_a_co_admin(
    browser: Browser, page: Page, db: psycopg.Connection[Any], web: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    admin = make_user(db, f"ada.{tag}@example.com", role="admin", full_name="Ada Admin")
    make_organization(db, admin, "Platform team")
    bruno = make_user(db, f"bruno.{tag}@example.com", full_name=f"Bruno {tag}")
    make_organization(db, bruno, f"Bruno's shop {tag}")
    colette = make_user(db, f"colette.{tag}@example.com", full_name=f"Colette {tag}")

    other = browser.new_context(base_url=web, viewport={"width": 1280, "height": 800})
    try:
        visitor = other.new_page()
        sign_in(visitor, bruno.email)

        sign_in(page, admin.email)
        _open_admin_screen(page, "Users")
        expect(page).to_have_url(re.compile(r"/admin/users$"))
        expect(page.get_by_role("region", name="Users found").get_by_role("row").first).to_be_visible()
        assert_accessible(page, "admin users")
        screenshot(page, "admin-users")

        # Part of the e-mail finds the one user (the search reaches the URL: it can be linked to).
        page.get_by_label("Search users").fill(f"bruno.{tag}")
        expect(page).to_have_url(re.compile(rf"[?&]q=bruno\.{tag}"))
        found = page.get_by_role("region", name="Users found")
        expect(found.get_by_role("row")).to_have_count(2)  # the header and Bruno
        expect(found.get_by_role("row").nth(1)).to_contain_text(bruno.email)
        found.get_by_role("link", name=f"Bruno {tag}").click()
        expect(page).to_have_url(re.compile(rf"/admin/users/{bruno.id}$"))
        expect(page.get_by_role("heading", name=f"Bruno {tag}")).to_be_visible()
        memberships = page.get_by_role("region", name="Memberships")
        expect(memberships.get_by_role("link", name=f"Bruno's shop {tag}")).to_be_visible()
        expect(memberships).to_contain_text("Owner")
        assert_accessible(page, "admin user detail")
        screenshot(page, "admin-user")

        # A ban, with its reason, after a confirmation.
        page.get_by_role("region", name="Access").get_by_role("button", name="Ban").click()
        dialog = page.get_by_role("dialog", name=f"Ban Bruno {tag}?")
        dialog.get_by_label("Reason").fill("Sends spam from the generated apps.")
        assert_accessible(page, "ban dialog")
        dialog.get_by_role("button", name="Ban").click()
        expect(dialog).to_have_count(0)
        account = page.get_by_role("region", name="Account")
        expect(account).to_contain_text("Banned")
        expect(account).to_contain_text("Reason: Sends spam from the generated apps.")

        # The banned user's next screen calls the API: their sign-in has ended, so they are sent to sign in.
        visitor.get_by_role("navigation", name="Main").get_by_role("link", name="Organization").click()
        expect(visitor).to_have_url(re.compile(r"/sign-in"))
        expect(visitor.get_by_role("button", name="Sign in")).to_be_visible()

        page.get_by_role("region", name="Access").get_by_role("button", name="Unban").click()
        page.get_by_role("dialog", name=f"Unban Bruno {tag}?").get_by_role("button", name="Unban").click()
        expect(account.get_by_text("Banned")).to_have_count(0)
        expect(account).to_contain_text("Active")
        sign_in(visitor, bruno.email)  # unbanned: they may sign in again

        # Signing them out everywhere says how many sign-ins ended (the one just made).
        page.reload()
        expect(account).to_contain_text(re.compile(r"Active sessions\s*1"))
        page.get_by_role("region", name="Access").get_by_role("button", name="Sign out everywhere").click()
        signing_out = page.get_by_role("dialog", name="Sign out everywhere?")
        signing_out.get_by_role("button", name="Sign out everywhere").click()
        expect(page.get_by_role("region", name="Access").get_by_role("status")).to_have_text("1 session was ended.")
        expect(account).to_contain_text(re.compile(r"Active sessions\s*0"))
        visitor.get_by_role("navigation", name="Main").get_by_role("link", name="Organization").click()
        expect(visitor).to_have_url(re.compile(r"/sign-in"))

        # Another user becomes a co-admin; the list, filtered by role, shows them.
        page.get_by_role("link", name="All users").click()
        expect(page).to_have_url(re.compile(rf"q=bruno\.{tag}"))  # back to the search it came from
        page.get_by_label("Search users").fill(f"colette.{tag}")
        found.get_by_role("link", name=f"Colette {tag}").click()
        role = page.get_by_role("region", name="Global role")
        role.get_by_label("Role").select_option("co_admin")
        role.get_by_role("button", name="Change role").click()
        page.get_by_role("dialog", name="Change the global role?").get_by_role("button", name="Change role").click()
        expect(account).to_contain_text("Co-admin")
        page.get_by_role("link", name="All users").click()
        page.get_by_label("Role").select_option("co_admin")
        expect(found.get_by_role("link", name=f"Colette {tag}")).to_be_visible()
        expect(found.get_by_role("link", name=f"Bruno {tag}")).to_have_count(0)
        assert db.execute("SELECT role FROM users WHERE id = %s", (colette.id,)).fetchone() == ("co_admin",)

        # The API refuses an admin's giving up their own role: the screen says why.
        page.goto(f"/admin/users/{admin.id}")
        role.get_by_label("Role").select_option("user")
        role.get_by_role("button", name="Change role").click()
        dialog = page.get_by_role("dialog", name="Change the global role?")
        dialog.get_by_role("button", name="Change role").click()
        expect(dialog.get_by_role("alert")).to_have_text("You cannot ban yourself or give up your own admin role.")
    finally:
        other.close()


def test_an_admin_sets_an_organization_to_enterprise_and_suspends_it(
    browser: Browser, page: Page, db: psycopg.Connection[Any], web: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    admin = make_user(db, f"ada.{tag}@example.com", role="admin", full_name="Ada Admin")
    make_organization(db, admin, "Platform team")
    owner = make_user(db, f"olga.{tag}@example.com", full_name="Olga Owner")
    name = f"Globex {tag}"
    organization = make_organization(db, owner, name, tier="free")

    other = browser.new_context(base_url=web, viewport={"width": 1280, "height": 800})
    try:
        visitor = other.new_page()
        sign_in(visitor, owner.email)
        visitor.get_by_role("navigation", name="Main").get_by_role("link", name="Organization").click()
        expect(visitor.get_by_role("heading", name=name)).to_be_visible()

        sign_in(page, admin.email)
        _open_admin_screen(page, "Organizations")
        page.get_by_label("Search organizations").fill(name)
        found = page.get_by_role("region", name="Organizations found")
        expect(found.get_by_role("row")).to_have_count(2)
        row = found.get_by_role("row").nth(1)
        expect(row).to_contain_text("Free")
        assert_accessible(page, "admin organizations")
        screenshot(page, "admin-organizations")

        found.get_by_role("link", name=name).click()
        expect(page).to_have_url(re.compile(rf"/admin/organizations/{organization}$"))
        expect(page.get_by_role("heading", name=name)).to_be_visible()
        expect(page.get_by_role("region", name="Overview").get_by_role("link", name="Olga Owner")).to_be_visible()
        assert_accessible(page, "admin organization detail")
        screenshot(page, "admin-organization")

        tier = page.get_by_role("region", name="Tier")
        tier.get_by_label("Tier").select_option("enterprise")
        tier.get_by_role("button", name="Set tier").click()
        page.get_by_role("dialog", name=f"Set {name} to Enterprise?").get_by_role("button", name="Set tier").click()
        expect(page.get_by_role("region", name="Subscription")).to_contain_text("Enterprise")
        page.get_by_role("link", name="All organizations").click()
        expect(found.get_by_role("row")).to_have_count(2)
        expect(found.get_by_role("row").nth(1)).to_contain_text("Enterprise")

        found.get_by_role("link", name=name).click()
        suspension = page.get_by_role("region", name="Suspension")
        suspension.get_by_role("button", name="Suspend").click()
        dialog = page.get_by_role("dialog", name=f"Suspend {name}?")
        dialog.get_by_label("Reason").fill("Unpaid invoices since March.")
        dialog.get_by_role("button", name="Suspend").click()
        expect(suspension).to_contain_text("Reason: Unpaid invoices since March.")
        expect(suspension.get_by_role("button", name="Lift the suspension")).to_be_visible()

        # The owner may still look, but their next change is refused with the reason given in the app.
        settings = visitor.get_by_role("region", name="Settings")
        settings.get_by_label("Name").fill(f"{name} renamed")
        settings.get_by_role("button", name="Save").click()
        expect(settings.get_by_role("alert")).to_contain_text("This organization is suspended")
        # Reloaded, the app says so on every page before anything is tried.
        visitor.reload()
        expect(visitor.get_by_test_id("organization-suspended")).to_contain_text(f"{name} is suspended")

        suspension.get_by_role("button", name="Lift the suspension").click()
        lift = page.get_by_role("dialog", name=f"Lift {name}'s suspension?")
        lift.get_by_role("button", name="Lift the suspension").click()
        expect(suspension.get_by_role("button", name="Suspend")).to_be_visible()
        visitor.reload()
        expect(visitor.get_by_test_id("organization-suspended")).to_have_count(0)
        settings.get_by_label("Name").fill(f"{name} renamed")
        settings.get_by_role("button", name="Save").click()
        expect(visitor.get_by_text("Organization saved", exact=True)).to_be_visible()
    finally:
        other.close()
