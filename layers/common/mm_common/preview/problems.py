"""Turning tsc and Vite error output into ``problems`` the workspace lists and "Fix with AI" quotes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["VITE_ERROR_MARKER", "Problem", "parse_tsc_output", "parse_vite_output"]

# The line our vite_build.mjs prints when the build throws (a JSON description of the error follows it).
VITE_ERROR_MARKER = "MM_PREVIEW_ERROR "
_MAX_MESSAGE_CHARS = 4000
_MAX_PROBLEMS = 200

# `tsc --pretty false`: "src/App.tsx(3,7): error TS2322: Type 'number' is not assignable to type 'string'."
_TSC_LINE = re.compile(
    r"^(?P<file>[^\s(][^(]*)\((?P<line>\d+),(?P<column>\d+)\): error (?P<code>TS\d+): (?P<message>.*)$"
)
# Diagnostics without a location ("error TS5083: Cannot read file ...").
_TSC_GLOBAL = re.compile(r"^error (?P<code>TS\d+): (?P<message>.*)$")


@dataclass(frozen=True)
class Problem:
    """One error in the project. ``file`` is relative to the project root (POSIX) when it is inside it;
    ``line`` and ``column`` are 1-based; ``code`` is tsc's ``TS2322`` or the Vite plugin that failed."""

    file: str | None
    line: int | None
    column: int | None
    code: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column, "code": self.code, "message": self.message}


def parse_tsc_output(output: str, project_root: Path) -> list[Problem]:
    problems: list[Problem] = []
    for raw in output.splitlines():
        line = raw.rstrip()
        if located := _TSC_LINE.match(line):
            problems.append(
                Problem(
                    file=_relative(located["file"], project_root),
                    line=int(located["line"]),
                    column=int(located["column"]),
                    code=located["code"],
                    message=located["message"],
                )
            )
        elif unlocated := _TSC_GLOBAL.match(line):
            problems.append(Problem(None, None, None, unlocated["code"], unlocated["message"]))
        elif problems and raw.startswith(" ") and line:
            # tsc indents the elaboration of the diagnostic above ("Type 'X' is not assignable ..."): keep it.
            last = problems[-1]
            problems[-1] = Problem(last.file, last.line, last.column, last.code, f"{last.message}\n{line.strip()}")
    return [_bounded(problem) for problem in problems[:_MAX_PROBLEMS]]


def parse_vite_output(output: str, project_root: Path) -> list[Problem]:
    """The problems in the error our build script reported; one unlocated problem when it printed none."""
    for line in reversed(output.splitlines()):
        if line.startswith(VITE_ERROR_MARKER):
            try:
                described: Any = json.loads(line[len(VITE_ERROR_MARKER) :])
            except json.JSONDecodeError:
                break
            if isinstance(described, dict):
                nested = [item for item in described.get("errors") or [] if isinstance(item, dict)]
                return [_bounded(_from_vite(item, project_root)) for item in (nested or [described])[:_MAX_PROBLEMS]]
            break
    return []


def _from_vite(error: dict[str, Any], project_root: Path) -> Problem:
    file = error.get("id")
    line = error.get("line")
    column = error.get("column")
    plugin = error.get("plugin")
    message = str(error.get("message") or "build failed")
    if isinstance(error.get("frame"), str) and error["frame"] not in message:
        message = f"{message}\n{error['frame']}"
    return Problem(
        file=_relative(file, project_root) if isinstance(file, str) else None,
        line=line if isinstance(line, int) else None,
        # Rolldown reports 0-based columns; tsc and editors count from 1.
        column=column + 1 if isinstance(column, int) else None,
        code=plugin if isinstance(plugin, str) else None,
        message=message.strip(),
    )


def _relative(file: str, project_root: Path) -> str:
    path = Path(file)
    if path.is_absolute():
        for root in (project_root, project_root.resolve()):
            if path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return path.as_posix()
    return Path(file).as_posix()


def _bounded(problem: Problem) -> Problem:
    if len(problem.message) <= _MAX_MESSAGE_CHARS:
        return problem
    return Problem(problem.file, problem.line, problem.column, problem.code, problem.message[:_MAX_MESSAGE_CHARS] + "…")
