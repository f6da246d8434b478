"""The Billing page in a real browser against the local stack: a Free organization hits its project limit,
upgrades through the Stripe emulator's hosted Checkout (its webhooks reach the stack, signed), and cancels
in the emulator's Billing Portal."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from playwright.sync_api import Locator, Page, expect

from devstack.stack import LocalStack
from devstack.stripe import StripeServer
from tests.support.identity import add_member, make_organization, make_user
from tests.web.test_journeys import assert_accessible, screenshot, sign_in

LIMIT_MESSAGE = "Your Free plan allows 1 project"


def emulator(stack: LocalStack, web: str) -> StripeServer:
    """The stack's Stripe emulator, its webhooks aimed where this stack really listens (the browser's origin)."""
    assert stack.stripe is not None, "the web stack runs the Stripe emulator (STRIPE_SECRET_KEY unset)"
    assert stack.stripe.emulator.webhook_url == f"{web}/api/billing/webhook"
    return stack.stripe


def create_project(page: Page, name: str) -> Locator:
    """Opens the New project dialog from the dashboard, names the project and submits it: the dialog."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    start = page.get_by_role("button", name=re.compile("^(New project|Create your first project)$"))
    start.first.click()
    dialog = page.get_by_role("dialog", name="New project")
    # The default template is chosen once the templates have loaded.
    expect(dialog.get_by_role("radio", checked=True)).to_have_count(1)
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Create project").click()
    return dialog


def usage_row(page: Page, label: str) -> Locator:
    rows = page.get_by_role("list", name="Usage").get_by_role("listitem")
    return rows.filter(has=page.get_by_text(label, exact=True))


def test_a_free_owner_hits_the_limit_upgrades_to_pro_then_cancels(
    page: Page, db: psycopg.Connection[Any], stack: LocalStack, web: str
) -> None:
    stripe = emulator(stack, web)
    owner = make_user(db, full_name="Fay Founder")
    org = make_organization(db, owner, "Fay's Bakery", tier="free")

    sign_in(page, owner.email)
    create_project(page, "Storefront")
    expect(page).to_have_url(re.compile(r"/projects/[0-9a-f-]{36}"))

    # The second project is over the Free plan: the server's message, and the way to the plans.
    dialog = create_project(page, "Blog")
    notice = dialog.get_by_role("alert")
    expect(notice).to_contain_text(LIMIT_MESSAGE)
    see_plans = notice.get_by_role("link", name="See plans")
    expect(see_plans).to_have_attribute("href", f"/organization/billing?organizationId={org}")
    see_plans.click()

    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    current = page.get_by_role("region", name="Current plan")
    expect(current.get_by_test_id("current-plan")).to_contain_text("Free")
    expect(current.get_by_role("button", name="Manage billing")).to_have_count(0)
    projects = usage_row(page, "Projects")
    expect(projects).to_contain_text("1 / 1")
    expect(projects).to_contain_text("Limit reached")
    expect(projects.get_by_role("progressbar", name="Projects")).to_have_attribute("aria-valuenow", "1")
    expect(usage_row(page, "Custom domains")).to_contain_text("Not included")
    plans = page.get_by_role("list", name="Plans")
    expect(plans.get_by_role("listitem", name="Free")).to_contain_text("Your current plan")
    expect(plans.get_by_role("listitem", name="Enterprise")).to_contain_text("Contact us")
    expect(page.get_by_text("No invoices yet")).to_be_visible()
    assert_accessible(page, "billing (free)")
    screenshot(page, "billing-free")

    # The yearly price shows on the toggle; the checkout is for the monthly one. Backing out of the
    # Checkout says nothing was charged.
    pro = plans.get_by_role("listitem", name="Pro")
    page.get_by_text(re.compile("^Yearly")).click()
    expect(pro).to_contain_text("/ year")
    page.get_by_text("Monthly", exact=True).click()
    expect(pro).to_contain_text("/ month")
    pro.get_by_role("button", name="Upgrade to Pro").click()
    expect(page).to_have_url(re.compile(re.escape(stripe.url) + r"/checkout/cs_"))
    expect(page.get_by_role("list", name="Order")).to_contain_text("per month")
    page.get_by_role("link", name="Back").click()
    expect(page.get_by_role("status").filter(has_text="Checkout canceled")).to_be_visible()
    expect(current.get_by_test_id("current-plan")).to_contain_text("Free")

    pro.get_by_role("button", name="Upgrade to Pro").click()
    expect(page).to_have_url(re.compile(re.escape(stripe.url) + r"/checkout/cs_"))
    page.get_by_role("button", name="Pay").click()

    # Back on the Billing page of this organization (the address tidied), on Pro once the webhook landed.
    expect(page).to_have_url(re.compile(r"/organization/billing$"))
    expect(page.get_by_role("status").filter(has_text="Your payment went through")).to_be_visible()
    expect(current.get_by_test_id("current-plan")).to_contain_text("Pro")
    expect(current.get_by_test_id("subscription-status")).to_have_text("Active")
    expect(current).to_contain_text("Billed monthly")
    expect(current).to_contain_text(re.compile(r"Renews on \w+"))
    expect(usage_row(page, "Projects")).to_contain_text("1 / 10")
    invoices = page.get_by_role("table", name="Invoices")
    row = invoices.get_by_role("row").filter(has_text="Paid")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("$29.00")
    expect(row.get_by_role("link", name=re.compile("^View invoice"))).to_have_attribute(
        "href", re.compile(re.escape(stripe.url) + "/invoices/in_")
    )
    expect(row.get_by_role("link", name=re.compile("^PDF of invoice"))).to_have_attribute("href", re.compile(r"\.pdf$"))
    expect(plans.get_by_role("listitem", name="Pro")).to_contain_text("Your current plan")
    assert_accessible(page, "billing (pro)")
    screenshot(page, "billing-pro")

    # The second project fits now.
    create_project(page, "Blog")
    expect(page).to_have_url(re.compile(r"/projects/[0-9a-f-]{36}"))

    # The organization page leads to Billing; the portal cancels at the period's end.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Organization").click()
    page.get_by_role("link", name="Billing", exact=True).click()
    current.get_by_role("button", name="Manage billing").click()
    expect(page).to_have_url(re.compile(re.escape(stripe.url) + r"/portal/"))
    page.get_by_role("button", name="Cancel plan").click()
    expect(page.get_by_text(re.compile("^Cancels on"))).to_be_visible()
    page.get_by_role("link", name="Return").click()
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(current.get_by_test_id("subscription-status")).to_have_text("Canceling")
    expect(current).to_contain_text(re.compile(r"Ends on \w+"))
    expect(current.get_by_test_id("current-plan")).to_contain_text("Pro")
    assert_accessible(page, "billing (canceling)")


