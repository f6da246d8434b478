"""Builds a project version into its live preview: the version's files from S3, ``npm install`` + ``vite build``
with our fixed configuration (mm_common.preview), the site to the previews bucket under a new unguessable label.

A message names a queued build (``{"projectId", "buildId"}``, sent when its version was created or a user asked
for it). An automatic build a newer one of the same project supersedes is skipped, so a burst of versions builds
the last. The site is uploaded and the build marked ready as soon as Vite is done; the type check's problems and
the log follow when it ends. A redelivered message of a finished build does nothing; one of a build that was
cut off (the worker stopped) builds again under a new label.

The project's code is untrusted: it runs only in Node child processes with an allow-listed environment (no
credentials, no database settings), and this process is made non-dumpable so they cannot read its own.
"""

from __future__ import annotations

import json
import mimetypes
import os
import shutil
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from mm_common import db, preview_builds, snapshots
from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.observability import count, for_service, traced
from mm_common.preview import BuildResult, BuildStatus, Limits, NodeToolchain, ToolchainError, build_version
from mm_common.preview.cache import S3DependencyCache

SERVICE = "preview-build"
obs = for_service(SERVICE)
UPLOAD_PARALLELISM = 8
# Hashed assets never change under their name; pages are looked at again on every load.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_EXTRA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".webmanifest": "application/manifest+json"}


def work_dir() -> Path:
    """Where builds, warm dependency trees and npm's cache live (Lambda's /tmp; MM_DATA_DIR locally)."""
    return Path(os.environ.get("PREVIEW_WORK_DIR") or Path(tempfile.gettempdir()) / "mm-preview")


@cache
def toolchain() -> NodeToolchain:
    return NodeToolchain.discover()


def build_record(record: SQSRecord) -> None:
    message: dict[str, Any] = json.loads(record.body)
    # Ids, not free text; a malformed message fails (and reaches the dead-letter queue) without a build.
    project_id = uuid.UUID(str(message["projectId"]))
    build_id = uuid.UUID(str(message["buildId"]))
    run_build(project_id, build_id)


@traced(SERVICE)
def run_build(project_id: uuid.UUID, build_id: uuid.UUID) -> None:
    with db.transaction() as conn:
        claimed = preview_builds.claim(conn, project_id, build_id)
    if claimed is None:
        count(SERVICE, "BuildNotNeeded")
        return
    queued_s = max(0.0, (claimed["started_at"] - claimed["created_at"]).total_seconds())
    try:
        node = toolchain()
    except ToolchainError as error:
        # The deployment's fault, not the project's: say so in the build and the logs.
        obs.logger.error("no usable Node toolchain for preview builds", extra={"error": str(error)})
        record_outcome(
            build_id,
            "failed",
            "The preview builder is not set up (no usable Node). An operator is told.",
            str(error),
            [],
            {},
            None,
        )
        return
    manifest = snapshots.get_manifest(claimed["manifest_key"])
    blobs = snapshots.get_blobs(claimed["organization_id"], [entry["sha256"] for entry in manifest.values()])
    files = {path: blobs[entry["sha256"]] for path, entry in manifest.items()}
    label = preview_builds.new_label()
    upload_s: list[float] = []

    def site_ready(dist: Path) -> None:
        started = time.monotonic()
        upload_site(dist, label)
        upload_s.append(time.monotonic() - started)
        with db.transaction() as conn:
            preview_builds.mark_site_ready(conn, build_id, label, checking=True)

    root = work_dir()
    result: BuildResult | None = None
    try:
        result = build_version(
            files,
            workdir=root,
            cache=S3DependencyCache(get_settings().previews_bucket),
            limits=Limits(),
            node=node,
            npm_cache_dir=root / "npm-cache",
            on_dist_ready=site_ready,
        )
    finally:
        if result is not None:
            shutil.rmtree(result.build_dir, ignore_errors=True)
    timings = {"queued": round(queued_s, 3), **result.timings}
    if upload_s:
        timings["upload"] = round(upload_s[0], 3)
    record_outcome(
        build_id,
        result.status.value,
        result.message,
        result.log,
        [problem.to_json() for problem in result.problems],
        timings,
        result.dependency_source.value if result.dependency_source else None,
    )
    count(
        SERVICE,
        {BuildStatus.READY: "BuildReady", BuildStatus.FAILED: "BuildFailed"}.get(result.status, "BuildUnsupported"),
    )
    obs.logger.info(
        "preview build finished",
        extra={"build_id": str(build_id), "status": result.status.value, "timings": timings},
    )


def record_outcome(
    build_id: uuid.UUID,
    status: str,
    message: str,
    log: str,
    problems: list[dict[str, Any]],
    timings: dict[str, float],
    dependency_source: str | None,
) -> None:
    with db.transaction() as conn:
        preview_builds.finish(
            conn,
            build_id,
            status=status,
            message=message,
            log=log,
            problems=problems,
            timings=timings,
            dependency_source=dependency_source,
        )


def content_type(path: Path) -> str:
    guessed = _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") or guessed.endswith("json") else guessed


def upload_site(dist: Path, label: str) -> int:
    """Put every file of ``dist`` under the label's prefix of the previews bucket; return how many."""
    bucket = get_settings().previews_bucket
    prefix = preview_builds.site_prefix(label)
    s3 = client("s3")
    files = [path for path in dist.rglob("*") if path.is_file()]

    def put(path: Path) -> None:
        relative = path.relative_to(dist).as_posix()
        s3.put_object(
            Bucket=bucket,
            Key=prefix + relative,
            Body=path.read_bytes(),
            ContentType=content_type(path),
            CacheControl=IMMUTABLE if relative.startswith("assets/") else REVALIDATE,
        )

    with ThreadPoolExecutor(max_workers=max(1, min(UPLOAD_PARALLELISM, len(files)))) as pool:
        list(pool.map(put, files))
    return len(files)
