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
from typing import Any

from mm_common.aws import client
from mm_common.config import get_settings
from mm_common.db import Connection

# Parallel S3 requests per call: enough to hide latency, few enough for a 1 GB Lambda.
PARALLELISM = 16

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


def stored_blobs(conn: Connection, organization_id: Any, shas: Iterable[str]) -> set[str]:
    wanted = list(set(shas))
    if not wanted:
        return set()
    rows = conn.execute(
        "SELECT sha256 FROM snapshot_blobs WHERE organization_id = %s AND sha256 = ANY(%s)",
        (organization_id, wanted),
    ).fetchall()
    return {row["sha256"] for row in rows}


def upload_blobs(conn: Connection, organization_id: Any, blobs: dict[str, bytes]) -> int:
    """Upload the blobs S3 does not have yet and record them; return how many were uploaded."""
    missing = {sha: data for sha, data in blobs.items() if sha not in stored_blobs(conn, organization_id, blobs)}
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


def delete_prefix(prefix: str) -> int:
    """Delete every object (and version) under a prefix; return how many were deleted."""
    s3 = client("s3")
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=_bucket(), Prefix=prefix):
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(objects), 1000):
            chunk = objects[start : start + 1000]
            s3.delete_objects(Bucket=_bucket(), Delete={"Objects": chunk, "Quiet": True})
            deleted += len(chunk)
    return deleted
