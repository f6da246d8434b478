"""Importing a desktop app into a project through the real stack (Postgres, moto S3, the API to read back):
a real git repository's history as versions, a real desktop database's chats and messages linked to them,
undo on an imported chat, the prompt library, and a job run twice changing nothing the second time."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.stack import LocalStack
from mm_common import db as mm_db
from mm_common import imports
from mm_common.importing.desktop_db import DesktopDatabase
from mm_common.importing.git_history import ArchiveLimits, ImportRepository, open_repository
from mm_common.importing.importer import ImportOptions, import_app, import_prompts
from tests.importing.desktop_fixtures import DesktopDbBuilder
from tests.importing.git_fixtures import GitRepo, git_files, git_show, make_sample_app, zip_folder
from tests.support.identity import Account

LIMITS = ArchiveLimits(max_file_bytes=1024)
WRITE_HELLO = '<dyad-write path="src/App.tsx" description="Say hello">export default function App() {}</dyad-write>'


@pytest.fixture
def sample(tmp_path: Path) -> GitRepo:
    return make_sample_app(tmp_path / "sample-app")


@pytest.fixture
def repository(sample: GitRepo, tmp_path: Path) -> Iterator[ImportRepository]:
    upload = zip_folder(sample.path, tmp_path / "sample-app.zip", nested=True)
    with open_repository(upload, tmp_path / "work", LIMITS) as repo:
        yield repo


@pytest.fixture
def desktop(sample: GitRepo, tmp_path: Path) -> Iterator[DesktopDatabase]:
    commits = sample.main_commits
    path = tmp_path / "sqlite.db"
    with DesktopDbBuilder(path, "newer") as build:
        app = build.add_app("Sample app", "sample-app")
        first = build.add_chat(app, "Make it friendly", initial_commit_hash=commits[0], created_at=1_710_000_000)
        # Unix seconds: every message of this chat in the same second, their order from their ids.
        build.add_message(first, "user", "say hello", created_at=1_710_000_100)
        build.add_message(
            first,
            "assistant",
            f"Saying hello. {WRITE_HELLO}",
            approval_state="approved",
            source_commit_hash=commits[0],
            commit_hash=commits[1],
            model="claude-sonnet-4-5",
            max_tokens_used=12_345,
            request_id="req-1",
            created_at=1_710_000_100,
        )
        build.add_message(first, "user", "rename main.tsx", created_at=1_710_000_100)
        build.add_message(
            first,
            "assistant",
            '<dyad-rename from="src/main.tsx" to="src/index.tsx"></dyad-rename>',
            approval_state="approved",
            source_commit_hash=commits[1],
            commit_hash=commits[2],
            created_at=1_710_000_100,
        )
        second = build.add_chat(app, "Ideas", created_at=1_710_000_200)
        build.add_message(second, "user", "what about a dark mode?", created_at=1_710_000_300)
        build.add_message(second, "assistant", WRITE_HELLO, approval_state="rejected", created_at=1_710_000_301)
        build.add_message(second, "system", "not a conversation turn", created_at=1_710_000_302)
        other = build.add_app("Other app", "other-app")
        build.add_chat(other, "Not this one")
        build.add_prompt("Landing page", "Make a landing page for {product}", description="starter")
        build.add_prompt("Tests", "Write tests for this file")
    with DesktopDatabase.open(path) as database:
        yield database


def start(db: psycopg.Connection[Any], owner: Account, org: Any, source_app_id: int = 1) -> Any:
    with mm_db.transaction() as conn:
        the_import = imports.create_import(conn, organization_id=org, created_by=owner.id, uploads=[])
        app = imports.add_app(
            conn,
            the_import["id"],
            source_app_id=source_app_id,
            project_name="Sample app",
            archive_name="sample-app.zip",
        )
    return app["id"]


def get(client: TestClient, user: Account, path: str) -> Any:
    response = client.get(path, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def versions_of(client: TestClient, user: Account, project_id: Any) -> list[dict[str, Any]]:
    return list(reversed(get(client, user, f"/api/projects/{project_id}/versions?limit=100")["items"]))


def expected_files(repo: GitRepo, sha: str) -> dict[str, bytes]:
    """What an imported version holds of a commit: its files but dependencies, top-level build output, files
    over the limit, links, submodules and .env files."""
    kept = {}
    for path, (mode, kind, _) in git_files(repo, sha).items():
        parts = path.split("/")
        name = parts[-1]
        if kind != "blob" or mode == 0o120000 or "node_modules" in parts or parts[0] in ("dist",):
            continue
        if name.startswith(".env"):
            continue
        data = git_show(repo, sha, path)
        if len(data) > LIMITS.max_file_bytes:
            continue
        kept[path] = data
    return kept


def test_an_app_is_imported_with_its_history_chats_and_undo(
    client: TestClient,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    owner: Account,
    org: Any,
    sample: GitRepo,
    repository: ImportRepository,
    desktop: DesktopDatabase,
) -> None:
    app_id = start(db, owner, org)
    counts = import_app(app_id, database=desktop, repository=repository, options=ImportOptions(), user_id=owner.id)
    row = db.execute("SELECT project_id, status, warnings FROM import_apps WHERE id = %s", (app_id,)).fetchone()
    assert row is not None
    project_id, status, warnings = row
    assert status == "completed"
    assert counts["versions"] == len(sample.main_commits) and counts["chats"] == 2 and counts["messages"] == 6

    # One version per commit on main, oldest first, with the commit's message and its own time.
    history = versions_of(client, owner, project_id)
    assert [v["message"].splitlines()[0] for v in history] == [
        "Initial app",
        "Say hello",
        "Rename main.tsx",
        "Remove readme, add env",
        "Commit dependencies and build output",
        "Bump version",
        "Merge feature",
    ]
    assert all(v["source"] == "import" for v in history)
    assert history[0]["createdAt"].startswith("2024-03-02T08:01:00")  # +02:00 in the commit, UTC here
    for version, sha in zip(history, sample.main_commits, strict=True):
        files = get(client, owner, f"/api/projects/{project_id}/versions/{version['id']}")["files"]
        expected = expected_files(sample, sha)
        assert {f["path"] for f in files} == set(expected), version["message"]
        assert {f["path"]: f["sha256"] for f in files} == {
            p: hashlib.sha256(d).hexdigest() for p, d in expected.items()
        }
    last = get(client, owner, f"/api/projects/{project_id}/versions/{history[-1]['id']}")["files"]
    assert {f["path"]: f["mode"] for f in last}["scripts/deploy.sh"] == 0o755
    # Left out, and said so.
    assert any("dependencies" in w and "lib/node_modules/" in w for w in warnings), warnings
    assert any(".env" in w for w in warnings)
    # Each distinct content is stored once.
    distinct = {
        hashlib.sha256(d).hexdigest() for sha in sample.main_commits for d in expected_files(sample, sha).values()
    }
    stored = db.execute("SELECT count(*) FROM snapshot_blobs WHERE organization_id = %s", (org,)).fetchone()
    assert stored is not None and stored[0] == len(distinct)

    # The working copy is the last commit.
    working = get(client, owner, f"/api/projects/{project_id}/files")["items"]
    assert {f["path"] for f in working} == set(expected_files(sample, sample.main_commits[-1]))

    # Chats and messages, in order, linked to the versions their commits became.
    chats = get(client, owner, f"/api/projects/{project_id}/chats")["items"]
    assert sorted(c["title"] for c in chats) == ["Ideas", "Make it friendly"]
    friendly = next(c for c in chats if c["title"] == "Make it friendly")
    listed = get(client, owner, f"/api/chats/{friendly['id']}/messages?limit=50")["items"]
    assert [m["content"][:12] for m in listed] == ["say hello", "Saying hello", "rename main.", "<dyad-rename"]
    assert [m["approvalState"] for m in listed] == [None, "approved", None, "approved"]
    metadata = listed[1]["metadata"]["imported"]
    assert metadata["commitHash"] == sample.main_commits[1] and metadata["peakContextTokens"] == 12_345
    assert metadata["billable"] is False

    # Undo on the imported chat restores the version before its last turn (src/main.tsx is back).
    undone = client.post(f"/api/chats/{friendly['id']}/undo", headers=owner.headers)
    assert undone.status_code in (200, 201), undone.text
    paths = {f["path"] for f in get(client, owner, f"/api/projects/{project_id}/files")["items"]}
    assert "src/main.tsx" in paths and "src/index.tsx" not in paths


def test_a_job_run_again_changes_nothing(
    client: TestClient,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    owner: Account,
    org: Any,
    repository: ImportRepository,
    desktop: DesktopDatabase,
) -> None:
    app_id = start(db, owner, org)
    first = import_app(app_id, database=desktop, repository=repository, options=ImportOptions(), user_id=owner.id)
    # A redelivered message after a crash: the app's row says it is still importing.
    db.execute("UPDATE import_apps SET status = 'importing' WHERE id = %s", (app_id,))
    again = import_app(app_id, database=desktop, repository=repository, options=ImportOptions(), user_id=owner.id)
    assert again == first
    counts = db.execute(
        "SELECT (SELECT count(*) FROM projects), (SELECT count(*) FROM project_versions),"
        " (SELECT count(*) FROM chats), (SELECT count(*) FROM messages)"
    ).fetchone()
    assert counts == (1, first["versions"], first["chats"], first["messages"])


def test_prompts_come_over_once(
    client: TestClient,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    owner: Account,
    org: Any,
    desktop: DesktopDatabase,
) -> None:
    app_id = start(db, owner, org)
    row = db.execute("SELECT import_id FROM import_apps WHERE id = %s", (app_id,)).fetchone()
    assert row is not None
    assert import_prompts(row[0], database=desktop, user_id=owner.id) == 2
    assert import_prompts(row[0], database=desktop, user_id=owner.id) == 0
    listed = get(client, owner, "/api/prompts")["items"]
    assert sorted(p["title"] for p in listed) == ["Landing page", "Tests"]


def test_without_its_files_an_app_still_starts_with_a_version_and_keeps_its_chats(
    client: TestClient,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    owner: Account,
    org: Any,
    desktop: DesktopDatabase,
) -> None:
    app_id = start(db, owner, org)
    counts = import_app(app_id, database=desktop, repository=None, options=ImportOptions(files=False), user_id=owner.id)
    assert counts == {"chats": 2, "messages": 6}
    row = db.execute("SELECT project_id FROM import_apps WHERE id = %s", (app_id,)).fetchone()
    assert row is not None
    (only,) = versions_of(client, owner, row[0])
    assert only["message"] == "Imported without its files"
    assert get(client, owner, f"/api/projects/{row[0]}/files")["items"] == []
    # Turns whose commits were not imported keep their place in the chat, without version links.
    chats = get(client, owner, f"/api/projects/{row[0]}/chats")["items"]
    assert len(chats) == 2


def test_an_apps_custom_theme_becomes_its_design_system(
    client: TestClient,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    owner: Account,
    org: Any,
    sample: GitRepo,
    repository: ImportRepository,
    tmp_path: Path,
) -> None:
    path = tmp_path / "themed.db"
    with DesktopDbBuilder(path) as build:
        theme = build.add_theme("Calm bakery", "A warm, calm bakery look: cream backgrounds, soft rounded cards")
        build.add_app("Sample app", "sample-app", theme_id=str(theme))
    app_id = start(db, owner, org)
    with DesktopDatabase.open(path) as themed:
        counts = import_app(app_id, database=themed, repository=repository, options=ImportOptions(), user_id=owner.id)
        db.execute("UPDATE import_apps SET status = 'importing' WHERE id = %s", (app_id,))
        assert (
            import_app(app_id, database=themed, repository=repository, options=ImportOptions(), user_id=owner.id)
            == counts
        )
    assert counts["designSystems"] == 1
    row = db.execute("SELECT project_id FROM import_apps WHERE id = %s", (app_id,)).fetchone()
    assert row is not None
    history = versions_of(client, owner, row[0])
    assert len(history) == len(sample.main_commits) + 1
    assert history[-1]["message"] == "Design system from the desktop app's theme \u201cCalm bakery\u201d"
    design = client.get(f"/api/projects/{row[0]}/design-system", headers=owner.headers)
    assert design.status_code == 200, design.text
    paths = {f["path"] for f in get(client, owner, f"/api/projects/{row[0]}/files")["items"]}
    assert "design-system/MASTER.md" in paths and "src/App.tsx" in paths, paths
