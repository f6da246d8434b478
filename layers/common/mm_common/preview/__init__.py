"""Live preview builds: a project version's files in, a static site (plus log and problems) out.

:func:`build_version` is the whole build; the worker adds the queue, the upload and the status records.
"""

from mm_common.preview.builder import BuildResult, BuildStatus, DependencySource, Limits, build_version, dependency_key
from mm_common.preview.cache import DependencyCache, LocalDirectoryCache
from mm_common.preview.problems import Problem
from mm_common.preview.toolchain import NodeToolchain, ToolchainError

__all__ = [
    "BuildResult",
    "BuildStatus",
    "DependencyCache",
    "DependencySource",
    "Limits",
    "LocalDirectoryCache",
    "NodeToolchain",
    "Problem",
    "ToolchainError",
    "build_version",
    "dependency_key",
]
