"""The AI pipeline's own costs on a 2,000-file project (model time excluded):
context build time and tokens chosen; time to parse and apply a 50-file answer and create its version.

    python bench/generation.py [--files 2000] [--answer-files 50]

Runs an in-process stack of its own; the "answer" is generated text in our edit protocol.
"""

from __future__ import annotations

import argparse
import random
import string
import time
import uuid

from harness import local_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--answer-files", type=int, default=50)
    args = parser.parse_args()
    with local_stack():
        from psycopg.types.json import Jsonb

        from mm_common import db, versions
        from mm_common.ai import generation, proposals
        from mm_common.ai.edit_protocol import parse_answer
        from mm_common.paths import language_for
        from mm_common.snapshots import sha256_hex

        rng = random.Random(5)
        with db.transaction() as conn:
            user = conn.execute(
                "INSERT INTO users (email, password_hash, email_verified) VALUES (%s, 'x', TRUE) RETURNING id",
                (f"gen-{uuid.uuid4().hex[:8]}@example.com",),
            ).fetchone()
            assert user is not None
            org = conn.execute(
                "INSERT INTO organizations (name, slug, owner_id) VALUES ('Gen', %s, %s) RETURNING id",
                (f"gen-{uuid.uuid4().hex[:8]}", user["id"]),
            ).fetchone()
            assert org is not None
            project = conn.execute(
                "INSERT INTO projects (organization_id, name, slug) VALUES (%s, 'Big', 'big') RETURNING id",
                (org["id"],),
            ).fetchone()
            assert project is not None
            chat = conn.execute("INSERT INTO chats (project_id) VALUES (%s) RETURNING id", (project["id"],)).fetchone()
            assert chat is not None
            with conn.cursor().copy(
                "COPY project_files (project_id, path, content, encoding, language, size, sha256) FROM STDIN"
            ) as copy:
                for i in range(args.files):
                    path = f"src/module{i // 100}/file{i}.ts"
                    body = f"export const value{i} = {i};\n" + "".join(
                        rng.choices(string.ascii_letters + "\n ", k=1500)
                    )
                    data = body.encode()
                    copy.write_row(
                        (project["id"], path, body, "utf-8", language_for(path), len(data), sha256_hex(data))
                    )

        # The project's existing history: a first full snapshot (not measured).
        with db.transaction() as conn:
            versions.create_version(conn, project["id"], source="import", message="baseline", created_by=user["id"])

        model = {"context_window": 200_000, "max_output_tokens": 32_000}
        with db.transaction() as conn:
            started = time.perf_counter()
            files, history, recent = generation.load_inputs(conn, project_id=project["id"], chat_id=chat["id"])
            loaded = time.perf_counter()
            _messages, plan = generation.build_messages(
                files, history, "fix file7.ts and file8.ts", recent, model, "build"
            )
            built = time.perf_counter()
        print(f"\n{args.files} files, model window {model['context_window']:,} tokens\n")
        print(f"{'load files + history':<44}{(loaded - started) * 1000:>10.1f} ms")
        print(f"{'choose files and build the prompt':<44}{(built - loaded) * 1000:>10.1f} ms")
        print(f"{'files sent whole / listed by path':<44}{len(plan.included):>10} / {len(plan.listed)}")
        print(f"{'tokens: files / budget':<44}{plan.file_tokens:>10,} / {plan.budget:,}")

        answer = (
            "Here are the changes.\n"
            + "".join(
                f'<mm-write path="src/generated/part{i}.ts">\nexport const part{i} = "{"x" * 1500}";\n</mm-write>\n'
                for i in range(args.answer_files)
            )
            + "<mm-chat-summary>Generated parts</mm-chat-summary>"
        )
        started = time.perf_counter()
        parsed = parse_answer(answer)
        parsed_at = time.perf_counter()
        proposal = generation.proposal_from(parsed, files)
        with db.transaction() as conn:
            message = conn.execute(
                "INSERT INTO messages (chat_id, role, content, approval_state, proposal)"
                " VALUES (%s, 'assistant', %s, 'pending', %s) RETURNING id",
                (chat["id"], answer, Jsonb(proposal)),
            ).fetchone()
            assert message is not None
        applied_at = time.perf_counter()
        with db.transaction() as conn:
            version = proposals.approve(conn, message["id"], user["id"])
        done = time.perf_counter()
        label = f"parse a {args.answer_files}-file answer ({len(answer) // 1024} KiB)"
        print(f"{label:<44}{(parsed_at - started) * 1000:>10.1f} ms")
        label = "apply it and create its version"
        detail = f"(version {version['number']}, {version['file_count']} files)"
        print(f"{label:<44}{(done - applied_at) * 1000:>10.1f} ms  {detail}")


if __name__ == "__main__":
    main()
