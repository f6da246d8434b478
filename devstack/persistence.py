"""Keeps emulated AWS state across restarts: moto holds state in memory only.

S3 objects are written under ``<data dir>/s3/<bucket>/<key>`` (latest version) with an index of
their metadata, on a timer and at shutdown, and uploaded again when the stack starts.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.aws import client

INDEX = "_index.json"


class S3Persistence:
    def __init__(self, directory: Path, endpoint: str, buckets: list[str]) -> None:
        self.directory = directory
        self.endpoint = endpoint
        self.buckets = buckets
        self._lock = threading.Lock()
        # bucket -> key -> {etag, contentType, metadata} of what is on disk
        self._index: dict[str, dict[str, dict[str, Any]]] = {}

    def restore(self) -> int:
        s3 = client("s3", self.endpoint)
        restored = 0
        for bucket in self.buckets:
            folder = self.directory / bucket
            index_path = folder / INDEX
            if not index_path.exists():
                continue
            index: dict[str, dict[str, Any]] = json.loads(index_path.read_text(encoding="utf-8"))
            for key, meta in index.items():
                s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=(folder / "objects" / key).read_bytes(),
                    ContentType=meta.get("contentType") or "binary/octet-stream",
                    Metadata=meta.get("metadata") or {},
                )
                meta["etag"] = s3.head_object(Bucket=bucket, Key=key)["ETag"]
                restored += 1
            self._index[bucket] = index
        return restored

    def save(self) -> int:
        """Write what changed since the last save; return how many objects changed on disk."""
        with self._lock:
            s3 = client("s3", self.endpoint)
            changed = 0
            for bucket in self.buckets:
                folder = self.directory / bucket
                previous = self._index.get(bucket, {})
                index: dict[str, dict[str, Any]] = {}
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    for item in page.get("Contents", []):
                        key, etag = item["Key"], item["ETag"]
                        known = previous.get(key)
                        if known is not None and known.get("etag") == etag:
                            index[key] = known
                            continue
                        response = s3.get_object(Bucket=bucket, Key=key)
                        target = folder / "objects" / key
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(response["Body"].read())
                        index[key] = {
                            "etag": etag,
                            "contentType": response.get("ContentType"),
                            "metadata": response.get("Metadata", {}),
                        }
                        changed += 1
                for gone in set(previous) - set(index):
                    (folder / "objects" / gone).unlink(missing_ok=True)
                    changed += 1
                if index or previous:
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / INDEX).write_text(json.dumps(index), encoding="utf-8")
                self._index[bucket] = index
            return changed


class KmsPersistence:
    """Keeps the emulated KMS keys' ids and key material, so data encrypted under a key before a
    restart still decrypts after it (moto makes new random keys otherwise)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def adopt(self, logical_id: str, key_id: str) -> str:
        """Give the freshly created key ``key_id`` the saved identity of ``logical_id``, if any."""
        from moto.kms.models import kms_backends

        from devstack.lambdas import ACCOUNT_ID, REGION

        backend = kms_backends[ACCOUNT_ID][REGION]
        key = backend.keys[key_id]
        saved = self.saved.get(logical_id)
        if saved is not None and saved["id"] != key_id:
            del backend.keys[key_id]
            key.id, key.arn = saved["id"], saved["arn"]
            key.key_material = base64.b64decode(saved["material"])
            backend.keys[key.id] = key
        self.saved[logical_id] = {
            "id": key.id,
            "arn": key.arn,
            "material": base64.b64encode(key.key_material).decode("ascii"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.saved), encoding="utf-8")
        return str(key.id)


class GeneratedSecrets:
    """Keeps the values of secrets the template generates (GenerateSecretString), so that
    what they protect (signed access tokens) stays valid across restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def get_or_create(self, logical_id: str, generate: Callable[[], str]) -> str:
        if logical_id not in self.values:
            self.values[logical_id] = generate()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.values), encoding="utf-8")
        return self.values[logical_id]
