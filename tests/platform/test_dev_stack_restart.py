"""`make dev` end to end: the real stack process answers, stops on Ctrl-C, and keeps its data."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from devstack.aws import client, free_port
from devstack.postgres import Postgres
from devstack.template import REPO_ROOT

DATABASE = "mm_restart_test"
ADMIN = "boss@example.com"


class DevProcess:
    def __init__(self, data_dir: Path, log: Path) -> None:
        self.port = free_port()
        self.moto_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "MM_DATA_DIR": str(data_dir),
            "PORT": str(self.port),
            "MM_MOTO_PORT": str(self.moto_port),
            "MM_DATABASE_NAME": DATABASE,
            "MM_ADMIN_EMAIL": ADMIN,
            "MM_ADMIN_PASSWORD": "a-long-enough-password",
        }
        for key in ("AWS_ENDPOINT_URL", "DB_HOST", "DB_PORT", "DB_SECRET_ARN", "MAIL_FROM"):
            env.pop(key, None)
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_until_healthy(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the stack exited while starting"
            try:
                if httpx.get(f"{self.base}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)  # polling an observable state, bounded by the deadline
        raise AssertionError("the stack did not become healthy")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.log.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
def fresh_database() -> Iterator[None]:
    """With DATABASE_URL the stack shares a server: make sure this test's database starts empty."""
    url = os.environ.get("DATABASE_URL")
    if url:
        Postgres(server_url=url).ensure_database(DATABASE, recreate=True)
    yield


def _admin_count(data_dir: Path) -> int:
    url = os.environ.get("DATABASE_URL")
    if url:
        target = Postgres(server_url=url).database_url(DATABASE)
    else:
        target = f"postgresql://postgres:@/{DATABASE}?host={data_dir / 'postgres' / 'pgdata'}"
    with psycopg.connect(target) as conn:
        row = conn.execute("SELECT count(*) FROM users WHERE email = %s AND role = 'admin'", (ADMIN,)).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # Postgres puts its socket in the data folder and a Unix socket path holds at most 107 bytes:
    # pytest's numbered temp folders (/tmp/pytest-of-root/pytest-120/popen-gw1/…) outgrow it.
    path = Path(tempfile.mkdtemp(prefix="mm-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_stack_serves_stops_and_keeps_data_across_a_restart(
    tmp_path: Path, short_dir: Path, fresh_database: None
) -> None:
    data_dir = short_dir / "local"
    log = tmp_path / "stack.log"
    first = DevProcess(data_dir, log)
    try:
        first.wait_until_healthy()
        assert httpx.get(f"{first.base}/api/health").json()["status"] == "ok"
        assert httpx.get(f"{first.base}/dev/mail.json").json() == []
        assert "MoreMinimore" in httpx.get(f"{first.base}/").text
        assert _admin_count(data_dir) == 1

        moto = f"http://127.0.0.1:{first.moto_port}"
        client("s3", moto).put_object(Bucket="mm-local-snapshotsbucket", Key="orgs/o1/blobs/abc", Body=b"snapshot!")
        kms = client("kms", moto)
        key_alias = "alias/moreminimore-local"
        ciphertext = kms.encrypt(KeyId=key_alias, Plaintext=b"api-key-material")["CiphertextBlob"]
        client("sesv2", moto).send_email(
            FromEmailAddress="no-reply@moreminimore.local",
            Destination={"ToAddresses": ["ann@example.com"]},
            Content={"Simple": {"Subject": {"Data": "Kept"}, "Body": {"Text": {"Data": "still here"}}}},
        )
        assert first.interrupt() == 0
    finally:
        first.kill()

    second = DevProcess(data_dir, log)
    try:
        second.wait_until_healthy()
        moto = f"http://127.0.0.1:{second.moto_port}"
        body = client("s3", moto).get_object(Bucket="mm-local-snapshotsbucket", Key="orgs/o1/blobs/abc")["Body"].read()
        assert body == b"snapshot!"
        # Secrets encrypted under the stack's KMS key before the restart still decrypt.
        assert client("kms", moto).decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"api-key-material"
        assert [m["subject"] for m in httpx.get(f"{second.base}/dev/mail.json").json()] == ["Kept"]
        assert _admin_count(data_dir) == 1  # kept, and not created twice
        assert second.interrupt() == 0
    finally:
        second.kill()
    assert "MoreMinimore is running" in log.read_text()
