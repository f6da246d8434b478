"""Deploy speed (issue 11) against the Gitea and Easypanel emulators, through the real API and the
real deploy state machine:

1. a first deploy and an update (after a one-file edit) of a blank project, end to end from
   ``POST /api/projects/{id}/deploy`` (or ``/deploy/update``) until ``GET /api/deployments/{id}``
   reads ``success``; the emulated build's own time (its deploy action, as the emulator records
   it) is subtracted to give our overhead; the time of each step from the step timeline;
2. the Gitea mirror of a one-file edit in a project of 2,000 files: the ChangeFiles calls
   (``POST /repos/{owner}/{repo}/contents``) it makes, the operations in them, its wall time.

    python bench/deploy.py [--runs 5] [--edits 3] [--files 2000] [--file-bytes 2048] [--poll-ms 50]
                           [--big-updates 0]

``--big-updates N`` also deploys the 2,000-file project and updates it N times (slow: every step that
reads the version reads every file).

Runs an in-process stack of its own, with the emulators; the workers do not run on their own:
the bench drives the mirror's SQS poller itself.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from harness import in_process_stack, percentile, signed_in_token

if TYPE_CHECKING:
    from devstack.easypanel import EasypanelEmulator
    from devstack.gitea import GiteaEmulator
    from devstack.workers import QueuePoller

TARGET_END_TO_END_S = 5.0
MIRROR_FUNCTION = "GiteaMirrorFunction"
DEPLOY_TIMEOUT_S = 120.0
EDITED_FILE = "index.html"


# ------------------------------------------------------------------------------------------ set-up
def seed_user() -> tuple[Any, str]:
    """A verified user (id, e-mail); organizations are added per project (the free tier deploys one each)."""
    from mm_common import db
    from mm_common.passwords import hash_password

    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    with db.transaction() as conn:
        user = conn.execute(
            "INSERT INTO users (email, password_hash, email_verified) VALUES (%s, %s, TRUE) RETURNING id",
            (email, hash_password("bench-passphrase-1")),
        ).fetchone()
    assert user is not None
    return user["id"], email


def new_organization(user_id: Any) -> str:
    from mm_common import db

    with db.transaction() as conn:
        org = conn.execute(
            "INSERT INTO organizations (name, slug, owner_id) VALUES ('Bench', %s, %s) RETURNING id",
            (f"bench-{uuid.uuid4().hex[:8]}", user_id),
        ).fetchone()
        assert org is not None
        conn.execute(
            "INSERT INTO organization_members (organization_id, user_id, role) VALUES (%s, %s, 'owner')",
            (org["id"], user_id),
        )
    return str(org["id"])


def new_project(http: httpx.Client, user_id: Any, name: str) -> str:
    """A blank project (index.html, styles.css, …) in an organization of its own."""
    response = http.post(
        "/api/projects", json={"organizationId": new_organization(user_id), "name": name, "template": "blank"}
    )
    ok(response)
    return str(response.json()["project"]["id"])


def ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered {response.status_code}: {response.text}"
        )
    return response


def edit(http: httpx.Client, project_id: str, path: str, run: int) -> None:
    content = f"<!doctype html><title>Bench</title><p>edit {run} {uuid.uuid4().hex}</p>\n"
    ok(http.put(f"/api/projects/{project_id}/files/{path}", json={"content": content}))


# ------------------------------------------------------------------------------------------ deploys
@dataclass
class Deployment:
    end_to_end_s: float
    build_s: float  # the emulated build: its deploy action's createdAt → updatedAt
    accepted_s: float  # the POST's own answer (202)
    to_first_step_s: float  # POST sent → the first step started (the timeline's clock)
    between_steps_s: float  # first step's start → last step's end, minus the steps themselves
    after_completed_s: float  # the deployment's completedAt → the client read success
    steps: dict[str, float] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)

    @property
    def overhead_s(self) -> float:
        return self.end_to_end_s - self.build_s


def _instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def deploy(http: httpx.Client, panel: EasypanelEmulator, path: str, poll_s: float) -> Deployment:
    """One deployment through the API, followed the way the UI does (GET the deployment until it ends)."""
    actions_before = set(panel.actions)
    posted_at = time.time()
    start = time.perf_counter()
    response = ok(http.post(path))
    accepted = time.perf_counter() - start
    deployment_id = response.json()["deployment"]["id"]
    while True:
        detail = ok(http.get(f"/api/deployments/{deployment_id}")).json()
        status = detail["deployment"]["status"]
        if status in ("success", "failed"):
            break
        if time.perf_counter() - start > DEPLOY_TIMEOUT_S:
            raise RuntimeError(f"deployment {deployment_id} still {status} after {DEPLOY_TIMEOUT_S:.0f} s")
        time.sleep(poll_s)
    end_to_end = time.perf_counter() - start
    seen_at = time.time()
    if status != "success":
        logs = http.get(f"/api/deployments/{deployment_id}/logs").json()
        lines = "\n".join(line["line"] for line in logs["lines"])
        raise RuntimeError(f"deployment {deployment_id} failed:\n{lines}\n{logs['buildLog'] or ''}")

    builds = [action for action_id, action in list(panel.actions.items()) if action_id not in actions_before]
    if len(builds) != 1 or builds[0].status != "done":
        raise RuntimeError(f"expected one finished build for deployment {deployment_id}, found {builds}")
    build = (builds[0].updated_at - builds[0].created_at).total_seconds()

    # The deployment reads success inside MarkLive: the step's own end is recorded just after.
    steps = detail["steps"]
    while any(s["endedAt"] is None for s in steps):
        if time.perf_counter() - start > DEPLOY_TIMEOUT_S:
            raise RuntimeError(f"deployment {deployment_id} has steps that never ended: {steps}")
        time.sleep(poll_s)
        steps = ok(http.get(f"/api/deployments/{deployment_id}")).json()["steps"]
    spans = [(s["step"], _instant(s["startedAt"]), _instant(s["endedAt"])) for s in steps]
    durations = {name: ended - started for name, started, ended in spans}
    first_start = min(started for _, started, _ in spans)
    last_end = max(ended for _, _, ended in spans)
    return Deployment(
        end_to_end_s=end_to_end,
        build_s=build,
        accepted_s=accepted,
        to_first_step_s=first_start - posted_at,
        between_steps_s=(last_end - first_start) - sum(durations.values()),
        after_completed_s=seen_at - _instant(detail["deployment"]["completedAt"]),
        steps=durations,
        attempts={s["step"]: int(s["attempts"]) for s in steps},
    )


def deploy_runs(
    http: httpx.Client, panel: EasypanelEmulator, user_id: Any, runs: int, poll_s: float
) -> tuple[list[Deployment], list[Deployment]]:
    """Per run: a new blank project's first deploy, then an update after a one-file edit."""
    firsts, updates = [], []
    for run in range(runs):
        project_id = new_project(http, user_id, f"Deploy {run}")
        firsts.append(deploy(http, panel, f"/api/projects/{project_id}/deploy", poll_s))
        edit(http, project_id, EDITED_FILE, run)
        updates.append(deploy(http, panel, f"/api/projects/{project_id}/deploy/update", poll_s))
        print(
            f"  run {run + 1}/{runs}: first deploy {firsts[-1].end_to_end_s:.2f} s,"
            f" update {updates[-1].end_to_end_s:.2f} s"
        )
    return firsts, updates


