"""Live preview: time from a new version to its preview being served, on the React template.

    python bench/preview.py [--runs 3]

Runs an in-process stack with its workers on (as `make dev` does): a version is made the way an approved AI
turn makes one (the files written, then a version), and the clock stops when the API says ready and the site
answers on its preview host. Cases: the project's first build (cold: npm install from the registry, or npm's
cache), an edit (warm: the dependency tree is reused), a dependency change (npm install of one more package,
then archived), and a worker that lost its warm tree (restored from the dependency archive in S3).
Targets: warm <= 4 s, dependency change <= 10 s. Also printed: the build's own steps and the peak memory of
the build's child processes (the worker has 2,048 MB).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from harness import in_process_stack, seed_owner, signed_in_token

TEMPLATE = "react-vite-ts-tailwind"
WARM_TARGET_S = 4.0
DEPENDENCY_TARGET_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="warm edits and dependency changes measured")
    args = parser.parse_args()
    with in_process_stack(run_workers=True) as (stack, base):
        user_id, email, org_id = seed_owner("Preview")
        headers = {"Authorization": f"Bearer {signed_in_token(user_id, email)}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            started = time.perf_counter()
            created = http.post(
                "/api/projects", json={"organizationId": str(org_id), "name": "Bench", "template": TEMPLATE}
            )
            created.raise_for_status()
            project = created.json()["project"]
            rows: list[tuple[str, float, dict[str, Any]]] = []
            cold_s, cold = wait_ready(http, project, project["currentVersionId"], started)
            rows.append(("first build (cold)", cold_s, cold))

            warm: list[tuple[float, dict[str, Any]]] = []
            for run in range(args.runs):
                started = time.perf_counter()
                version = new_version(http, project, {"src/App.tsx": app_with_heading(http, project, f"Run {run}")})
                warm.append(wait_ready(http, project, version, started))

            dependency: list[tuple[float, dict[str, Any]]] = []
            for package in ["clsx", "ms", "dequal"][: args.runs]:
                started = time.perf_counter()
                version = new_version(http, project, {"package.json": with_dependency(http, project, package)})
                dependency.append(wait_ready(http, project, version, started))

            # A worker that starts afresh (a new Lambda environment): its warm trees are gone, S3 has the archive.
            shutil.rmtree(Path(stack.function_environment["PREVIEW_WORK_DIR"]) / "deps", ignore_errors=True)
            started = time.perf_counter()
            version = new_version(http, project, {"src/App.tsx": app_with_heading(http, project, "Fresh worker")})
            archive_s, archive = wait_ready(http, project, version, started)

    print()
    print(f"{'case':<34}{'to ready (s)':>14}{'deps':>10}{'build':>8}{'upload':>8}{'tsc':>8}  dependencies")
    for name, seconds, build in rows:
        print(line(name, seconds, build))
    for index, (seconds, build) in enumerate(warm):
        print(line(f"edit, warm #{index + 1}", seconds, build))
    for index, (seconds, build) in enumerate(dependency):
        print(line(f"dependency added #{index + 1}", seconds, build))
    print(line("fresh worker (archive in S3)", archive_s, archive))
    warm_median = statistics.median(seconds for seconds, _ in warm)
    dependency_median = statistics.median(seconds for seconds, _ in dependency)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print()
    warm_verdict = verdict(warm_median, WARM_TARGET_S)
    print(f"warm edit, median:          {warm_median:6.2f} s  (target <= {WARM_TARGET_S:.0f} s) {warm_verdict}")
    print(
        f"dependency change, median:  {dependency_median:6.2f} s  (target <= {DEPENDENCY_TARGET_S:.0f} s) "
        f"{verdict(dependency_median, DEPENDENCY_TARGET_S)}"
    )
    print(f"peak memory of one build child process: {peak_mb:.0f} MB (the worker has 2,048 MB)")


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "OVER TARGET"


def line(name: str, seconds: float, build: dict[str, Any]) -> str:
    timings = build["timings"]
    return (
        f"{name:<34}{seconds:>14.2f}{timings.get('dependencies', 0):>10.2f}{timings.get('build', 0):>8.2f}"
        f"{timings.get('upload', 0):>8.2f}{timings.get('typecheck', 0):>8.2f}  {build['dependencySource']}"
    )


def file_text(http: httpx.Client, project: dict[str, Any], path: str) -> str:
    response = http.get(f"/api/projects/{project['id']}/files/{path}")
    response.raise_for_status()
    return str(response.json()["content"])


def app_with_heading(http: httpx.Client, project: dict[str, Any], heading: str) -> str:
    text = file_text(http, project, "src/App.tsx")
    start = text.index(">", text.index('<h1 id="welcome-heading"')) + 1
    end = text.index("</h1>", start)
    return text[:start] + heading + text[end:]


def with_dependency(http: httpx.Client, project: dict[str, Any], package: str) -> str:
    manifest = json.loads(file_text(http, project, "package.json"))
    manifest["dependencies"][package] = "*"
    return json.dumps(manifest, indent=2) + "\n"


def new_version(http: httpx.Client, project: dict[str, Any], files: dict[str, str]) -> str:
    """What approving an AI turn does: write the files, then record a version."""
    for path, content in files.items():
        http.put(f"/api/projects/{project['id']}/files/{path}", json={"content": content}).raise_for_status()
    created = http.post(f"/api/projects/{project['id']}/versions", json={"message": "bench"})
    created.raise_for_status()
    return str(created.json()["version"]["id"])


def wait_ready(
    http: httpx.Client, project: dict[str, Any], version_id: str, started: float
) -> tuple[float, dict[str, Any]]:
    """Watch the build's row every 20 ms (the API's per-user rate limit would not allow polling it this fast)
    until the site is up and answers on its preview host; then (seconds, the build as the API shows it)."""
    from mm_common import db

    deadline = started + 300
    while time.perf_counter() < deadline:
        with db.transaction() as conn:
            row = conn.execute(
                "SELECT status, label FROM preview_builds WHERE version_id = %s ORDER BY created_at DESC LIMIT 1",
                (version_id,),
            ).fetchone()
        if row is not None and row["status"] == "ready":
            host = f"{row['label']}.preview.localhost:{urlsplit(str(http.base_url)).port}"
            if http.get("/", headers={"Host": host}).status_code == 200:
                elapsed = time.perf_counter() - started
                return elapsed, settled(http, project, version_id)
        elif row is not None and row["status"] not in ("queued", "building"):
            raise RuntimeError(f"the build ended {row['status']}")
        time.sleep(0.02)
    raise RuntimeError("no ready preview within 300 s")


def settled(http: httpx.Client, project: dict[str, Any], version_id: str) -> dict[str, Any]:
    """The build once its type check is over too (its timings are complete then), read through the API."""
    while True:
        response = http.get(f"/api/projects/{project['id']}/versions/{version_id}/preview")
        response.raise_for_status()
        build = response.json()["preview"]["build"]
        if not build["checking"]:
            return dict(build)
        time.sleep(1)


if __name__ == "__main__":
    main()
