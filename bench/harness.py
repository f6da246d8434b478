"""Shared pieces of the benchmarks: a stack to measure, concurrent clients, percentiles."""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from devstack.stack import LocalStack


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


@contextmanager
def local_stack(url: str | None = None) -> Iterator[str]:
    """A running stack's base URL: ``url`` when it answers, else an in-process stack for the run."""
    if url:
        try:
            httpx.get(f"{url}/api/health", timeout=2)
            print(f"using the running stack at {url}")
            yield url
            return
        except httpx.TransportError:
            pass
    with in_process_stack() as (_, base):
        yield base


@contextmanager
def in_process_stack(**config: Any) -> Iterator[tuple[LocalStack, str]]:
    """An in-process stack for the run, served over HTTP: (the stack, its base URL). ``config``
    overrides StackConfig fields (a bench that reads the emulators or drives the workers itself)."""
    import uvicorn

    from devstack.aws import free_port
    from devstack.stack import LocalStack, StackConfig

    port = free_port()
    settings: dict[str, Any] = {
        "data_dir": Path(tempfile.mkdtemp(prefix="mm-bench-")),
        "port": port,
        "database_name": "mm_bench",
        "recreate_database": True,
        "stack_name": "mm-bench",
        "run_workers": False,
        "persist": False,
        **config,
    }
    stack = LocalStack(StackConfig(**settings)).start()
    server = uvicorn.Server(uvicorn.Config(stack.asgi_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    print(f"started an in-process stack at {stack.config.url}")
    try:
        yield stack, stack.config.url
    finally:
        server.should_exit = True
        stack.stop()


Request = Callable[[httpx.Client, int], httpx.Response]


def measure(base: str, request: Request, clients: int, total: int) -> tuple[list[float], float]:
    """Run ``total`` requests from ``clients`` concurrent clients; (latencies in ms, requests/s)."""
    per_client = max(1, total // clients)

    def worker(worker_id: int) -> list[float]:
        timings = []
        with httpx.Client(base_url=base, timeout=60) as http:
            for i in range(per_client):
                start = time.perf_counter()
                response = request(http, worker_id * per_client + i)
                timings.append((time.perf_counter() - start) * 1000)
                if response.status_code >= 400:
                    raise RuntimeError(f"{response.request.url} answered {response.status_code}: {response.text}")
        return timings

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        samples = [t for f in [pool.submit(worker, c) for c in range(clients)] for t in f.result()]
    return samples, len(samples) / (time.perf_counter() - started)


def header() -> str:
    return f"{'endpoint':<24}{'p50':>9}{'p95':>9}{'p99':>9}{'mean':>9}{'req/s':>9}"


def row(name: str, samples: list[float], rate: float) -> str:
    return (
        f"{name:<24}{percentile(samples, 50):>9.2f}{percentile(samples, 95):>9.2f}"
        f"{percentile(samples, 99):>9.2f}{statistics.fmean(samples):>9.2f}{rate:>9.0f}"
    )


def signed_in_token(user_id: object, email: str, role: str = "user") -> str:
    """An access token for a seeded user, backed by a session row as a real sign-in's is."""
    from mm_common import db
    from mm_common.tokens import issue_access_token

    with db.transaction() as conn:
        session = conn.execute(
            "INSERT INTO sessions (user_id, refresh_token_hash, family_id, expires_at)"
            " VALUES (%s, md5(random()::text), gen_random_uuid(), now() + interval '1 day') RETURNING id",
            (user_id,),
        ).fetchone()
    assert session is not None
    token, _ = issue_access_token(
        user_id=str(user_id),
        email=email,
        role=role,
        token_version=0,
        organization_id=None,
        session_id=str(session["id"]),
    )
    return token


def seed_owner(name: str = "Bench", *, tier: str = "enterprise") -> tuple[Any, str, Any]:
    """A verified user owning a new organization (Enterprise: no plan limits by default): (user id, e-mail,
    organization id)."""
    from mm_common import db

    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    with db.transaction() as conn:
        user = conn.execute(
            "INSERT INTO users (email, password_hash, email_verified) VALUES (%s, 'x', TRUE) RETURNING id", (email,)
        ).fetchone()
        assert user is not None
        org = conn.execute(
            "INSERT INTO organizations (name, slug, owner_id, subscription_tier) VALUES (%s, %s, %s, %s) RETURNING id",
            (name, f"{name.lower()}-{uuid.uuid4().hex[:8]}", user["id"], tier),
        ).fetchone()
        assert org is not None
        conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES (%s, %s, 'owner')",
            (org["id"], user["id"]),
        )
    return user["id"], email, org["id"]
