"""Latency of the local stack's API under N concurrent clients: p50/p95/p99 side by side.

    python bench/api_latency.py [--url http://127.0.0.1:8000] [--clients 8] [--requests 400]

Against a running `make dev` when --url answers; otherwise it starts a stack in-process (its
own data folder and database) and serves it with uvicorn on a free port for the run.
`/api/health` does a database round trip; `/api/no-such-route` is the bare path through the
gateway, Mangum and FastAPI to the catch-all, with no database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ENDPOINTS = {"health (db)": "/api/health", "bare (no db)": "/api/no-such-route"}


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def measure(base: str, path: str, clients: int, total: int) -> list[float]:
    per_client = max(1, total // clients)

    def worker() -> list[float]:
        timings = []
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(per_client):
                start = time.perf_counter()
                response = http.get(path)
                timings.append((time.perf_counter() - start) * 1000)
                if response.status_code >= 500:
                    raise RuntimeError(f"{path} answered {response.status_code}")
        return timings

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(worker) for _ in range(clients)]
        return [t for f in futures for t in f.result()]


def start_stack() -> tuple[str, object]:
    import uvicorn

    from devstack.aws import free_port
    from devstack.stack import LocalStack, StackConfig

    port = free_port()
    config = StackConfig(
        data_dir=Path(tempfile.mkdtemp(prefix="mm-bench-")),
        port=port,
        database_name="mm_bench",
        stack_name="mm-bench",
        run_workers=False,
        persist=False,
    )
    stack = LocalStack(config).start()
    server = uvicorn.Server(uvicorn.Config(stack.asgi_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return config.url, (stack, server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per endpoint")
    args = parser.parse_args()

    owned = None
    base = args.url
    try:
        httpx.get(f"{base}/api/health", timeout=2)
        print(f"using the running stack at {base}")
    except httpx.TransportError:
        base, owned = start_stack()
        print(f"started an in-process stack at {base}")

    try:
        for path in ENDPOINTS.values():
            measure(base, path, args.clients, min(40, args.requests))  # warm every environment
        print(f"\n{args.clients} concurrent clients, {args.requests} requests per endpoint (ms)")
        print(f"{'endpoint':<16}{'p50':>9}{'p95':>9}{'p99':>9}{'mean':>9}{'req/s':>9}")
        for name, path in ENDPOINTS.items():
            start = time.perf_counter()
            samples = measure(base, path, args.clients, args.requests)
            elapsed = time.perf_counter() - start
            print(
                f"{name:<16}{percentile(samples, 50):>9.2f}{percentile(samples, 95):>9.2f}"
                f"{percentile(samples, 99):>9.2f}{statistics.fmean(samples):>9.2f}{len(samples) / elapsed:>9.0f}"
            )
    finally:
        if owned is not None:
            stack, server = owned  # type: ignore[misc]
            server.should_exit = True
            stack.stop()


if __name__ == "__main__":
    main()
