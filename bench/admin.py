"""The admin area on the seeded database: p50/p95 of GET /api/admin/analytics (the default 30 days, and the
widest range, 366 days), the failure logs and the admin lists (users, organizations; skipped when the routes
answer 404), against a target; then the plan of every query the analytics answer ran (a sequential scan of a big
table is flagged).

    python bench/admin.py [--clients 2] [--requests 100] [--projects 10000] [--messages 1000000] [--jobs 200000]
                          [--data-dir DIR]

--data-dir keeps the stack's data (its embedded Postgres with the seeded database, mm_bench) in DIR: the first
run seeds it, later runs measure it as it is (the seed's times are then as old as that first run; the days
analytics keeps stay kept). Without it, each run seeds a database of its own in a temporary directory.

Targets: analytics p95 < 300 ms, each list p95 < 150 ms (the API latency budget as a few admins see it: the
dashboard is opened by a few people, so two clients at once). The seed is bench/api_latency.py's (10k
projects in organizations of 10, 1M messages over their chats, all in the last 12 days: the worst case for the
default window), plus --jobs generation jobs (a tenth failed) over 3 models and the last 60 days, 20k
deployments (a tenth failed, with their steps and log lines), 2k paid invoices and 300 Pro subscriptions.
Always exits 0: the table says whether each target was met.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from api_latency import seed as seed_projects_and_messages
from harness import header, in_process_stack, local_stack, measure, percentile, row, signed_in_token
from psycopg.rows import dict_row

ANALYTICS_TARGET_MS = 300.0
LIST_TARGET_MS = 150.0
BENCH_ADMIN = "bench-admin@example.com"
BIG_TABLES = ("messages", "generation_jobs", "deployment_logs", "projects", "chats", "users", "invoices")


def seed_admin_data(jobs: int) -> str:
    """Jobs, deployments, invoices and subscriptions over the seeded projects; an admin's token."""
    from mm_common import db

    started = time.perf_counter()
    with psycopg.connect(db.conninfo(), row_factory=dict_row) as conn:
        conn.execute(
            "INSERT INTO ai_providers (name, slug, kind, api_base_url) VALUES"
            " ('OpenAI', 'openai', 'openai', 'https://api.openai.test'),"
            " ('Anthropic', 'anthropic', 'anthropic', 'https://api.anthropic.test') ON CONFLICT (slug) DO NOTHING"
        )
        conn.execute(
            "INSERT INTO ai_models (display_name, api_name, provider_id)"
            " SELECT n, n, p.id FROM ai_providers p,"
            " unnest(CASE p.slug WHEN 'openai' THEN ARRAY['gpt-a', 'gpt-b'] ELSE ARRAY['claude-c'] END) n"
            " WHERE p.slug IN ('openai', 'anthropic') ON CONFLICT (provider_id, api_name) DO NOTHING"
        )
        # Jobs spread round-robin over the chats and the last 60 days; every tenth failed.
        conn.execute(
            """
            WITH c AS (SELECT array_agg(id ORDER BY id) AS ids FROM chats),
                 m AS (SELECT array_agg(id ORDER BY id) AS ids FROM ai_models)
            INSERT INTO generation_jobs (chat_id, project_id, organization_id, model_id, status, prompt_tokens,
                                         completion_tokens, error_code, error_message, created_at, finished_at)
            SELECT ch.id, ch.project_id, p.organization_id, m.ids[1 + g %% array_length(m.ids, 1)],
                   CASE WHEN g %% 10 = 0 THEN 'failed' ELSE 'succeeded' END,
                   100 + g %% 900, 50 + g %% 400,
                   CASE WHEN g %% 10 = 0 THEN 'provider_error' END,
                   CASE WHEN g %% 10 = 0 THEN 'The provider answered 500.' END,
                   now() - make_interval(secs => g * 5184000.0 / %s) - interval '10 seconds',
                   now() - make_interval(secs => g * 5184000.0 / %s)
            FROM c, m, generate_series(1, %s) g,
                 LATERAL (SELECT c.ids[1 + g %% array_length(c.ids, 1)] AS chat_id) pick,
                 chats ch, projects p
            WHERE ch.id = pick.chat_id AND p.id = ch.project_id
            """,
            (jobs, jobs, jobs),
        )
        # Deployments: two per project over the last 60 days, every tenth failed at PushToGitea.
        conn.execute(
            """
            INSERT INTO deployment_logs (project_id, status, error_message, started_at, completed_at)
            SELECT p.id, CASE WHEN (row_number() OVER ()) % 10 = 0 THEN 'failed' ELSE 'success' END,
                   NULL, now() - make_interval(secs => random() * 5184000) - interval '3 minutes', NULL
            FROM projects p, generate_series(1, 2)
            """
        )
        conn.execute(
            "UPDATE deployment_logs SET completed_at = started_at + interval '3 minutes',"
            " error_message = CASE WHEN status = 'failed' THEN 'Deployment failed. Please contact us.' END"
        )
        conn.execute(
            "INSERT INTO deployment_steps (deployment_id, step, status, detail, attempts)"
            " SELECT id, 'PushToGitea', 'failed', 'This step failed.', 3 FROM deployment_logs WHERE status = 'failed'"
        )
        conn.execute(
            "INSERT INTO deployment_log_lines (deployment_id, step, line)"
            " SELECT id, 'PushToGitea', 'Pushing: attempt ' || g FROM deployment_logs, generate_series(1, 8) g"
            " WHERE status = 'failed'"
        )
        conn.execute(
            "UPDATE projects SET status = 'deployed' WHERE id IN (SELECT project_id FROM deployment_logs"
            " WHERE status = 'success')"
        )
        conn.execute(
            "UPDATE organizations SET subscription_tier = 'pro', subscription_status = 'active',"
            " stripe_subscription_id = 'sub_' || id, subscription_interval = CASE WHEN random() < 0.3 THEN 'year'"
            " ELSE 'month' END WHERE id IN (SELECT id FROM organizations ORDER BY id LIMIT 300)"
        )
        conn.execute(
            "INSERT INTO invoices (organization_id, amount_due, amount_paid, currency, status, paid_at)"
            " SELECT o.id, 2900, 2900, 'usd', 'paid', now() - make_interval(days => g % 365)"
            " FROM (SELECT id FROM organizations ORDER BY id LIMIT 300) o, generate_series(1, 7) g"
        )
        admin = conn.execute(
            "INSERT INTO users (email, password_hash, role, email_verified)"
            " VALUES (%s, 'x', 'admin', TRUE) RETURNING id, email",
            (BENCH_ADMIN,),
        ).fetchone()
        assert admin is not None
    with psycopg.connect(db.conninfo(), autocommit=True) as raw:
        raw.execute("VACUUM ANALYZE")
    counts = {
        t: db.fetch_one(f"SELECT count(*) AS n FROM {t}")["n"]  # type: ignore[index]
        for t in ("generation_jobs", "deployment_logs", "invoices")
    }
    print(f"admin data seeded in {time.perf_counter() - started:.1f} s: {counts}")
    return str(signed_in_token(admin["id"], admin["email"], role="admin"))


