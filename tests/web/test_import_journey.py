"""Importing apps from the desktop app in the browser: choose the files, watch them upload, read the analysis,
import an app and open the project it became; a damaged database is explained.

The web stack runs no background workers: the test runs the import worker once the page has asked for the
analysis or the import, while the page polls and Playwright's `expect` waits for what it shows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Page, expect

from devstack.stack import LocalStack
from tests.importing.desktop_fixtures import sample_desktop_database
from tests.importing.git_fixtures import make_sample_app, zip_folder
from tests.support.fake_providers import drain
from tests.support.identity import add_member, make_organization, make_user
from tests.support.workers import run_until_empty
from tests.web.test_journeys import assert_accessible, screenshot, sign_in


@pytest.fixture(autouse=True)
def _no_earlier_messages(stack: LocalStack) -> None:
    drain(stack, "ImportsQueue")


def run_worker(stack: LocalStack) -> None:
    run_until_empty(stack, "ImportWorkerFunction")


def desktop_files(folder: Path) -> tuple[Path, Path]:
    """The desktop app's database (an app "Sample app" in folder sample-app, a chat linked to its commits, a
    prompt, a custom model) and the app's folder zipped with its .git."""
    sample = make_sample_app(folder / "sample-app")
    database = sample_desktop_database(folder / "sqlite.db", sample.main_commits)
    archive = zip_folder(sample.path, folder / "sample-app.zip", nested=True)
    return database, archive


def test_import_an_app_from_the_desktop_app_and_open_its_project(
    page: Page, db: psycopg.Connection[Any], stack: LocalStack, tmp_path: Path
) -> None:
    owner = make_user(db, full_name="Olivia Owner")
    make_organization(db, owner, "Acme")
    database, archive = desktop_files(tmp_path)
    sign_in(page, owner.email)

    page.get_by_role("link", name="Import from the desktop app").click()
    expect(page.get_by_role("heading", name="Import from the desktop app")).to_be_visible()
    expect(page.get_by_text("~/Library/Application Support/dyad/sqlite.db")).to_be_visible()
    page.get_by_label("The desktop app's database (sqlite.db)").set_input_files(database)
    page.get_by_label("App archives (.zip or git bundle)").set_input_files(archive)
    expect(page.get_by_role("list", name="Chosen archives")).to_contain_text("sample-app.zip")
    assert_accessible(page, "import: files chosen")
    screenshot(page, "import-files")

    page.get_by_role("button", name="Upload and analyze").click()
    # Both files reach the storage, then the page asks for the analysis.
    for name in ("sqlite.db", "sample-app.zip"):
        bar = page.get_by_role("progressbar", name=f"Upload of {name}")
        expect(bar).to_have_attribute("aria-valuenow", "100")
        expect(bar).to_have_attribute("aria-valuetext", "Uploaded")
    expect(page.get_by_role("status").filter(has_text="Analyzing…")).to_be_visible()
    assert_accessible(page, "import: analyzing")
    run_worker(stack)

    apps = page.get_by_role("list", name="Apps in the desktop app")
    expect(apps).to_contain_text("Sample app")
    sample_app = apps.get_by_role("listitem").filter(has_text="Sample app")
    expect(sample_app).to_contain_text("1 chat · 2 messages · 7 commits")
    expect(sample_app).to_contain_text("Archive: sample-app.zip")
    expect(page.get_by_label("Sample app", exact=True)).to_be_checked()
    expect(page.get_by_label("Project name for Sample app")).to_have_value("Sample app")
    expect(page.get_by_text("1 prompt", exact=True)).to_be_visible()
    expect(page.get_by_role("list", name="Custom AI models")).to_contain_text("My model")
    expect(page.get_by_text(re.compile("API keys are not imported"))).to_be_visible()
    expect(page.get_by_label(re.compile("^Chat history"))).to_be_checked()
    expect(page.get_by_label(re.compile("^Environment variables"))).not_to_be_checked()
    assert_accessible(page, "import: analysis")
    screenshot(page, "import-analysis")

    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="3. Importing")).to_be_visible()
    run_worker(stack)

    # The new step takes the focus from the button that led to it.
    expect(page.get_by_role("heading", name="Import finished")).to_be_focused()
    imported = page.get_by_role("list", name="Imported apps")
    expect(imported).to_contain_text("Imported")
    expect(imported).to_contain_text("7 versions")
    expect(imported).to_contain_text("2 messages")
    history = page.get_by_role("list", name="Earlier imports")
    expect(history).to_contain_text("Sample app")
    expect(history).to_contain_text("Completed")
    assert_accessible(page, "import: finished")
    screenshot(page, "import-finished")

    imported.get_by_role("link", name="Open Sample app").click()
    expect(page.get_by_role("heading", name="Sample app")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Chat: Make it friendly"))).to_be_visible()
    page.get_by_role("link", name="Versions").click()
    versions = page.get_by_role("list", name="Versions")
    expect(versions).to_contain_text("Initial app")
    expect(versions).to_contain_text("Say hello")
    screenshot(page, "import-project-versions")


def test_a_damaged_database_shows_why_it_cannot_be_analyzed(
    page: Page, db: psycopg.Connection[Any], stack: LocalStack, tmp_path: Path
) -> None:
    owner = make_user(db)
    make_organization(db, owner)
    damaged = tmp_path / "sqlite.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\x13" * 4000)
    sign_in(page, owner.email)

    page.goto("/import")
    page.get_by_label("The desktop app's database (sqlite.db)").set_input_files(damaged)
    page.get_by_role("button", name="Upload and analyze").click()
    expect(page.get_by_role("status").filter(has_text="Analyzing…")).to_be_visible()
    run_worker(stack)

    expect(page.get_by_role("heading", name="The files could not be analyzed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(re.compile("damaged|not"))
    expect(page.get_by_role("list", name="Earlier imports")).to_contain_text("Failed")
    assert_accessible(page, "import: analysis failed")
    screenshot(page, "import-failed")

    # Choosing other files starts over.
    page.get_by_role("button", name="Choose other files").click()
    expect(page.get_by_label("The desktop app's database (sqlite.db)")).to_be_visible()


def test_only_those_who_may_create_projects_are_offered_the_import(page: Page, db: psycopg.Connection[Any]) -> None:
    owner = make_user(db)
    organization = make_organization(db, owner)
    member = make_user(db)
    add_member(db, organization, member, "member", [])
    sign_in(page, member.email)

    expect(page.get_by_role("link", name="Import from the desktop app")).to_have_count(0)
    page.goto("/import")
    expect(page.get_by_text("Only an owner or admin of the organization can import apps into it.")).to_be_visible()