def test_a_member_sees_the_plan_and_is_asked_to_have_the_owner_upgrade(
    page: Page, db: psycopg.Connection[Any], stack: LocalStack, web: str
) -> None:
    emulator(stack, web)
    owner = make_user(db, full_name="Fay Founder")
    org = make_organization(db, owner, "Fay's Bakery", tier="free")
    member = make_user(db, full_name="Max Member")
    add_member(db, org, member, "member", ["view", "edit"])
    elsewhere = make_organization(db, owner, "Not Max's", tier="free")

    sign_in(page, member.email)
    # A link to an organization Max is not in shows his own, and says so.
    page.goto(f"/organization/billing?organizationId={elsewhere}")
    expect(page.get_by_role("alert")).to_contain_text("not a member")
    page.goto(f"/organization/billing?organizationId={org}")
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.get_by_role("main").get_by_text("Fay's Bakery", exact=True)).to_be_visible()
    expect(page.get_by_role("region", name="Current plan").get_by_test_id("current-plan")).to_contain_text("Free")
    pro = page.get_by_role("list", name="Plans").get_by_role("listitem", name="Pro")
    expect(pro).to_contain_text("Ask the owner to upgrade")
    expect(page.get_by_role("button", name=re.compile("Upgrade|Manage billing"))).to_have_count(0)
    expect(page.get_by_role("region", name="Invoices")).to_have_count(0)


def test_a_refused_invitation_leads_to_billing_which_waits_for_a_late_webhook(
    page: Page, db: psycopg.Connection[Any], stack: LocalStack, web: str
) -> None:
    stripe = emulator(stack, web)
    webhook = f"{web}/api/billing/webhook"
    owner = make_user(db, full_name="Fay Founder")
    make_organization(db, owner, "Fay's Bakery", tier="free")

    sign_in(page, owner.email)
    # The Free plan has room for its owner only: an invitation is refused with the way to the plans.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Organization").click()
    page.get_by_role("button", name="Invite").click()
    invite = page.get_by_role("dialog", name="Invite someone")
    invite.get_by_label("E-mail").fill("sam@example.com")
    invite.get_by_role("button", name="Send invitation").click()
    expect(invite.get_by_role("alert")).to_contain_text("Your Free plan allows 1 member")
    invite.get_by_role("link", name="See plans").click()
    page.get_by_role("list", name="Plans").get_by_role("button", name="Upgrade to Pro").click()
    expect(page).to_have_url(re.compile(re.escape(stripe.url) + r"/checkout/cs_"))
    # Stripe's events fail to arrive (the endpoint answers 404): they stay pending while the browser comes back.
    stripe.emulator.configure_webhook(f"{web}/api/billing/webhook-gone")
    try:
        page.get_by_role("button", name="Pay").click()
        expect(page.get_by_role("status").filter(has_text="confirming your new plan")).to_be_visible()
        current = page.get_by_role("region", name="Current plan").get_by_test_id("current-plan")
        expect(current).to_contain_text("Free")
    finally:
        stripe.emulator.configure_webhook(webhook)
    stripe.emulator.deliver_pending()
    # The page looks again every 2 s until the plan has changed.
    expect(page.get_by_role("status").filter(has_text="Your payment went through")).to_be_visible(timeout=15_000)
    expect(current).to_contain_text("Pro")
    expect(page.get_by_role("table", name="Invoices").get_by_role("row").filter(has_text="Paid")).to_have_count(1)