@contextmanager
def bench_stack(data_dir: str | None) -> Iterator[str]:
    """The stack's base URL: its data kept in ``data_dir`` when given (the database as a previous run left it),
    else in a temporary directory of this run."""
    if data_dir is None:
        with local_stack() as base:
            yield base
        return
    with in_process_stack(data_dir=Path(data_dir).resolve(), recreate_database=False) as (_, base):
        yield base


def seeded_admin() -> dict[str, Any] | None:
    """The admin of a database seeded by a previous run (None when it is not seeded yet)."""
    from mm_common import db

    return db.fetch_one("SELECT id, email FROM users WHERE email = %s", (BENCH_ADMIN,))


class QueryRecorder:
    """Records the SQL (and parameters) the handlers run while on, to EXPLAIN them after."""

    def __init__(self) -> None:
        self.queries: dict[str, tuple[Any, Any]] = {}
        self.on = False
        original = psycopg.Cursor.execute
        recorder = self

        def execute(cursor: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
            if recorder.on and isinstance(query, str) and query.lstrip().upper().startswith(("SELECT", "WITH")):
                recorder.queries.setdefault(" ".join(query.split()), (query, params))
            return original(cursor, query, params, **kwargs)

        psycopg.Cursor.execute = execute  # type: ignore[method-assign,assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--requests", type=int, default=100, help="per endpoint")
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--data-dir", help="keep the stack's data (the seeded database) here and reuse it")
    args = parser.parse_args()
    os.environ["RATE_LIMIT_API_PER_MINUTE"] = "100000000"
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    widest = f"from={(today - dt.timedelta(days=365)).isoformat()}&to={today.isoformat()}"
    with bench_stack(args.data_dir) as base:
        admin = seeded_admin()
        if admin is None:
            seed_projects_and_messages(args.projects, args.messages)
            token = seed_admin_data(args.jobs)
        else:
            print(f"measuring the database seeded by an earlier run in {args.data_dir}")
            token = signed_in_token(admin["id"], admin["email"], role="admin")
        auth = {"Authorization": f"Bearer {token}"}
        endpoints = {
            "analytics (30 days)": ("/api/admin/analytics", ANALYTICS_TARGET_MS),
            "analytics (366 days)": (f"/api/admin/analytics?{widest}", ANALYTICS_TARGET_MS),
            "failed-jobs": ("/api/admin/failed-jobs", LIST_TARGET_MS),
            "failed-deployments": ("/api/admin/failed-deployments", LIST_TARGET_MS),
            "users": ("/api/admin/users", LIST_TARGET_MS),
            "organizations": ("/api/admin/organizations", LIST_TARGET_MS),
        }
        import httpx

        recorder = QueryRecorder()
        results: dict[str, tuple[list[float], float, float]] = {}
        skipped: list[str] = []
        firsts: dict[str, float] = {}
        for name, (path, target) in endpoints.items():
            with httpx.Client(base_url=base, timeout=60) as http:
                began = time.perf_counter()
                first = http.get(path, headers=auth)
                firsts[name] = (time.perf_counter() - began) * 1000
            if first.status_code == 404:
                skipped.append(name)
                continue

            def get(http: httpx.Client, _: int, path: str = path) -> httpx.Response:
                return http.get(path, headers=auth)

            recorder.on = name == "analytics (30 days)"
            measure(base, get, args.clients, min(20, args.requests))  # warm every environment
            recorder.on = False
            samples, rate = measure(base, get, args.clients, args.requests)
            results[name] = (samples, rate, target)

        print(f"\n{args.clients} concurrent clients, {args.requests} requests per endpoint (ms)")
        print(header() + f"{'target p95':>12}  met")
        for name, (samples, rate, target) in results.items():
            met = "yes" if percentile(samples, 95) < target else "NO"
            print(row(name, samples, rate) + f"{'< ' + format(target, '.0f'):>12}  {met}")
        for name in skipped:
            print(f"{name:<24}  skipped: the route answers 404 (not built yet)")
        print("\nfirst request of each (ms; analytics counts and keeps the ended days of every series then):")
        for name, took in firsts.items():
            if name not in skipped:
                print(f"  {name:<24}{took:>9.1f}")

        from mm_common import db

        print("\nthe queries the analytics answer ran, each alone (EXPLAIN ANALYZE: execution time, big-table scans):")
        with psycopg.connect(db.conninfo(), autocommit=True) as conn:
            for text, (query, params) in recorder.queries.items():
                plan = [r[0] for r in conn.execute("EXPLAIN ANALYZE " + query, params).fetchall()]
                took = next((line.split(":")[1].strip() for line in plan if line.startswith("Execution Time")), "?")
                flagged = [line for line in plan if re.search(r"Seq Scan on (" + "|".join(BIG_TABLES) + r")\b", line)]
                verdict = "seq scan: " + "; ".join(s.strip().split("  (")[0] for s in flagged) if flagged else "index"
                print(f"-- {text[:100]}{'...' if len(text) > 100 else ''}\n   => {took}, {verdict}")


if __name__ == "__main__":
    main()