# ------------------------------------------------------------------------------------------ the mirror
@dataclass
class Mirror:
    wall_s: float
    change_files_calls: int
    operations: int
    requests: int  # every Gitea request the mirror made (branch, tree pages, ChangeFiles…)
    s3_gets: int  # the functions' S3 GetObject calls meanwhile (manifests, blobs)


def add_files(project_id: str, count: int, size: int) -> None:
    """``count`` files written straight into the working copy (as bench/versions.py does)."""
    from mm_common import db
    from mm_common.paths import language_for
    from mm_common.snapshots import sha256_hex

    rng = random.Random(7)
    with (
        db.transaction() as conn,
        conn.cursor().copy(
            "COPY project_files (project_id, path, content, encoding, language, size, sha256) FROM STDIN"
        ) as copy,
    ):
        for i in range(count):
            path = f"src/module{i // 100}/file{i}.ts"
            body = f"// {path}\n" + "".join(rng.choices(string.ascii_letters + "\n ", k=size))
            data = body.encode()
            copy.write_row((project_id, path, body, "utf-8", language_for(path), len(data), sha256_hex(data)))


def unmirrored_versions(project_id: str) -> int:
    from mm_common import db

    with db.transaction() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM project_versions WHERE project_id = %s AND gitea_commit_id IS NULL",
            (project_id,),
        ).fetchone()
    assert row is not None
    return int(row["n"])


