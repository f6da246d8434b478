"""Where archived ``node_modules`` trees are kept between builds (by dependency key)."""

from __future__ import annotations

import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

__all__ = ["DependencyCache", "LocalDirectoryCache", "S3DependencyCache"]

_KEY = re.compile(r"[0-9a-f]{64}")


class DependencyCache(ABC):
    """A store of dependency archives (bytes) by key (a sha256 hex digest of the dependency manifests).

    The builder only needs get and put; the worker plugs in an S3 implementation, tests and ``make dev`` use
    :class:`LocalDirectoryCache`.
    """

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The archive stored under ``key``, or ``None`` when there is none."""

    @abstractmethod
    def put(self, key: str, archive: bytes) -> None:
        """Store ``archive`` under ``key`` (replacing any earlier one: same key, same dependencies)."""


class LocalDirectoryCache(DependencyCache):
    """Archives as ``<directory>/<key>.tar.gz`` files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        # Keys are digests we compute; refusing anything else keeps a bad key from naming a path elsewhere.
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a dependency key: {key!r}")
        return self.directory / f"{key}.tar.gz"

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, archive: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent reader never sees half an archive.
        handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".partial")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(archive)
            os.replace(temporary, self._path(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class S3DependencyCache(DependencyCache):
    """Archives as ``<prefix><key>.tar.gz`` objects of a bucket (the previews bucket's ``deps/`` in AWS)."""

    def __init__(self, bucket: str, prefix: str = "deps/") -> None:
        self.bucket = bucket
        self.prefix = prefix

    def _key(self, key: str) -> str:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a dependency key: {key!r}")
        return f"{self.prefix}{key}.tar.gz"

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        from mm_common.aws import client

        try:
            body: bytes = client("s3").get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return body

    def put(self, key: str, archive: bytes) -> None:
        from mm_common.aws import client

        # One PUT is atomic: a concurrent reader gets the old archive, the new one or none, never half.
        client("s3").put_object(Bucket=self.bucket, Key=self._key(key), Body=archive, ContentType="application/gzip")
