"""Admin → AI catalog and Settings → Plans in a real browser against the local stack: a co-admin adds a model to
a provider and switches another off (adding a provider is not theirs), and an administrator raises the Pro
plan's project limit, which the billing page's plans then show."""

from __future__ import annotations

import re
from typing import Any

import httpx
import psycopg
from playwright.sync_api import Page, expect

from tests.support.identity import make_organization, make_user
from tests.web.test_journeys import assert_accessible, screenshot, sign_in


def open_admin_screen(page: Page, name: str) -> None:
    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Administration").click()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name=name).click()


def test_a_co_admin_adds_a_model_and_switches_one_off_but_adds_no_provider(
    page: Page, db: psycopg.Connection[Any]
) -> None:
    provider = db.execute(
        "INSERT INTO ai_providers (slug, name, kind, api_base_url, env_var_name)"
        " VALUES ('local', 'Local', 'openai_compatible', 'http://127.0.0.1:9/v1', 'OPENAI_API_KEY') RETURNING id"
    ).fetchone()
    assert provider is not None
    db.execute(
        "INSERT INTO ai_models (provider_id, display_name, api_name, context_window)"
        " VALUES (%s, 'Local coder', 'coder', 32000)",
        (provider[0],),
    )
    co_admin = make_user(db, role="co_admin", full_name="Cora Coadmin")
    make_organization(db, co_admin, "Support")

    sign_in(page, co_admin.email)
    open_admin_screen(page, "AI catalog")
    expect(page).to_have_url(re.compile(r"/admin/ai$"))
    expect(page.get_by_role("heading", name="AI catalog")).to_be_visible()
    local = page.get_by_role("region", name="Local")
    expect(local).to_contain_text("OpenAI-compatible")
    # The platform key is named, never shown.
    expect(local).to_contain_text("Read from OPENAI_API_KEY")
    coder = local.get_by_role("table", name="Models of Local").get_by_role("row", name=re.compile("^Local coder"))
    expect(coder).to_contain_text("coder")
    expect(coder).to_contain_text("32,000")
    # Adding a provider (choosing where the platform calls) is the administrators' alone.
    expect(page.get_by_role("button", name="Add a provider")).to_have_count(0)
    expect(page.get_by_text("Only platform administrators add providers.")).to_be_visible()
    assert_accessible(page, "admin AI catalog")
    screenshot(page, "admin-ai-catalog")

    # Nor may a co-admin change where an existing one is called.
    local.get_by_role("button", name="Edit Local", exact=True).click()
    edit = page.get_by_role("dialog", name="Edit Local")
    expect(edit.get_by_label("Base URL")).to_be_disabled()
    expect(edit.get_by_label("Base URL")).to_have_value("http://127.0.0.1:9/v1")
    edit.get_by_role("button", name="Cancel").click()
    expect(edit).to_have_count(0)

    local.get_by_role("button", name="Add a model to Local").click()
    dialog = page.get_by_role("dialog", name="Add a model to Local")
    dialog.get_by_label("Display name").fill("Local reviewer")
    dialog.get_by_label("API name").fill("coder")
    dialog.get_by_label("Context window").fill("lots")
    dialog.get_by_role("button", name="Add model").click()
    # Checked before sending, as the API checks it.
    expect(dialog.get_by_label("Context window")).to_have_attribute("aria-invalid", "true")
    expect(dialog).to_contain_text("A whole number of tokens.")
    dialog.get_by_label("Context window").fill("128000")
    dialog.get_by_label("Input price per million tokens").fill("0.5")
    dialog.get_by_role("button", name="Add model").click()
    # The API's refusal: that provider has a model of that API name already.
    expect(dialog.get_by_role("alert")).to_contain_text("This provider has a model 'coder' already.")
    dialog.get_by_label("API name").fill("reviewer")
    dialog.get_by_role("button", name="Add model").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_text("Local reviewer added", exact=True)).to_be_visible()
    reviewer = local.get_by_role("row", name=re.compile("^Local reviewer"))
    expect(reviewer).to_contain_text("128,000")
    expect(reviewer).to_contain_text("0.5")
    expect(reviewer.get_by_role("switch", name="Local reviewer enabled")).to_be_checked()
    added = db.execute(
        "SELECT context_window, input_price_per_million_tokens::text, is_available"
        " FROM ai_models WHERE api_name = 'reviewer'"
    ).fetchone()
    assert added == (128000, "0.500000", True)

    coder.get_by_role("switch", name="Local coder enabled").uncheck()
    expect(page.get_by_text("Local coder disabled", exact=True)).to_be_visible()
    expect(coder.get_by_role("switch", name="Local coder enabled")).not_to_be_checked()
    page.reload()
    expect(page.get_by_role("switch", name="Local coder enabled")).not_to_be_checked()
    expect(page.get_by_role("switch", name="Local reviewer enabled")).to_be_checked()
    row = db.execute("SELECT is_available FROM ai_models WHERE api_name = 'coder'").fetchone()
    assert row == (False,)


def test_an_admin_raises_the_pro_project_limit_and_the_billing_page_shows_it(
    page: Page, db: psycopg.Connection[Any], web: str
) -> None:
    admin = make_user(db, role="admin", full_name="Ada Admin")
    make_organization(db, admin, "Platform team", tier="free")

    sign_in(page, admin.email)
    open_admin_screen(page, "Settings")
    pro = page.get_by_role("region", name="Plans").get_by_role("form", name="Pro plan")
    projects = pro.get_by_label("Projects")
    expect(projects).to_have_value("10")
    save = pro.get_by_role("button", name="Save")
    expect(save).to_be_disabled()

    # An organization always has at least its owner: the API takes no member limit under 1.
    pro.get_by_label("Members").fill("0")
    save.click()
    expect(pro.get_by_label("Members")).to_have_attribute("aria-invalid", "true")
    expect(pro).to_contain_text("From 1 to 1,000,000, or empty for unlimited.")
    pro.get_by_label("Members").fill("5")
    projects.fill("25")
    save.click()
    expect(page.get_by_text("Pro plan saved", exact=True)).to_be_visible()
    expect(projects).to_have_value("25")
    expect(save).to_be_disabled()

    # What everyone then reads: the billing page's plans (reached inside the app, from the cache the save
    # refreshed) and the API.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Organization").click()
    page.get_by_role("link", name="Billing").click()
    plans = page.get_by_role("list", name="Plans")
    expect(plans.get_by_role("listitem", name="Pro")).to_contain_text("25 projects")
    expect(plans.get_by_role("listitem", name="Pro")).to_contain_text("5 members")
    listed = {plan["tier"]: plan for plan in httpx.get(f"{web}/api/plans").json()["items"]}
    assert listed["pro"]["limits"]["projects"] == 25
    assert listed["free"]["limits"]["projects"] == 1