class GetCounter:
    """S3 GetObject calls on the functions' own S3 client (one client, shared by their threads)."""

    def __init__(self) -> None:
        from mm_common.aws import client as aws_client

        self.count = 0
        self._lock = threading.Lock()
        aws_client("s3").meta.events.register("before-call.s3.GetObject", self._count)

    def _count(self, **_: object) -> None:
        with self._lock:
            self.count += 1

    def take(self) -> int:
        with self._lock:
            count, self.count = self.count, 0
        return count


def mirror_pending(poller: QueuePoller, gitea: GiteaEmulator, gets: GetCounter, project_id: str) -> Mirror:
    """Run the mirror worker on the queued messages (each poll: receive, the worker, delete) until the
    project has no version left to mirror; what it asked of Gitea and S3 meanwhile."""
    gitea.requests.clear()
    gets.take()
    start = time.perf_counter()
    while unmirrored_versions(project_id):
        if time.perf_counter() - start > DEPLOY_TIMEOUT_S:
            raise RuntimeError(f"project {project_id} still has versions to mirror after {DEPLOY_TIMEOUT_S:.0f} s")
        poller.poll_once(wait_s=1)
    wall = time.perf_counter() - start
    seen = list(gitea.requests)
    change_files = [r for r in seen if r.method == "POST" and r.path.endswith("/contents")]
    failed = [r for r in seen if r.status >= 400]
    if failed:
        raise RuntimeError(f"the mirror's Gitea requests failed: {failed}")
    operations = sum(len(r.operations) for r in change_files)
    return Mirror(wall, len(change_files), operations, len(seen), gets.take())


def drain(poller: QueuePoller) -> None:
    """Messages of earlier projects (their versions are already in Gitea: the deploys pushed them)."""
    while poller.poll_once(wait_s=0):
        pass


def mirror_runs(
    http: httpx.Client, gitea: GiteaEmulator, poller: QueuePoller, user_id: Any, runs: int, files: int, size: int
) -> tuple[Mirror, list[Mirror], str]:
    """A project of ``files`` files mirrored once, then ``runs`` versions after a one-file edit each;
    the project's id."""
    drain(poller)
    gets = GetCounter()
    project_id = new_project(http, user_id, "Big")
    add_files(project_id, files, size)
    ok(http.post(f"/api/projects/{project_id}/versions"))
    first = mirror_pending(poller, gitea, gets, project_id)
    edits = []
    for run in range(runs):
        ok(http.put(f"/api/projects/{project_id}/files/src/module0/file0.ts", json={"content": f"// edit {run}\n"}))
        ok(http.post(f"/api/projects/{project_id}/versions"))
        edits.append(mirror_pending(poller, gitea, gets, project_id))
    return first, edits, project_id


def big_project_deploys(
    http: httpx.Client, panel: EasypanelEmulator, project_id: str, updates: int, poll_s: float
) -> tuple[list[Deployment], list[Deployment]]:
    """The mirror's big project deployed, then updated ``updates`` times after a one-file edit each."""
    first = deploy(http, panel, f"/api/projects/{project_id}/deploy", poll_s)
    print(f"  first deploy {first.end_to_end_s:.2f} s")
    done = []
    for run in range(updates):
        edit(http, project_id, EDITED_FILE, run)
        done.append(deploy(http, panel, f"/api/projects/{project_id}/deploy/update", poll_s))
        print(f"  update {run + 1}/{updates}: {done[-1].end_to_end_s:.2f} s")
    return [first], done


