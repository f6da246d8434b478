"""Finding the Node toolchain the preview builds run with, and checking it is new enough for Vite 8."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SUPPORTED_NODE", "NodeToolchain", "ToolchainError", "node_supported"]

# Vite 8's engines field: it refuses other Node releases (21.x and 22.0 to 22.11 included).
SUPPORTED_NODE = "^20.19.0 || >=22.12.0"


def node_supported(version: tuple[int, int, int]) -> bool:
    """Whether Vite 8 runs on this Node version (``SUPPORTED_NODE``)."""
    return (version[0] == 20 and version >= (20, 19, 0)) or version >= (22, 12, 0)


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
        if not node_supported(version):
            raise ToolchainError(
                f"Node {fields[0]} at {node} cannot run Vite 8: preview builds need Node {SUPPORTED_NODE}"
            )
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
