"""API latency under N concurrent clients, on a seeded database: p50/p95/p99 (ms), plus the plan of
every list query the measured endpoints ran (a sequential scan of a big table is flagged).

    python bench/api_latency.py [--clients 8] [--requests 400] [--projects 10000] [--messages 1000000]

Runs an in-process stack of its own (its own database). The seed: --projects projects spread over
organizations of 10, the caller a member of one of them; --messages chat messages over their
chats; a project of 2,000 files for the files listing.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from typing import Any

import psycopg
from harness import header, local_stack, measure, row, signed_in_token
from psycopg.rows import dict_row

BIG_TABLES = ("projects", "messages", "project_files", "chats", "organization_members")


def seed(projects: int, messages: int) -> dict[str, Any]:
    from mm_common import db
    from mm_common.passwords import hash_password

    started = time.perf_counter()
    rng = random.Random(11)
    # A plain connection: seeding a million rows takes longer than the API's statement timeout.
    with psycopg.connect(db.conninfo(), row_factory=dict_row) as conn:
        password = hash_password("bench-passphrase-1")
        users = [
            r["id"]
            for r in conn.execute(
                "INSERT INTO users (email, password_hash, email_verified)"
                " SELECT 'seed-' || g || '@example.com', %s, TRUE FROM generate_series(1, %s) g RETURNING id",
                (password, max(1, projects // 10)),
            ).fetchall()
        ]
        orgs = [
            r["id"]
            for r in conn.execute(
                "INSERT INTO organizations (name, slug, owner_id)"
                " SELECT 'Org ' || i, 'org-' || i, u FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(u, i) RETURNING id",
                (users,),
            ).fetchall()
        ]
        conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role)"
            " SELECT o, u, 'owner' FROM unnest(%s::uuid[], %s::uuid[]) AS t(o, u)",
            (orgs, users),
        )
        conn.execute(
            "INSERT INTO projects (organization_id, name, slug, created_by)"
            " SELECT o, 'Project ' || g, 'p-' || g, NULL FROM unnest(%s::uuid[]) AS o, generate_series(1, 10) g",
            (orgs,),
        )
        conn.execute("INSERT INTO chats (project_id, title) SELECT id, 'Chat' FROM projects")
        # Spread the messages round-robin over every chat, a second apart, newest first.
        conn.execute(
            """
            WITH c AS (SELECT array_agg(id ORDER BY id) AS ids FROM chats)
            INSERT INTO messages (chat_id, role, content, created_at)
            SELECT c.ids[1 + g %% array_length(c.ids, 1)],
                   CASE WHEN g %% 2 = 0 THEN 'user' ELSE 'assistant' END,
                   'message ' || g, now() - make_interval(secs => g)
            FROM c, generate_series(1, %s) g
            """,
            (messages,),
        )
        me = users[rng.randrange(len(users))]
        my_org = conn.execute("SELECT organization_id FROM organization_members WHERE user_id = %s", (me,)).fetchone()
        assert my_org is not None
        project = conn.execute(
            "SELECT id FROM projects WHERE organization_id = %s LIMIT 1", (my_org["organization_id"],)
        ).fetchone()
        assert project is not None
        chat = conn.execute("SELECT id FROM chats WHERE project_id = %s", (project["id"],)).fetchone()
        assert chat is not None
        conn.execute(
            "INSERT INTO project_files (project_id, path, content, size, sha256, language)"
            " SELECT %s, 'src/f' || g || '.ts', 'export const x' || g || ' = 1;', 20,"
            " md5(g::text) || md5(g::text), 'typescript'"
            " FROM generate_series(1, 2000) g",
            (project["id"],),
        )
        email = conn.execute("SELECT email FROM users WHERE id = %s", (me,)).fetchone()
        assert email is not None
    with psycopg.connect(db.conninfo(), autocommit=True) as raw:
        raw.execute("ANALYZE")
    token = signed_in_token(me, email["email"])
    counts = {
        t: db.fetch_one(f"SELECT count(*) AS n FROM {t}")["n"]  # type: ignore[index]
        for t in ("organizations", "projects", "chats", "messages", "project_files")
    }
    print(f"seeded in {time.perf_counter() - started:.1f} s: {counts}")
    return {"token": token, "project": project["id"], "chat": chat["id"]}


class QueryRecorder:
    """Records the SQL (and parameters) the handlers run, to EXPLAIN the list queries after."""

    def __init__(self) -> None:
        self.queries: dict[str, tuple[Any, Any]] = {}
        original = psycopg.Cursor.execute
        recorder = self

        def execute(cursor: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
            text = query if isinstance(query, str) else None
            if (
                text
                and "SELECT" in text
                and "LIMIT" in text
                and re.search(r"\bFROM (projects|project_files|messages|chats)\b", text)
            ):
                recorder.queries.setdefault(" ".join(text.split()), (query, params))
            return original(cursor, query, params, **kwargs)

        psycopg.Cursor.execute = execute  # type: ignore[method-assign,assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per endpoint")
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    import os

    os.environ["RATE_LIMIT_API_PER_MINUTE"] = "100000000"
    with local_stack() as base:
        seeded = seed(args.projects, args.messages)
        recorder = QueryRecorder()
        auth = {"Authorization": f"Bearer {seeded['token']}"}
        endpoints = {
            "bare (no db)": ("/api/no-such-route", {}),
            "health (db)": ("/api/health", {}),
            "GET /api/projects": ("/api/projects", auth),
            "GET .../files": (f"/api/projects/{seeded['project']}/files", auth),
            "GET .../messages": (f"/api/chats/{seeded['chat']}/messages", auth),
        }
        results = {}
        for name, (path, headers) in endpoints.items():

            def get(http, _, path=path, headers=headers):  # type: ignore[no-untyped-def]
                response = http.get(path, headers=headers)
                if response.status_code == 404 and path.endswith("no-such-route"):
                    response.status_code = 200  # the bare route answers 404 by design
                return response

            measure(base, get, args.clients, min(40, args.requests))  # warm every environment
            results[name] = measure(base, get, args.clients, args.requests)
        print(f"\n{args.clients} concurrent clients, {args.requests} requests per endpoint (ms)")
        print(header())
        for name, (samples, rate) in results.items():
            print(row(name, samples, rate))

        from mm_common import db

        print("\nplans of the list queries the endpoints ran:")
        with psycopg.connect(db.conninfo(), autocommit=True) as conn:
            for text, (query, params) in list(recorder.queries.items()):
                plan = [r[0] for r in conn.execute("EXPLAIN " + query, params).fetchall()]
                flagged = [line for line in plan if re.search(r"Seq Scan on (" + "|".join(BIG_TABLES) + r")\b", line)]
                print(f"\n-- {text[:160]}{'...' if len(text) > 160 else ''}")
                print("\n".join("   " + line for line in plan))
                print(
                    "   => "
                    + ("SEQUENTIAL SCAN OF A BIG TABLE: " + "; ".join(flagged) if flagged else "index access only")
                )


if __name__ == "__main__":
    main()
