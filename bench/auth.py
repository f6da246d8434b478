"""Sign-in and authenticated-request latency under N concurrent clients (ms).

    python bench/auth.py [--clients 4] [--requests 200]

Runs an in-process stack of its own with the login rate limit raised (the benchmark signs in
far more often than 5 times in 15 minutes from one address). Login cost is dominated by
argon2id, on purpose; an authenticated GET /api/users/me is JWT check + one user lookup +
the rate-limit upsert + the handler's own query.
"""

from __future__ import annotations

import argparse
import os

import httpx
from harness import header, local_stack, measure, row

PASSWORD = "benchmark-passphrase-1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    os.environ["RATE_LIMIT_LOGIN_PER_15_MIN"] = "1000000"
    os.environ["RATE_LIMIT_API_PER_MINUTE"] = "1000000"
    with local_stack() as base:
        from mm_common import db
        from mm_common.passwords import hash_password

        users = [f"bench-{i}@example.com" for i in range(args.clients)]
        with db.transaction() as conn:
            password_hash = hash_password(PASSWORD)
            for email in users:
                conn.execute(
                    "INSERT INTO users (email, password_hash, email_verified) VALUES (%s, %s, TRUE)"
                    " ON CONFLICT DO NOTHING",
                    (email, password_hash),
                )

        def sign_in(http, n):  # type: ignore[no-untyped-def]
            return http.post("/api/auth/login", json={"email": users[n % len(users)], "password": PASSWORD})

        with httpx.Client(base_url=base) as http:
            tokens = [sign_in(http, i).json()["accessToken"] for i in range(len(users))]

        def me(http, n):  # type: ignore[no-untyped-def]
            return http.get("/api/users/me", headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"})

        measure(base, me, args.clients, 40)  # warm every environment
        login_samples = measure(base, sign_in, args.clients, args.requests)
        me_samples = measure(base, me, args.clients, args.requests * 4)
        print(f"\n{args.clients} concurrent clients (ms)")
        print(header())
        print(row("POST /api/auth/login", *login_samples))
        print(row("GET /api/users/me", *me_samples))


if __name__ == "__main__":
    main()
