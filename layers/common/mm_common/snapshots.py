"""Content-addressed snapshot storage in S3.

A blob is a file's bytes under ``orgs/<org>/blobs/<sha256>``, shared by every version (and
project) of the organization that contains those bytes: storing a version uploads only blobs
S3 does not have yet, which ``snapshot_blobs`` records, so the check costs one query rather than
a HEAD per file. A manifest ``{path: {sha256, size, mode}}`` under the project's prefix describes
one version. Blobs are uploaded before the rows that point at them are committed; a blob whose
rows never committed is an orphan for the clean-up job to collect.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.db import Connection

# Parallel S3 requests per call: enough to hide latency, few enough for a 1 GB Lambda.
PARALLELISM = 16
# Keys per DeleteObjects request (S3 takes at most 1,000).
DELETE_BATCH = 1000

Manifest = dict[str, dict[str, Any]]  # path -> {"sha256", "size", "mode"}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_key(organization_id: Any, sha256: str) -> str:
    return f"orgs/{organization_id}/blobs/{sha256}"


def project_prefix(organization_id: Any, project_id: Any) -> str:
    return f"orgs/{organization_id}/projects/{project_id}/"


def manifest_key(organization_id: Any, project_id: Any, version_id: Any) -> str:
    return f"{project_prefix(organization_id, project_id)}versions/{version_id}.json"


def archive_key(organization_id: Any, project_id: Any, version_id: Any) -> str:
    return f"{project_prefix(organization_id, project_id)}archives/{version_id}.zip"


def _bucket() -> str:
    return get_settings().snapshots_bucket


def _lock_blobs(conn: Connection, organization_id: Any, *, exclusive: bool) -> None:
    """Writers that rely on ``snapshot_blobs`` share this lock; the garbage sweep takes it alone,
    so it never deletes a blob a version being written has just counted on (held to commit)."""
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.execute(f"SELECT {function}(hashtextextended(%s, 42))", (f"blobs:{organization_id}",))


def stored_blobs(conn: Connection, organization_id: Any, shas: Iterable[str]) -> set[str]:
    wanted = list(set(shas))
    if not wanted:
        return set()
    _lock_blobs(conn, organization_id, exclusive=False)
    rows = conn.execute(
        "SELECT sha256 FROM snapshot_blobs WHERE organization_id = %s AND sha256 = ANY(%s)",
        (organization_id, wanted),
    ).fetchall()
    return {row["sha256"] for row in rows}


def upload_blobs(conn: Connection, organization_id: Any, blobs: dict[str, bytes]) -> int:
    """Upload the blobs S3 does not have yet and record them; return how many were uploaded."""
    stored = stored_blobs(conn, organization_id, blobs)
    missing = {sha: data for sha, data in blobs.items() if sha not in stored}
    if not missing:
        return 0
    s3 = client("s3")

    def put(item: tuple[str, bytes]) -> None:
        sha, data = item
        s3.put_object(Bucket=_bucket(), Key=blob_key(organization_id, sha), Body=data)

    with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
        list(pool.map(put, missing.items()))
    conn.execute(
        """
        INSERT INTO snapshot_blobs (organization_id, sha256, size)
        SELECT %s, sha, size FROM unnest(%s::text[], %s::bigint[]) AS b(sha, size)
        ON CONFLICT DO NOTHING
        """,
        (organization_id, list(missing), [len(d) for d in missing.values()]),
    )
    return len(missing)


def get_blobs(organization_id: Any, shas: Iterable[str]) -> dict[str, bytes]:
    wanted = list(set(shas))
    if not wanted:
        return {}
    s3 = client("s3")

    def get(sha: str) -> tuple[str, bytes]:
        body = s3.get_object(Bucket=_bucket(), Key=blob_key(organization_id, sha))["Body"].read()
        return sha, body

    with ThreadPoolExecutor(max_workers=min(PARALLELISM, len(wanted))) as pool:
        return dict(pool.map(get, wanted))


def put_manifest(key: str, manifest: Manifest) -> str:
    """Store a manifest; return its sha256 (recorded with the version)."""
    body = json.dumps({"files": manifest}, sort_keys=True, separators=(",", ":")).encode("utf-8")
    client("s3").put_object(Bucket=_bucket(), Key=key, Body=body, ContentType="application/json")
    return sha256_hex(body)


def get_manifest(key: str) -> Manifest:
    body = client("s3").get_object(Bucket=_bucket(), Key=key)["Body"].read()
    files: Manifest = json.loads(body)["files"]
    return files


def delete_prefix(prefix: str, *, bucket: str | None = None) -> int:
    """Delete every object (and version) under a prefix of ``bucket`` (the snapshots bucket by default);
    return how many were deleted."""
    s3 = client("s3")
    bucket = bucket or _bucket()
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(objects), 1000):
            chunk = objects[start : start + 1000]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
            deleted += len(chunk)
    return deleted


def referenced_blobs(conn: Connection, organization_id: Any) -> set[str]:
    """Every blob the organization still needs: in a version's manifest, or a binary working file."""
    referenced = {
        row["sha256"]
        for row in conn.execute(
            "SELECT DISTINCT f.sha256 FROM project_files f JOIN projects p ON p.id = f.project_id"
            " WHERE p.organization_id = %s AND f.blob_key IS NOT NULL",
            (organization_id,),
        ).fetchall()
    }
    keys = conn.execute(
        "SELECT v.manifest_key FROM project_versions v JOIN projects p ON p.id = v.project_id"
        " WHERE p.organization_id = %s",
        (organization_id,),
    ).fetchall()
    s3 = client("s3")

    def shas(key: str) -> set[str]:
        body = s3.get_object(Bucket=_bucket(), Key=key)["Body"].read()
        return {entry["sha256"] for entry in json.loads(body)["files"].values()}

    with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
        for found in pool.map(shas, [row["manifest_key"] for row in keys]):
            referenced |= found
    return referenced


