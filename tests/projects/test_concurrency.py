"""Concurrent writers of one file: exactly one creates it, whoever comes second is told so (412).

The requests are real and truly concurrent: the test holds a lock they need from its own
database connection, waits (by asking Postgres, not by sleeping) until they are blocked on it,
then lets them go.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from starlette.testclient import TestClient

from tests.projects.support import create_project, put, wait_for_lock_waiters
from tests.support.identity import Account


def test_two_creates_of_one_new_file_with_if_none_match_exactly_one_wins(
    client: TestClient, owner: Account, org: Any, database_url: str
) -> None:
    project = create_project(client, owner, org, template="blank")
    results: dict[str, int] = {}

    def create(name: str) -> None:
        results[name] = put(client, owner, project, "new.txt", f"{name}\n", **{"If-None-Match": "*"}).status_code

    writers = [threading.Thread(target=create, args=(name,)) for name in ("alice", "bob")]
    with psycopg.connect(database_url) as holder:
        # Hold the project's row: both requests get as far as they can, then wait on it.
        holder.execute("SELECT 1 FROM projects WHERE id = %s FOR UPDATE", (project["id"],))
        for writer in writers:
            writer.start()
        wait_for_lock_waiters(database_url, 2)
        holder.commit()
    for writer in writers:
        writer.join()

    assert sorted(results.values()) == [201, 412], results
    winner = next(name for name, status in results.items() if status == 201)
    read = client.get(f"/api/projects/{project['id']}/files/new.txt", headers=owner.headers)
    assert read.json()["content"] == f"{winner}\n"


def test_a_create_racing_a_writer_that_did_not_queue_on_the_project_gets_412(
    client: TestClient, owner: Account, org: Any, database_url: str, db: psycopg.Connection[Any]
) -> None:
    """The row lock cannot hold a row that does not exist yet: the insert itself must decide."""
    project = create_project(client, owner, org, template="blank")
    result: dict[str, Any] = {}

    def create() -> None:
        result["response"] = put(client, owner, project, "new.txt", "from the API\n", **{"If-None-Match": "*"})

    writer = threading.Thread(target=create)
    with psycopg.connect(database_url) as other:
        # Another transaction creates the file and has not committed yet.
        other.execute(
            "INSERT INTO project_files (project_id, path, content, size, sha256, language)"
            " VALUES (%s, 'new.txt', 'first\n', 6, encode(sha256('first\n'::bytea), 'hex'), 'text')",
            (project["id"],),
        )
        writer.start()
        wait_for_lock_waiters(database_url, 1)
        other.commit()
    writer.join()

    response = result["response"]
    assert response.status_code == 412, response.text
    assert response.json()["error"]["code"] == "precondition_failed"
    assert db.execute(
        "SELECT content FROM project_files WHERE project_id = %s AND path = 'new.txt'", (project["id"],)
    ).fetchone() == ("first\n",)


def test_unconditional_writers_both_succeed_and_the_last_one_counts(
    client: TestClient, owner: Account, org: Any, database_url: str
) -> None:
    project = create_project(client, owner, org, template="blank")
    results: dict[str, int] = {}

    def write(name: str) -> None:
        results[name] = put(client, owner, project, "new.txt", f"{name}\n").status_code

    writers = [threading.Thread(target=write, args=(name,)) for name in ("alice", "bob")]
    with psycopg.connect(database_url) as holder:
        holder.execute("SELECT 1 FROM projects WHERE id = %s FOR UPDATE", (project["id"],))
        for writer in writers:
            writer.start()
        wait_for_lock_waiters(database_url, 2)
        holder.commit()
    for writer in writers:
        writer.join()

    # One created it, the other replaced it: no request claims a creation it did not make.
    assert sorted(results.values()) == [200, 201], results
    last = next(name for name, status in results.items() if status == 200)
    read = client.get(f"/api/projects/{project['id']}/files/new.txt", headers=owner.headers)
    assert read.json()["content"] == f"{last}\n"