# ------------------------------------------------------------------------------------------ output
def p50(values: list[float]) -> float:
    return float(percentile(values, 50))


def p95(values: list[float]) -> float:
    return float(percentile(values, 95))


def seconds_row(label: str, columns: list[list[float]]) -> str:
    cells = "".join(f"{p50(c):>9.3f}{p95(c):>9.3f}" for c in columns)
    return f"{label:<44}{cells}"


def print_deploys(title: str, firsts: list[Deployment], updates: list[Deployment], poll_ms: int) -> None:
    both = [firsts, updates]
    print(
        f"\n{title} ({len(firsts)} first deploy(s), {len(updates)} update(s); seconds; DEPLOY_POLL_SECONDS=0;"
        f"\nthe client looks at the deployment every {poll_ms} ms, the API's per-user rate limit lifted for it)"
    )
    print(f"{'':<44}{'first deploy':>18}{'update':>18}")
    print(f"{'':<44}{'p50':>9}{'p95':>9}{'p50':>9}{'p95':>9}")
    print(seconds_row("end to end (POST → reads success)", [[d.end_to_end_s for d in ds] for ds in both]))
    print(seconds_row("emulated build (clone + static build)", [[d.build_s for d in ds] for ds in both]))
    print(seconds_row("our overhead (end to end − build)", [[d.overhead_s for d in ds] for ds in both]))
    print("where the end to end time goes:")
    print(seconds_row("  POST answered (202)", [[d.accepted_s for d in ds] for ds in both]))
    print(seconds_row("  POST sent → first step started", [[d.to_first_step_s for d in ds] for ds in both]))
    names = list(firsts[0].steps)
    for name in names:
        columns = [[d.steps.get(name, 0.0) for d in ds] for ds in both]
        attempts = max(d.attempts.get(name, 0) for ds in both for d in ds)
        note = f"   (≤{attempts} looks)" if attempts > 1 else ""
        print(seconds_row(f"  step {name}", columns) + note)
    print(seconds_row("  between steps (the state machine)", [[d.between_steps_s for d in ds] for ds in both]))
    print(seconds_row("  completedAt → client read success", [[d.after_completed_s for d in ds] for ds in both]))


def print_mirror(first: Mirror, edits: list[Mirror], files: int) -> None:
    print(f"\nGitea mirror of a project of {files:,} (+ the template's) files; {len(edits)} one-file edits")
    print(f"{'':<44}{'p50':>9}{'p95':>9}{'max':>9}")

    def row(label: str, values: list[float], digits: int) -> None:
        print(f"{label:<44}{p50(values):>9.{digits}f}{p95(values):>9.{digits}f}{max(values):>9.{digits}f}")

    row("ChangeFiles calls per version", [m.change_files_calls for m in edits], 0)
    row("operations in them", [m.operations for m in edits], 0)
    row("Gitea requests in all", [m.requests for m in edits], 0)
    row("S3 GetObject calls (manifest, every blob)", [m.s3_gets for m in edits], 0)
    row("wall time (ms; SQS polls until mirrored)", [m.wall_s * 1000 for m in edits], 1)
    print(
        f"(the first mirror of the whole project: {first.change_files_calls} ChangeFiles call(s),"
        f" {first.operations:,} operations, {first.requests} requests, {first.wall_s * 1000:.0f} ms)"
    )


DeployGroup = tuple[str, list[Deployment]]