@dataclass(frozen=True)
class BlobSweep:
    collected: int  # unreferenced blobs deleted from S3 and forgotten
    kept: int  # unreferenced blobs S3 did not delete: still recorded, for a later sweep
    problem: str | None = None  # why S3 stopped deleting, when it did


def sweep_organization(conn: Connection, organization_id: Any, *, grace_hours: int = 24) -> BlobSweep:
    """Delete the organization's blobs nothing refers to any more (after a project deletion).

    Blobs recorded within the grace period are kept: a version being written right now has
    uploaded (and recorded) its blobs before its manifest is readable.

    S3 first, then the rows of what S3 did delete: a row whose object is gone would be trusted by
    the next version (which never uploads those bytes again) and break it, while an object whose
    row is gone is only an orphan for the hourly maintenance. So when S3 fails part-way the rows
    of every blob not confirmed deleted stay, and the caller's transaction can still commit the
    rest (nothing is raised: ``kept`` and ``problem`` say what is left).
    """
    from botocore.exceptions import BotoCoreError, ClientError  # with boto3: not at every cold start

    _lock_blobs(conn, organization_id, exclusive=True)
    referenced = referenced_blobs(conn, organization_id)
    candidates = [
        row["sha256"]
        for row in conn.execute(
            "SELECT sha256 FROM snapshot_blobs WHERE organization_id = %s"
            " AND created_at < now() - make_interval(hours => %s)",
            (organization_id, grace_hours),
        ).fetchall()
        if row["sha256"] not in referenced
    ]
    s3 = client("s3")
    collected: list[str] = []
    problem: str | None = None
    for start in range(0, len(candidates), DELETE_BATCH):
        chunk = candidates[start : start + DELETE_BATCH]
        try:
            answer = s3.delete_objects(
                Bucket=_bucket(),
                Delete={"Objects": [{"Key": blob_key(organization_id, sha)} for sha in chunk], "Quiet": True},
            )
        except (BotoCoreError, ClientError) as error:
            problem = f"{type(error).__name__}: {error}"
            break
        refused = {error["Key"] for error in answer.get("Errors", [])}
        collected += [sha for sha in chunk if blob_key(organization_id, sha) not in refused]
    if collected:
        conn.execute(
            "DELETE FROM snapshot_blobs WHERE organization_id = %s AND sha256 = ANY(%s)", (organization_id, collected)
        )
    return BlobSweep(collected=len(collected), kept=len(candidates) - len(collected), problem=problem)


def collect_unrecorded_blobs(conn: Connection, *, grace_hours: int = 24, limit: int = 10_000) -> int:
    """Delete blobs S3 has but ``snapshot_blobs`` does not: uploads whose transaction never committed."""
    cutoff = datetime.now(UTC) - timedelta(hours=grace_hours)
    s3 = client("s3")
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix="orgs/"):
        stale = [
            item["Key"]
            for item in page.get("Contents", [])
            if "/blobs/" in item["Key"] and item["LastModified"] < cutoff
        ]
        if not stale:
            continue
        pairs = [(key.split("/")[1], key.rsplit("/", 1)[1]) for key in stale]
        recorded = {
            (str(row["organization_id"]), row["sha256"])
            for row in conn.execute(
                "SELECT organization_id, sha256 FROM snapshot_blobs"
                " WHERE (organization_id::text, sha256::text) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                ([p[0] for p in pairs], [p[1] for p in pairs]),
            ).fetchall()
        }
        orphans = [key for key, pair in zip(stale, pairs, strict=True) if pair not in recorded]
        if orphans:
            s3.delete_objects(Bucket=_bucket(), Delete={"Objects": [{"Key": k} for k in orphans], "Quiet": True})
            deleted += len(orphans)
        if deleted >= limit:
            break
    return deleted
