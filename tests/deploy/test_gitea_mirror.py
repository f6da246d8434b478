"""The Gitea mirror worker through the local stack's queue: every version becomes one commit of the
project's repository, in order, with the version's message and author; redelivery commits nothing
twice; Gitea failing for a moment only delays the backup. Checked with a real `git clone`."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from devstack.aws import client as aws_client
from devstack.gitea import GiteaServer
from devstack.stack import LocalStack
from devstack.workers import QueuePoller
from tests.deploy.blob_reads import BlobReads
from tests.deploy.gitea_fixtures import clone, files_of
from tests.projects.support import create_project, put
from tests.support.identity import Account

OWNER = "moreminimore"


@pytest.fixture
def gitea(stack: LocalStack) -> Iterator[GiteaServer]:
    assert stack.gitea is not None
    stack.gitea.emulator.faults.clear()
    yield stack.gitea
    stack.gitea.emulator.faults.clear()


@pytest.fixture
def mirror(stack: LocalStack, gitea: GiteaServer) -> QueuePoller:
    (poller,) = stack.pollers["GiteaMirrorFunction"]
    drain(poller)  # versions earlier tests made (their projects are gone) go first
    gitea.emulator.requests.clear()
    return poller


def waiting(poller: QueuePoller) -> int:
    attributes = poller.sqs.get_queue_attributes(
        QueueUrl=poller.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def drain(poller: QueuePoller, timeout_s: float = 60) -> None:
    """Deliver until the queue is empty; a failed message comes back after the poller's retry delay
    (long polling waits for it)."""
    deadline = time.monotonic() + timeout_s
    while waiting(poller):
        assert time.monotonic() < deadline, "the mirror queue did not empty"
        poller.poll_once(wait_s=2)


def token(gitea: GiteaServer) -> str:
    return next(iter(gitea.emulator.tokens))


def repository(db: psycopg.Connection[Any], project: dict[str, Any]) -> tuple[int | None, str | None]:
    row = db.execute("SELECT gitea_repo_id, gitea_repo_url FROM projects WHERE id = %s", (project["id"],)).fetchone()
    assert row is not None
    return row[0], row[1]


def recorded_commits(db: psycopg.Connection[Any], project: dict[str, Any]) -> list[tuple[int, str | None]]:
    rows = db.execute(
        "SELECT number, gitea_commit_id FROM project_versions WHERE project_id = %s ORDER BY number", (project["id"],)
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def history(gitea: GiteaServer, name: str, into: Path) -> list[tuple[str, str, str, str]]:
    """(sha, subject, author name, author e-mail) of main, oldest first, from a fresh clone."""
    checkout = clone(gitea, OWNER, name, into, token=token(gitea))
    log = subprocess.run(
        ["git", "-C", str(checkout), "log", "--reverse", "--format=%H%x1f%s%x1f%an%x1f%ae"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [tuple(line.split("\x1f")) for line in log.splitlines()]  # type: ignore[misc]


def new_version(client: TestClient, owner: Account, project: dict[str, Any], message: str) -> dict[str, Any]:
    response = client.post(f"/api/projects/{project['id']}/versions", json={"message": message}, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()["version"]  # type: ignore[no-any-return]


def contents_posts(gitea: GiteaServer) -> list[int]:
    return [r.status for r in gitea.emulator.requests if r.method == "POST" and r.path.endswith("/contents")]


def test_every_version_becomes_one_commit_in_order_with_its_message_and_author(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    gitea: GiteaServer,
    mirror: QueuePoller,
    tmp_path: Path,
) -> None:
    project = create_project(client, owner, org, "Shop", template="blank")
    assert put(client, owner, project, "hello.txt", "hello\n").status_code in (200, 201)
    new_version(client, owner, project, "Add hello")
    assert put(client, owner, project, "hello.txt", "hello, world\n").status_code == 200
    assert put(client, owner, project, "src/app.js", "export {}\n").status_code in (200, 201)
    new_version(client, owner, project, "Greet the world")

    drain(mirror)

    org_slug = db.execute("SELECT slug FROM organizations WHERE id = %s", (org,)).fetchone()
    assert org_slug is not None
    name = f"{org_slug[0]}--{project['slug']}"
    repo_id, repo_url = repository(db, project)
    assert repo_id is not None and repo_url == f"{gitea.url}/{OWNER}/{name}"
    commits = recorded_commits(db, project)
    assert [number for number, _ in commits] == [1, 2, 3] and all(sha for _, sha in commits)

    log = history(gitea, name, tmp_path / "clone")
    # Gitea's initial commit, then one per version, oldest first.
    created = db.execute("SELECT message FROM project_versions WHERE project_id = %s AND number = 1", (project["id"],))
    first = created.fetchone()
    assert first is not None
    assert [subject for _, subject, _, _ in log] == ["Initial commit", first[0], "Add hello", "Greet the world"]
    assert [sha for sha, *_ in log[1:]] == [sha for _, sha in commits]
    assert {(author, email) for _, _, author, email in log[1:]} == {("Ada Lovelace", owner.email)}
    files = files_of(tmp_path / "clone")
    assert files["hello.txt"] == b"hello, world\n" and files["src/app.js"] == b"export {}\n"


def test_a_redelivered_message_makes_no_second_commit(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    gitea: GiteaServer,
    mirror: QueuePoller,
    tmp_path: Path,
) -> None:
    project = create_project(client, owner, org, "Again", template="blank")
    assert put(client, owner, project, "a.txt", "a\n").status_code in (200, 201)
    version = new_version(client, owner, project, "Add a")
    drain(mirror)
    before = recorded_commits(db, project)
    gitea.emulator.requests.clear()

    assert stack.moto is not None
    sqs = aws_client("sqs", stack.moto.endpoint)
    body = json.dumps({"projectId": project["id"], "versionId": version["id"]})
    sqs.send_message(QueueUrl=mirror.queue_url, MessageBody=body)
    drain(mirror)
    assert contents_posts(gitea) == [] and recorded_commits(db, project) == before

    # Crashed after the commit, before recording it: the redelivery finds nothing to change and
    # records the commit that is there.
    db.execute("UPDATE project_versions SET gitea_commit_id = NULL WHERE id = %s", (version["id"],))
    sqs.send_message(QueueUrl=mirror.queue_url, MessageBody=body)
    drain(mirror)
    assert contents_posts(gitea) == [] and recorded_commits(db, project) == before
    _, repo_url = repository(db, project)
    assert repo_url is not None
    log = history(gitea, repo_url.rsplit("/", 1)[-1], tmp_path / "clone")
    assert len(log) == 1 + len(before)


def test_gitea_failing_for_a_moment_only_delays_the_backup(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    gitea: GiteaServer,
    mirror: QueuePoller,
    tmp_path: Path,
) -> None:
    project = create_project(client, owner, org, "Flaky", template="blank")
    assert put(client, owner, project, "b.txt", "b\n").status_code in (200, 201)
    new_version(client, owner, project, "Add b")
    gitea.emulator.faults.fail_next("POST", r"/contents$", status=503)

    assert mirror.poll_once() >= 1
    # The first commit was refused: its message failed and waits in the queue for a retry (a
    # later message of the batch may have mirrored that version, in order, meanwhile).
    assert contents_posts(gitea)[0] == 503
    assert waiting(mirror) >= 1

    drain(mirror)
    assert waiting(mirror) == 0
    commits = recorded_commits(db, project)
    assert all(sha for _, sha in commits)
    _, repo_url = repository(db, project)
    assert repo_url is not None
    log = history(gitea, repo_url.rsplit("/", 1)[-1], tmp_path / "clone")
    assert [sha for sha, *_ in log[1:]] == [sha for _, sha in commits]


def test_one_message_mirrors_every_older_version_still_waiting_first_in_order(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    gitea: GiteaServer,
    mirror: QueuePoller,
    tmp_path: Path,
) -> None:
    project = create_project(client, owner, org, "Catch up", template="blank")
    assert put(client, owner, project, "c.txt", "one\n").status_code in (200, 201)
    new_version(client, owner, project, "First edit")
    assert put(client, owner, project, "c.txt", "two\n").status_code == 200
    latest = new_version(client, owner, project, "Second edit")
    # Every message but the newest version's is lost.
    assert stack.moto is not None
    sqs = aws_client("sqs", stack.moto.endpoint)
    sqs.purge_queue(QueueUrl=mirror.queue_url)
    sqs.send_message(
        QueueUrl=mirror.queue_url, MessageBody=json.dumps({"projectId": project["id"], "versionId": latest["id"]})
    )
    drain(mirror)

    commits = recorded_commits(db, project)
    assert [number for number, _ in commits] == [1, 2, 3] and all(sha for _, sha in commits)
    _, repo_url = repository(db, project)
    assert repo_url is not None
    log = history(gitea, repo_url.rsplit("/", 1)[-1], tmp_path / "clone")
    assert [sha for sha, *_ in log[1:]] == [sha for _, sha in commits]
    assert [subject for _, subject, _, _ in log[2:]] == ["First edit", "Second edit"]


def test_the_hourly_maintenance_asks_again_for_versions_whose_message_was_lost(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    stack: LocalStack,
    mirror: QueuePoller,
) -> None:
    project = create_project(client, owner, org, "Lost", template="blank")
    assert put(client, owner, project, "lost.txt", "one\n").status_code in (200, 201)
    new_version(client, owner, project, "Lost edit")
    # Both messages are lost (dead-lettered while Gitea was down, say). Taken off the queue one by one: SQS
    # allows one purge a minute, and another test of this module purges.
    assert stack.scheduler is not None
    while waiting(mirror):
        received = mirror.sqs.receive_message(QueueUrl=mirror.queue_url, MaxNumberOfMessages=10)
        for message in received.get("Messages", []):
            mirror.sqs.delete_message(QueueUrl=mirror.queue_url, ReceiptHandle=message["ReceiptHandle"])
    recent = stack.scheduler.run_now("MaintenanceFunction")
    assert waiting(mirror) == 0, recent  # within the grace period: the message may still be on its way

    db.execute(
        "UPDATE project_versions SET created_at = now() - interval '1 hour' WHERE project_id = %s", (project["id"],)
    )
    result = stack.scheduler.run_now("MaintenanceFunction")
    assert result["tasks"]["mirrors"]["requeued"] >= 1
    drain(mirror)

    commits = recorded_commits(db, project)
    assert [number for number, _ in commits] == [1, 2] and all(sha for _, sha in commits)
    # Once backed up, nothing is asked again.
    assert stack.scheduler.run_now("MaintenanceFunction")["tasks"]["mirrors"]["requeued"] == 0


def test_a_one_file_edit_of_a_large_project_reads_and_sends_only_that_file(
    client: TestClient,
    owner: Account,
    org: Any,
    db: psycopg.Connection[Any],
    gitea: GiteaServer,
    mirror: QueuePoller,
    tmp_path: Path,
) -> None:
    project = create_project(client, owner, org, "Large", template="blank")
    for number in range(40):
        assert put(client, owner, project, f"src/file{number:02}.txt", f"file {number}\n").status_code == 201
    new_version(client, owner, project, "Forty files")
    drain(mirror)
    assert put(client, owner, project, "src/file07.txt", "changed\n").status_code == 200
    new_version(client, owner, project, "One edit")
    gitea.emulator.requests.clear()

    reads = BlobReads()
    try:
        drain(mirror)
    finally:
        reads.close()

    assert len(reads.blobs()) == 1, reads.keys  # the changed file's blob; the 40 others are not read
    posts = [r for r in gitea.emulator.requests if r.method == "POST" and r.path.endswith("/contents")]
    assert len(posts) == 1
    _, repo_url = repository(db, project)
    assert repo_url is not None
    checkout = files_of(clone(gitea, OWNER, repo_url.rsplit("/", 1)[-1], tmp_path / "clone", token=token(gitea)))
    assert checkout["src/file07.txt"] == b"changed\n" and checkout["src/file08.txt"] == b"file 8\n"
