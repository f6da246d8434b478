"""The web app's budgets in headless Chromium against an in-process local stack.

    python bench/spa.py [--runs 5]

Prints, beside each budget:
- first-load JavaScript (gzipped) of the sign-in and the dashboard routes: every script the page
  loaded, compressed as CloudFront would (target ≤ 250 KB; Monaco loads only with the code view);
- dashboard interactive: from navigation until the projects grid of a signed-in person is shown
  (target ≤ 1 s);
- workspace interactive: from navigation until the chat and the file tree are shown (≤ 2 s).
Needs the built SPA (`make web`) and Debian's Chromium.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
import uuid
from pathlib import Path

from harness import local_stack, percentile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PASSWORD = "bench-passphrase-2026"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def seed() -> tuple[str, str]:
    from mm_common import db
    from mm_common.passwords import hash_password

    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    with db.transaction() as conn:
        user = conn.execute(
            "INSERT INTO users (email, password_hash, full_name, email_verified) VALUES (%s, %s, 'Bench', TRUE)"
            " RETURNING id",
            (email, hash_password(PASSWORD)),
        ).fetchone()
        assert user is not None
        org = conn.execute(
            "INSERT INTO organizations (name, slug, owner_id) VALUES ('Bench', %s, %s) RETURNING id",
            (f"bench-{uuid.uuid4().hex[:8]}", user["id"]),
        ).fetchone()
        assert org is not None
        conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role, permissions)"
            ' VALUES (%s, %s, \'owner\', \'["view","edit","deploy","manage","invite"]\')',
            (org["id"], user["id"]),
        )
    return email, str(org["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import Page, sync_playwright

    from tests.web.conftest import chromium_path

    with local_stack() as base, sync_playwright() as playwright:
        import httpx

        email, org = seed()
        login = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {login['accessToken']}"}
        project = None
        for i in range(12):
            project = httpx.post(
                f"{base}/api/projects",
                json={"organizationId": org, "name": f"Project {i}", "template": "react-vite-ts-tailwind"},
                headers=headers,
            ).json()["project"]
        assert project is not None
        httpx.post(f"{base}/api/projects/{project['id']}/chats", json={}, headers=headers)

        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)

        def first_load_js(path: str, page: Page, ready: str) -> int:
            sizes: dict[str, int] = {}
            page.on(
                "response",
                lambda r: (
                    sizes.__setitem__(r.url, len(gzip.compress(r.body(), 9)))
                    if r.request.resource_type == "script" and r.ok
                    else None
                ),
            )
            page.goto(base + path)
            page.get_by_role("heading", name=ready).wait_for()
            page.wait_for_load_state("load")  # the route rendered and every script it imported ran
            return sum(sizes.values())

        context = browser.new_context()
        sign_in_js = first_load_js("/sign-in", context.new_page(), "Sign in")
        page = context.new_page()
        page.goto(base + "/sign-in")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Projects", exact=True).wait_for()
        dashboard_js = first_load_js("/", context.new_page(), "Projects")

        dashboard: list[float] = []
        workspace: list[float] = []
        for _ in range(args.runs):
            tab = context.new_page()
            started = time.perf_counter()
            tab.goto(base + "/")
            tab.get_by_role("link", name="Project 11").wait_for()
            dashboard.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            tab.goto(f"{base}/projects/{project['id']}")
            tab.get_by_role("tree", name="Files").get_by_role("button", name="package.json").wait_for()
            tab.get_by_label("Message").wait_for()
            workspace.append((time.perf_counter() - started) * 1000)
            tab.close()
        browser.close()

    print(f"\n{'budget':<40}{'measured':>12}{'target':>12}")
    print(f"{'first-load JS, sign-in (KB gz)':<40}{sign_in_js / 1024:>12.1f}{250:>12}")
    print(f"{'first-load JS, dashboard (KB gz)':<40}{dashboard_js / 1024:>12.1f}{250:>12}")
    print(
        f"{'dashboard interactive p50/max (ms)':<40}{percentile(dashboard, 50):>7.0f}/{max(dashboard):<4.0f}{1000:>12}"
    )
    print(
        f"{'workspace interactive p50/max (ms)':<40}{percentile(workspace, 50):>7.0f}/{max(workspace):<4.0f}{2000:>12}"
    )
    print(
        f"(mean dashboard {statistics.fmean(dashboard):.0f} ms, workspace {statistics.fmean(workspace):.0f} ms,"
        f" {args.runs} runs)"
    )


if __name__ == "__main__":
    main()
