"""The files listing of a 2,000-file project: p50/p95 of a 1,000-entry page against bare endpoints.

    python bench/files_listing.py [--files 2000] [--page 1000] [--clients 4] [--requests 200]

"bare (no db)" is an unmatched route (gateway, Lambda and the error handler only); "bare listing"
is the same listing with limit=1 (authorization and the query, almost no body), so the gap
between it and the full page is what building and serializing the page costs. Runs an
in-process stack of its own (its own database).
"""

from __future__ import annotations

import argparse
import os
import uuid

import httpx
from harness import header, local_stack, measure, row, signed_in_token


def seed(files: int) -> tuple[str, str]:
    """A user who owns an organization with one project of ``files`` small text files."""
    from mm_common import db
    from mm_common.passwords import hash_password

    with db.transaction() as conn:
        user = conn.execute(
            "INSERT INTO users (email, password_hash, email_verified) VALUES (%s, %s, TRUE) RETURNING id, email",
            (f"bench-{uuid.uuid4().hex[:8]}@example.com", hash_password("bench-passphrase-1")),
        ).fetchone()
        assert user is not None
        org = conn.execute(
            "INSERT INTO organizations (name, slug, owner_id) VALUES ('Bench', %s, %s) RETURNING id",
            (f"bench-{uuid.uuid4().hex[:8]}", user["id"]),
        ).fetchone()
        assert org is not None
        conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES (%s, %s, 'owner')",
            (org["id"], user["id"]),
        )
        project = conn.execute(
            "INSERT INTO projects (organization_id, name, slug, created_by) VALUES (%s, 'Big', 'big', %s) RETURNING id",
            (org["id"], user["id"]),
        ).fetchone()
        assert project is not None
        conn.execute(
            "INSERT INTO project_files (project_id, path, content, size, sha256, language)"
            " SELECT %s, 'src/module' || (g / 100) || '/file' || g || '.ts', 'export const x' || g || ' = 1;',"
            " 20, md5(g::text) || md5(g::text), 'typescript' FROM generate_series(1, %s) g",
            (project["id"], files),
        )
    return signed_in_token(user["id"], user["email"]), str(project["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--page", type=int, default=1000, help="entries per listed page")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200, help="per endpoint")
    args = parser.parse_args()
    os.environ["RATE_LIMIT_API_PER_MINUTE"] = "100000000"
    with local_stack() as base:
        token, project = seed(args.files)
        auth = {"Authorization": f"Bearer {token}"}
        listing = f"/api/projects/{project}/files"
        endpoints: dict[str, tuple[str, dict[str, str], dict[str, int]]] = {
            "bare (no db)": ("/api/no-such-route", {}, {}),
            "bare listing (limit=1)": (listing, auth, {"limit": 1}),
            f"listing (limit={args.page})": (listing, auth, {"limit": args.page}),
        }
        first = httpx.get(base + listing, headers=auth, params={"limit": args.page}, timeout=60)
        assert first.status_code == 200, first.text
        entries = len(first.json()["items"])
        assert entries == min(args.page, args.files), entries
        results = {}
        for name, (path, headers, params) in endpoints.items():

            def get(
                http: httpx.Client,
                _: int,
                path: str = path,
                headers: dict[str, str] = headers,
                params: dict[str, int] = params,
            ) -> httpx.Response:
                response = http.get(path, headers=headers, params=params)
                if response.status_code == 404 and path.endswith("no-such-route"):
                    response.status_code = 200  # the bare route answers 404 by design
                return response

            measure(base, get, args.clients, min(40, args.requests))  # warm every environment
            results[name] = measure(base, get, args.clients, args.requests)
        print(
            f"\n{args.files} files, pages of {entries} entries ({len(first.content)} bytes);"
            f" {args.clients} concurrent clients, {args.requests} requests per endpoint (ms)"
        )
        print(header())
        for name, (samples, rate) in results.items():
            print(row(name, samples, rate))
        from harness import percentile

        bare = percentile(results["bare listing (limit=1)"][0], 50)
        full = percentile(results[f"listing (limit={args.page})"][0], 50)
        print(f"\nlisting p50 / bare listing p50 = {full / bare:.2f}x")


if __name__ == "__main__":
    main()
