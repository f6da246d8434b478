"""The clean-up worker after a project's deletion: S3 failing part-way must never leave a blob
recorded as stored while S3 no longer has it (the next version would trust the record)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from botocore.exceptions import EndpointConnectionError
from starlette.testclient import TestClient

from devstack.aws import client as aws_client
from devstack.stack import LocalStack
from mm_common import snapshots
from mm_common.aws import client as functions_client
from mm_common.config import get_settings
from tests.projects.support import create_project, put
from tests.support.identity import Account


def bucket_keys(stack: LocalStack) -> set[str]:
    assert stack.moto is not None
    s3 = aws_client("s3", stack.moto.endpoint)
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.outputs["SnapshotsBucket"]):
        keys |= {item["Key"] for item in page.get("Contents", [])}
    return keys


@pytest.fixture
def no_grace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BLOB_GC_GRACE_HOURS", "0")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


class FailingBlobDeletes:
    """Makes the functions' S3 client fail every blob DeleteObjects after the first ``allowed``."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.calls = 0
        self.active = True

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        keys = [item["Key"] for item in params.get("Delete", {}).get("Objects", [])]
        if not self.active or not any("/blobs/" in key for key in keys):
            return
        self.calls += 1
        if self.calls > self.allowed:
            raise EndpointConnectionError(endpoint_url="https://s3.example.invalid")


def test_s3_failing_part_way_keeps_the_records_of_every_blob_it_did_not_delete(
    client: TestClient,
    owner: Account,
    org: Any,
    stack: LocalStack,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
    no_grace: None,
) -> None:
    (poller,) = stack.pollers["ProjectCleanupFunction"]
    while poller.poll_once():  # deletions earlier tests left in the queue go first
        pass
    doomed = create_project(client, owner, org, "Doomed", template="blank")
    for name in ("one", "two", "three"):
        put(client, owner, doomed, f"{name}.txt", f"only the doomed project has {name}\n")
    assert client.post(f"/api/projects/{doomed['id']}/versions", headers=owner.headers).status_code == 201
    assert client.delete(f"/api/projects/{doomed['id']}", headers=owner.headers).status_code == 204

    blobs = len(db.execute("SELECT sha256 FROM snapshot_blobs WHERE organization_id = %s", (org,)).fetchall())
    assert blobs >= 3
    monkeypatch.setattr(snapshots, "DELETE_BATCH", 1)  # one blob per request, so S3 can fail part-way
    fault = FailingBlobDeletes(allowed=1)
    s3 = functions_client("s3")
    s3.meta.events.register("before-parameter-build.s3.DeleteObjects", fault)
    monkeypatch.setattr(poller, "retry_delay_s", 0)  # a failed message is visible again at once
    try:
        assert poller.poll_once() == 1
        # Every blob still recorded is still in S3, and the deleted one is forgotten.
        keys = bucket_keys(stack)
        recorded = {
            r[0] for r in db.execute("SELECT sha256 FROM snapshot_blobs WHERE organization_id = %s", (org,)).fetchall()
        }
        assert {snapshots.blob_key(org, sha) for sha in recorded} <= keys
        stored = [k for k in keys if k.startswith(f"orgs/{org}/blobs/")]
        assert len(recorded) == len(stored) == fault.calls - 1 + len(recorded) - 1 + 1 - fault.calls + 1
        # The message failed, so SQS delivers it again; with S3 back, the rest goes.
        fault.active = False
        assert poller.poll_once() == 1
    finally:
        s3.meta.events.unregister("before-parameter-build.s3.DeleteObjects", fault)
    assert db.execute("SELECT count(*) FROM snapshot_blobs WHERE organization_id = %s", (org,)).fetchone() == (0,)
    assert not any(k.startswith(f"orgs/{org}/") for k in bucket_keys(stack))
