"""Latency of the API under N concurrent clients: p50/p95/p99, side by side (ms).

    python bench/api_latency.py [--url http://127.0.0.1:8000] [--clients 8] [--requests 400]

Against a running `make dev` when --url answers; otherwise against an in-process stack of its own.
`/api/health` does a database round trip; `/api/no-such-route` is the bare path through the
gateway, Mangum and FastAPI to the catch-all, with no database.
"""

from __future__ import annotations

import argparse

from harness import header, local_stack, measure, row

ENDPOINTS = {"health (db)": "/api/health", "bare (no db)": "/api/no-such-route"}
OK_STATUSES = {200, 404}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per endpoint")
    args = parser.parse_args()
    with local_stack(args.url) as base:
        results = {}
        for name, path in ENDPOINTS.items():

            def get(http, _, path=path):  # type: ignore[no-untyped-def]
                response = http.get(path)
                if response.status_code in OK_STATUSES:
                    response.status_code = 200  # the bare route answers 404 by design
                return response

            measure(base, get, args.clients, min(40, args.requests))  # warm every environment
            results[name] = measure(base, get, args.clients, args.requests)
        print(f"\n{args.clients} concurrent clients, {args.requests} requests per endpoint (ms)")
        print(header())
        for name, (samples, rate) in results.items():
            print(row(name, samples, rate))


if __name__ == "__main__":
    main()
