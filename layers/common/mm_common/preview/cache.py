"""Where archived ``node_modules`` trees are kept between builds (by dependency key)."""

from __future__ import annotations

import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

__all__ = ["DependencyCache", "LocalDirectoryCache"]

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
