"""Counting the functions' reads from the snapshots bucket."""

from __future__ import annotations

from typing import Any


class BlobReads:
    """Counts the functions' reads of blobs from the snapshots bucket (their own S3 client's GetObject calls)."""

    def __init__(self) -> None:
        from mm_common.aws import client as function_client

        self.keys: list[str] = []
        self._s3 = function_client("s3")
        self._s3.meta.events.register("provide-client-params.s3.GetObject", self._seen)

    def _seen(self, params: dict[str, Any], **_: Any) -> None:
        self.keys.append(str(params.get("Key", "")))

    def blobs(self) -> list[str]:
        return [key for key in self.keys if "/blobs/" in key]

    def close(self) -> None:
        self._s3.meta.events.unregister("provide-client-params.s3.GetObject", self._seen)