def print_targets(groups: list[DeployGroup], edits: list[Mirror]) -> None:
    def verdict(passed: bool) -> str:
        return "PASS" if passed else "MISS"

    rows: list[tuple[str, str, bool]] = []
    for label, runs in groups:
        end_to_end = p95([d.end_to_end_s for d in runs])
        rows.append((f"{label}: end to end, p95 < {TARGET_END_TO_END_S:.0f} s", f"{end_to_end:.2f} s", end_to_end < 5))
        overhead = p95([d.overhead_s for d in runs])
        rows.append((f"{label}: our overhead, p95 < {TARGET_END_TO_END_S:.0f} s", f"{overhead:.2f} s", overhead < 5))
    calls = max(m.change_files_calls for m in edits)
    operations = max(m.operations for m in edits)
    rows.append(("mirror of a 1-file edit: 1 ChangeFiles call", f"max {calls}", calls == 1))
    rows.append(("mirror of a 1-file edit: 1 operation in it", f"max {operations}", operations == 1))
    print(f"\n{'target':<56}{'measured':>12}{'':>4}result")
    for label, measured, passed in rows:
        print(f"{label:<56}{measured:>12}{'':>4}{verdict(passed)}")


# ------------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="deploys of each kind (default 5)")
    parser.add_argument("--edits", type=int, default=3, help="one-file edits mirrored (default 3; ~10 s each)")
    parser.add_argument("--files", type=int, default=2000, help="files of the mirror's project (default 2000)")
    parser.add_argument("--file-bytes", type=int, default=2048)
    parser.add_argument("--poll-ms", type=int, default=50, help="the client's look at a deployment (default 50)")
    parser.add_argument(
        "--big-updates",
        type=int,
        default=0,
        help="also deploy the mirror's big project, then update it this many times (default 0: not; ~1 min each)",
    )
    args = parser.parse_args()
    # Builds run on their own in the emulator (a thread, as a real panel builds while we look), so
    # their time is the emulator's, not spent inside our steps; the mirror's poller is driven here.
    with in_process_stack(easypanel_build_mode="background", run_workers=False) as (stack, base):
        assert stack.easypanel is not None and stack.gitea is not None
        # After start: the stack sets every function's template environment (DEPLOY_POLL_SECONDS=5)
        # when it starts. 0: the state machine's Wait states do not wait (moto really sleeps them).
        os.environ["DEPLOY_POLL_SECONDS"] = "0"
        # The bench looks at a deployment every --poll-ms, far more often than the UI: the API's
        # per-user limit (100 requests a minute) would answer 429 to it.
        os.environ["RATE_LIMIT_API_PER_MINUTE"] = "1000000"
        from mm_common.config import get_settings

        get_settings.cache_clear()
        user_id, email = seed_user()
        token = signed_in_token(user_id, email)
        panel, gitea = stack.easypanel.emulator, stack.gitea.emulator
        poller = stack.pollers[MIRROR_FUNCTION][0]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300) as http:
            print(f"\n{args.runs} first deploys and {args.runs} updates of a blank project (a new one each run)")
            firsts, updates = deploy_runs(http, panel, user_id, args.runs, args.poll_ms / 1000)
            print(f"\nmirroring a {args.files:,}-file project, then {args.edits} one-file edits")
            first, edits, big = mirror_runs(http, gitea, poller, user_id, args.edits, args.files, args.file_bytes)
            big_firsts: list[Deployment] = []
            big_updates: list[Deployment] = []
            if args.big_updates:
                print(f"\ndeploying the {args.files:,}-file project, then {args.big_updates} update(s)")
                big_firsts, big_updates = big_project_deploys(http, panel, big, args.big_updates, args.poll_ms / 1000)
    print_deploys("Deploys of a blank project", firsts, updates, args.poll_ms)
    groups: list[DeployGroup] = [("first deploy", firsts), ("update", updates)]
    if big_updates:
        print_deploys(f"Deploys of the {args.files:,}-file project", big_firsts, big_updates, args.poll_ms)
        groups += [(f"{args.files:,} files: first deploy", big_firsts), (f"{args.files:,} files: update", big_updates)]
    print_mirror(first, edits, args.files)
    print_targets(groups, edits)
    print(
        "\nemulated build = the emulator's deploy action from createdAt to updatedAt (git clone of the repository"
        " + its\nstatic build, in the emulator's background thread); our overhead = end to end − that."
        " Step times are the\ntimeline's startedAt → endedAt (a polled step: first look → last look)."
    )


if __name__ == "__main__":
    main()
