"""Versions of a 2,000-file project: time and S3 PUTs for a version after a one-file edit,
for a restore and for a diff (after one full snapshot).

    python bench/versions.py [--files 2000] [--file-bytes 2048]

Runs an in-process stack of its own; S3 PUTs are counted on the functions' own S3 client.
"""

from __future__ import annotations

import argparse
import random
import string
import time
import uuid

import httpx
from harness import local_stack, signed_in_token

from mm_common.aws import client as aws_client


class PutCounter:
    def __init__(self) -> None:
        self.count = 0
        aws_client("s3").meta.events.register("before-call.s3.PutObject", self._count)

    def _count(self, **_: object) -> None:
        self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def timed(label: str, counter: PutCounter, call):  # type: ignore[no-untyped-def]
    counter.take()
    start = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code < 400, response.text
    print(f"{label:<44}{elapsed:>10.1f} ms{counter.take():>8} S3 PUTs")
    return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--file-bytes", type=int, default=2048)
    args = parser.parse_args()
    with local_stack() as base:
        from mm_common import db
        from mm_common.passwords import hash_password
        from mm_common.paths import language_for
        from mm_common.snapshots import sha256_hex

        with db.transaction() as conn:
            user = conn.execute(
                "INSERT INTO users (email, password_hash, email_verified) VALUES (%s, %s, TRUE) RETURNING id",
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
        token = signed_in_token(user["id"], "bench@example.com")
        http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300)
        project = http.post(
            "/api/projects", json={"organizationId": str(org["id"]), "name": "Big", "template": "blank"}
        )
        pid = project.json()["project"]["id"]

        rng = random.Random(7)
        with (
            db.transaction() as conn,
            conn.cursor().copy(
                "COPY project_files (project_id, path, content, encoding, language, size, sha256) FROM STDIN"
            ) as copy,
        ):
            for i in range(args.files):
                path = f"src/module{i // 100}/file{i}.ts"
                body = f"// {path}\n" + "".join(rng.choices(string.ascii_letters + "\n ", k=args.file_bytes))
                data = body.encode()
                copy.write_row((pid, path, body, "utf-8", language_for(path), len(data), sha256_hex(data)))
        print(f"\nproject with {args.files + 4} files of ~{args.file_bytes} bytes\n")
        counter = PutCounter()
        first = timed("first version (every blob new)", counter, lambda: http.post(f"/api/projects/{pid}/versions"))
        http.put(f"/api/projects/{pid}/files/src/module0/file0.ts", json={"content": "export const edited = true;\n"})
        second = timed("version after a 1-file edit", counter, lambda: http.post(f"/api/projects/{pid}/versions"))
        v1, v2 = first.json()["version"]["id"], second.json()["version"]["id"]
        timed(
            "diff of those two versions",
            counter,
            lambda: http.get(f"/api/projects/{pid}/versions/{v2}/diff?against={v1}"),
        )
        timed("restore of the first version", counter, lambda: http.post(f"/api/projects/{pid}/versions/{v1}/restore"))
        timed("list files (first page of 1000)", counter, lambda: http.get(f"/api/projects/{pid}/files"))


if __name__ == "__main__":
    main()
