"""The files listing: pages by path (default 200, at most 5,000), each entry field for field."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import psycopg
from starlette.testclient import TestClient

from tests.projects.support import create_project
from tests.support.identity import Account

ENTRY_KEYS = ["path", "size", "language", "sha256", "encoding", "mode", "updatedAt"]


def wire_time(value: Any) -> str:
    """How the API writes a time: ISO 8601 in UTC with a Z."""
    return str(value.astimezone(UTC).isoformat().replace("+00:00", "Z"))


def seed_files(db: psycopg.Connection[Any], project_id: str, count: int) -> None:
    db.execute(
        "INSERT INTO project_files (project_id, path, content, size, sha256, language, mode)"
        " SELECT %s, 'src/f' || lpad(g::text, 5, '0') || '.ts', 'x', 1, md5(g::text) || md5(g::text),"
        " 'typescript', CASE WHEN g %% 2 = 0 THEN 493 ELSE 420 END FROM generate_series(1, %s) g",
        (project_id, count),
    )


def test_pages_cover_every_file_once_with_each_field_as_stored(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    project = create_project(client, owner, org, template="blank")
    seed_files(db, project["id"], 450)
    # A binary file (stored as a blob) and a non-ASCII path, to see both written as they are.
    client.put(
        f"/api/projects/{project['id']}/files/img/ünïcødé.png",
        json={"content": "iVBORw0KGgo=", "encoding": "base64"},
        headers=owner.headers,
    )
    # What JSON must escape, text beyond the BMP, no language, a time without microseconds.
    db.execute(
        "INSERT INTO project_files (project_id, path, content, size, sha256, language, updated_at)"
        " VALUES (%s, %s, 'x', 1, repeat('a', 64), NULL, '2020-01-02 03:04:05+00'),"
        " (%s, %s, 'x', 1, repeat('b', 64), 'text', '2020-01-02 03:04:05.000007+00')",
        (project["id"], 'docs/a "quoted" \u2028 😀.txt', project["id"], "docs/tab\there.txt"),
    )
    stored = {
        row[0]: row
        for row in db.execute(
            "SELECT path, size, language, sha256, encoding, mode, updated_at FROM project_files WHERE project_id = %s",
            (project["id"],),
        ).fetchall()
    }

    seen: list[str] = []
    cursor: str | None = None
    sizes = []
    while True:
        params = {"cursor": cursor} if cursor else {}
        response = client.get(f"/api/projects/{project['id']}/files", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        body = json.loads(response.content)
        assert list(body) == ["items", "nextCursor"]
        sizes.append(len(body["items"]))
        for item in body["items"]:
            assert list(item) == ENTRY_KEYS
            path, size, language, sha256, encoding, mode, updated_at = stored[item["path"]]
            assert item == {
                "path": path,
                "size": size,
                "language": language,
                "sha256": sha256,
                "encoding": encoding,
                "mode": mode,
                "updatedAt": wire_time(updated_at),
            }
            seen.append(item["path"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert sizes[0] == 200  # the default page
    assert seen == sorted(seen) and set(seen) == set(stored) and len(seen) == len(stored)
    # Written as JSON writes it, non-ASCII as UTF-8 rather than escapes (as every answer is).
    raw = client.get(f"/api/projects/{project['id']}/files", params={"limit": 5000}, headers=owner.headers)
    assert "img/ünïcødé.png".encode() in raw.content


def test_the_time_of_an_entry_is_written_as_every_time_of_the_api(
    client: TestClient, owner: Account, org: Any, db: psycopg.Connection[Any]
) -> None:
    project = create_project(client, owner, org, template="blank")
    db.execute(
        "INSERT INTO project_files (project_id, path, content, size, sha256, updated_at) VALUES"
        " (%s, 'a.txt', 'x', 1, repeat('a', 64), '2020-01-02 03:04:05+00'),"
        " (%s, 'b.txt', 'x', 1, repeat('b', 64), '2020-01-02 03:04:05.000007+02')",
        (project["id"], project["id"]),
    )
    items = client.get(f"/api/projects/{project['id']}/files", headers=owner.headers).json()["items"]
    times = {item["path"]: item["updatedAt"] for item in items if item["path"] in ("a.txt", "b.txt")}
    assert times == {"a.txt": "2020-01-02T03:04:05Z", "b.txt": "2020-01-02T01:04:05.000007Z"}


def test_a_page_may_hold_up_to_5000_files_and_no_more(client: TestClient, owner: Account, org: Any) -> None:
    project = create_project(client, owner, org, template="blank")
    url = f"/api/projects/{project['id']}/files"
    assert client.get(url, params={"limit": 5000}, headers=owner.headers).status_code == 200
    for limit in (0, 5001):
        response = client.get(url, params={"limit": limit}, headers=owner.headers)
        assert response.status_code == 422 and response.json()["error"]["code"] == "validation_failed"
    bad_cursor = client.get(url, params={"cursor": "not-a-cursor"}, headers=owner.headers)
    assert bad_cursor.status_code == 422 and bad_cursor.json()["error"]["code"] == "invalid_cursor"
