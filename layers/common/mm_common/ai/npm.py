"""Resolves npm package specs to versions through the npm registry's package documents."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    import httpx

DEFAULT_REGISTRY = "https://registry.npmjs.org"
EXACT_OR_RANGE = re.compile(r"^[\^~]?\d+(\.\d+){0,2}([-.+][\w.-]+)?$")


def _split(spec: str) -> tuple[str, str | None]:
    """("react-router-dom", None) for "react-router-dom"; ("@scope/x", "2") for "@scope/x@2"."""
    at = spec.rfind("@")
    if at > 0:
        return spec[:at], spec[at + 1 :] or None
    return spec, None


def resolve(specs: list[str], *, client: httpx.Client | None = None, timeout_s: float = 5.0) -> dict[str, str]:
    """name -> a version range for package.json ("^1.2.3"): the latest release, or the tag or
    version the spec asked for. A package the registry does not know is left out."""
    import httpx  # when a job asks for packages, not at every cold start of the functions importing this

    registry = os.environ.get("NPM_REGISTRY_URL", DEFAULT_REGISTRY).rstrip("/")
    http = client or httpx.Client(timeout=timeout_s)
    resolved: dict[str, str] = {}
    try:
        for spec in specs:
            name, wanted = _split(spec)
            if wanted and EXACT_OR_RANGE.fullmatch(wanted):
                resolved[name] = wanted
                continue
            response = http.get(
                f"{registry}/{quote(name, safe='@')}", headers={"Accept": "application/vnd.npm.install-v1+json"}
            )
            if response.status_code != 200:
                continue
            tags = response.json().get("dist-tags", {})
            version = tags.get(wanted or "latest")
            if version:
                resolved[name] = f"^{version}"
    finally:
        if client is None:
            http.close()
    return resolved
