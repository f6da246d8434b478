"""Finding the Node toolchain the preview builds run with, and checking it is new enough for Vite 8."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MINIMUM_NODE_VERSION", "NodeToolchain", "ToolchainError"]

# Vite 8 refuses to run on older Node releases (its engines field: ^20.19.0 || >=22.12.0).
MINIMUM_NODE_VERSION = (20, 19, 0)
_VERSION_PROBE_TIMEOUT_S = 15.0


class ToolchainError(RuntimeError):
    """Node or npm is missing, or Node is too old for the builds."""


@dataclass(frozen=True)
class NodeToolchain:
    """The ``node`` and ``npm`` executables and what the dependency cache key needs to know about them.

    ``platform`` and ``arch`` are Node's own names (``process.platform`` / ``process.arch``): native packages
    (rolldown, lightningcss, oxide) are installed per platform, so an archive made on one must not be reused on
    another.
    """

    node: Path
    npm: Path
    version: tuple[int, int, int]
    platform: str
    arch: str

    @property
    def bin_dir(self) -> Path:
        return self.node.parent

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)

    @classmethod
    def discover(cls, bin_dir: str | Path | None = None) -> NodeToolchain:
        """Find node and npm in ``bin_dir``, else in ``$NODE_BIN_DIR``, else on ``PATH``; check the version.

        In AWS the directory is the Node layer's ``bin``; locally it is usually unset and PATH is used.
        """
        directory = bin_dir if bin_dir is not None else os.environ.get("NODE_BIN_DIR") or None
        node = _find("node", directory)
        npm = _find("npm", directory if directory is not None else str(node.parent))
        # Query the interpreter itself rather than trusting a file name: one call gives all three facts.
        try:
            probe = subprocess.run(
                [str(node), "-p", "[process.versions.node, process.platform, process.arch].join(' ')"],
                capture_output=True,
                text=True,
                timeout=_VERSION_PROBE_TIMEOUT_S,
                check=True,
                env={"PATH": str(node.parent)},
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ToolchainError(f"could not run {node}: {exc}") from exc
        fields = probe.stdout.split()
        match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", fields[0]) if len(fields) == 3 else None
        if match is None:
            raise ToolchainError(f"unexpected answer from {node}: {probe.stdout.strip()!r}")
        version = (int(match[1]), int(match[2]), int(match[3]))
        if version < MINIMUM_NODE_VERSION:
            wanted = ".".join(str(part) for part in MINIMUM_NODE_VERSION)
            raise ToolchainError(f"Node {fields[0]} at {node} is too old: preview builds need Node >= {wanted}")
        return cls(node=node, npm=npm, version=version, platform=fields[1], arch=fields[2])


def _find(name: str, directory: str | Path | None) -> Path:
    if directory is not None:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.absolute()
        raise ToolchainError(f"{name} not found in {directory}")
    found = shutil.which(name)
    if found is None:
        raise ToolchainError(f"{name} not found on PATH (set NODE_BIN_DIR to Node's bin directory)")
    return Path(found).absolute()
