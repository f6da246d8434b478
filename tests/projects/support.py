"""Helpers of the projects tests: making projects and files through the API, raw JSON bodies,
and waiting (without sleeping) until requests are blocked on a lock the test holds."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
from starlette.testclient import TestClient

from tests.support.identity import Account


def create_project(
    client: TestClient, owner: Account, org: Any, name: str = "My App", template: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"organizationId": str(org), "name": name}
    if template:
        body["template"] = template
    response = client.post("/api/projects", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()["project"]  # type: ignore[no-any-return]


def put(client: TestClient, user: Account, project: dict[str, Any], path: str, content: str, **headers: str) -> Any:
    return client.put(
        f"/api/projects/{project['id']}/files/{path}", json={"content": content}, headers={**user.headers, **headers}
    )


def raw_json(body: Any) -> dict[str, Any]:
    """Request arguments sending ``body`` as JSON with every non-ASCII character escaped, so text
    a client cannot encode as UTF-8 (a lone surrogate) still travels, as "\\ud800"."""
    return {"content": json.dumps(body).encode("ascii"), "headers": {"Content-Type": "application/json"}}


def wait_for_lock_waiters(database_url: str, count: int, *, timeout_s: float = 20.0) -> None:
    """Return once ``count`` other sessions of this database wait for a lock (the requests the
    test is holding up); fail after ``timeout_s``. Polls the server's own view, no sleeping."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(database_url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            ).fetchone()
            if row is not None and row[0] >= count:
                return
    raise AssertionError(f"{count} requests did not reach the lock within {timeout_s} s")
