"""Building one project version into a static preview: dependencies, ``vite build`` with our config, ``tsc``.

The worker (next to this library) materializes nothing itself: it passes the version's files and gets back a
:class:`BuildResult` whose ``dist_dir`` it uploads. Everything a build writes lives under ``workdir``:

    workdir/
        deps/<key>/node_modules     warm dependency trees, shared by builds with the same manifests
        builds/<id>/project         the version's files (+ node_modules: links into the warm tree)
        builds/<id>/dist            the built site
        builds/<id>/home            HOME/TMPDIR of the child processes
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import io
import json
import shutil
import tarfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mm_common.preview.cache import DependencyCache
from mm_common.preview.problems import VITE_ERROR_MARKER, Problem, parse_tsc_output, parse_vite_output
from mm_common.preview.process import ProcessResult, child_environment, run_process, start_process
from mm_common.preview.toolchain import NodeToolchain

__all__ = ["BuildResult", "BuildStatus", "DependencySource", "Limits", "build_version", "dependency_key"]

_VITE_SCRIPT = Path(__file__).resolve().parent / "vite_build.mjs"
# Bump when the archive layout or the install command changes: old archives then stop matching.
_CACHE_FORMAT = 1
# The package.json fields that decide what npm installs; nothing else of the project reaches the install.
_INSTALL_FIELDS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies", "overrides")
_LOCKFILE = "package-lock.json"

# Injected first in <head> so it also sees errors thrown while the app's own modules load. The parent frame (the
# workspace's Preview pane) lists them and offers "Fix with AI"; "*" because the sandboxed preview cannot know
# the app's origin and the messages carry nothing secret.
ERROR_REPORTER_SCRIPT = """<script data-mm-preview="error-reporter">(function () {
  function text(value) {
    if (value instanceof Error) return value.message;
    if (typeof value === "string") return value;
    try { return JSON.stringify(value); } catch (e) { return String(value); }
  }
  function send(kind, message, stack) {
    try {
      window.parent.postMessage({ source: "mm-preview", kind: kind, message: String(message).slice(0, 4000),
        stack: stack ? String(stack).slice(0, 8000) : null }, "*");
    } catch (e) {}
  }
  window.addEventListener("error", function (event) {
    send("error", event.message || text(event.error), event.error && event.error.stack);
  });
  window.addEventListener("unhandledrejection", function (event) {
    var reason = event.reason;
    send("unhandledrejection", text(reason), reason && reason.stack);
  });
  var consoleError = console.error;
  console.error = function () {
    var parts = Array.prototype.slice.call(arguments);
    var error = parts.find(function (part) { return part instanceof Error; });
    send("console.error", parts.map(text).join(" "), error && error.stack);
    return consoleError.apply(console, arguments);
  };
})();</script>"""


class BuildStatus(enum.StrEnum):
    READY = "ready"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"


class DependencySource(enum.StrEnum):
    """Where the build's node_modules came from (the cost differs by seconds)."""

    WARM = "warm"  # already unpacked in this workdir
    ARCHIVE = "archive"  # unpacked from the DependencyCache
    INSTALLED = "installed"  # npm install, then archived into the DependencyCache


@dataclass(frozen=True)
class Limits:
    install_timeout_s: float = 300.0
    build_timeout_s: float = 120.0
    typecheck_timeout_s: float = 120.0
    # Beyond this much output a child is killed: a runaway build should not fill the worker's memory or log.
    max_output_bytes: int = 8 * 1024 * 1024
    log_bytes: int = 64 * 1024
    node_heap_mb: int = 1536
    max_files: int = 10_000
    max_source_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class BuildResult:
    """The outcome of :func:`build_version`.

    ``build_dir`` holds everything this build wrote (the caller removes it once ``dist_dir`` is uploaded);
    ``dist_dir`` is set only when the status is ready. ``log`` is the end of the steps' output (bounded).
    ``timings`` are seconds per step (``files``, ``dependencies``, ``build``, ``typecheck``, ``total``).
    """

    status: BuildStatus
    message: str
    build_dir: Path
    dist_dir: Path | None
    log: str
    problems: tuple[Problem, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    dependency_source: DependencySource | None = None
    dependency_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "message": self.message,
            "log": self.log,
            "problems": [problem.to_json() for problem in self.problems],
            "timings": dict(self.timings),
            "dependencySource": self.dependency_source.value if self.dependency_source else None,
        }


class _Log:
    """The build log: each step's command and output tail, cut to the last ``limit`` bytes at the end."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts: list[str] = []

    def add(self, text: str) -> None:
        self._parts.append(text if text.endswith("\n") else text + "\n")

    def step(self, title: str, result: ProcessResult) -> None:
        self.add(f"$ {title}")
        if result.output:
            self.add(result.output)
        if result.total_output_bytes > len(result.output.encode()):
            self.add(f"[output cut: {result.total_output_bytes} bytes in all, the end is shown]")
        if result.timed_out:
            self.add(f"[stopped after {result.seconds:.0f} s: time limit]")
        elif result.output_exceeded:
            self.add("[stopped: too much output]")
        else:
            self.add(f"[exit {result.returncode} after {result.seconds:.1f} s]")

    def text(self) -> str:
        data = "".join(self._parts).encode()
        if len(data) <= self._limit:
            return data.decode()
        return "[log cut]\n" + data[-self._limit :].decode("utf-8", errors="ignore")


class _Rejected(Exception):
    """The version cannot be built as given (unsafe paths, too big, invalid package.json)."""

    def __init__(self, message: str, problem: Problem | None = None) -> None:
        super().__init__(message)
        self.problem = problem


def build_version(
    files: Mapping[str, bytes],
    *,
    workdir: Path,
    cache: DependencyCache,
    limits: Limits,
    node: NodeToolchain,
    npm_cache_dir: Path | None = None,
    on_dist_ready: Callable[[Path], None] | None = None,
) -> BuildResult:
    """Build the version whose files are ``files`` (POSIX path → bytes, as the versions API stores them).

    Never raises for anything the project contains: a bad project gives a ``failed`` or ``unsupported`` result.
    ``npm_cache_dir`` defaults to ``workdir/npm-cache``; share one across builds to keep installs fast.
    ``on_dist_ready(dist_dir)`` is called as soon as vite has built the site (error reporter injected), while
    the type check may still run: the worker can upload it and show the preview before the problems are known.
    It is not called when the build fails.
    """
    started = time.monotonic()
    timings: dict[str, float] = {}
    log = _Log(limits.log_bytes)
    build_dir = workdir / "builds" / uuid.uuid4().hex
    project = build_dir / "project"
    dist = build_dir / "dist"
    home = build_dir / "home"
    for directory in (project, home):
        directory.mkdir(parents=True)

    def finish(
        status: BuildStatus,
        message: str,
        problems: list[Problem] | tuple[Problem, ...] = (),
        source: DependencySource | None = None,
        key: str | None = None,
    ) -> BuildResult:
        timings["total"] = time.monotonic() - started
        log.add(message)
        return BuildResult(
            status=status,
            message=message,
            build_dir=build_dir,
            dist_dir=dist if status is BuildStatus.READY else None,
            log=log.text(),
            problems=tuple(problems),
            timings={name: round(seconds, 3) for name, seconds in timings.items()},
            dependency_source=source,
            dependency_key=key,
        )

    try:
        step = time.monotonic()
        _materialize(files, project, limits)
        timings["files"] = time.monotonic() - step
        manifest = _vite_manifest(project)
    except _Rejected as rejected:
        return finish(BuildStatus.FAILED, str(rejected), [rejected.problem] if rejected.problem else [])
    if manifest is None:
        return finish(
            BuildStatus.UNSUPPORTED,
            "Preview is not available for this project type: it needs a Vite app "
            "(package.json listing vite, and an index.html at the project root).",
        )

    lockfile = project / _LOCKFILE
    key = dependency_key(manifest, lockfile.read_bytes() if lockfile.is_file() else None, node)
    env_install = child_environment(
        node_bin_dir=node.bin_dir,
        home=home,
        npm_cache_dir=npm_cache_dir or workdir / "npm-cache",
        heap_mb=limits.node_heap_mb,
    )
    step = time.monotonic()
    installed = _dependencies(manifest, project, key, workdir, cache, limits, node, env_install, log)
    timings["dependencies"] = time.monotonic() - step
    if isinstance(installed, str):
        return finish(BuildStatus.FAILED, installed, key=key)
    source, node_modules = installed
    _link_node_modules(node_modules, project / "node_modules")

    # From here on project files are read by tools (and, through Tailwind's @plugin, may even run): the
    # dependency archive is already stored, so nothing the project does can change what later builds reuse.
    env_build = {**env_install, "NODE_ENV": "production"}
    typecheck = None
    typescript = project / "node_modules" / "typescript" / "bin" / "tsc"
    if (project / "tsconfig.json").is_file():
        if typescript.is_file():
            # `-b` follows the template's project references; --noEmit keeps a project tsconfig's outDir from
            # writing anywhere (our dist included).
            typecheck = start_process(
                [str(node.node), str(typescript), "-b", "--pretty", "false", "--noEmit"],
                cwd=project,
                env=env_build,
                timeout_s=limits.typecheck_timeout_s,
                max_output_bytes=limits.max_output_bytes,
                tail_bytes=limits.log_bytes,
            )
        else:
            log.add("[type check skipped: the project has a tsconfig.json but typescript is not a dependency]")
    step = time.monotonic()
    built = run_process(
        [str(node.node), str(_VITE_SCRIPT), str(project), str(dist), str(build_dir / "vite-cache")],
        cwd=project,
        env=env_build,
        timeout_s=limits.build_timeout_s,
        max_output_bytes=limits.max_output_bytes,
        tail_bytes=limits.log_bytes,
    )
    timings["build"] = time.monotonic() - step
    built_ok = built.ok and (dist / "index.html").is_file()
    problems: list[Problem] = []
    try:
        if built_ok:
            _inject_error_reporter(dist)
            if on_dist_ready is not None:
                # The type check often outlasts vite (3-5 s against ~1 s): the site can go live before it ends.
                on_dist_ready(dist)
    finally:
        # Always reaped, also when the callback raises: no tsc is left running after this returns.
        if typecheck is not None:
            checked = typecheck.wait()
            timings["typecheck"] = checked.seconds
            log.step("tsc -b --noEmit", checked)
            problems.extend(parse_tsc_output(checked.output, project))
    # The marker line is for parse_vite_output; Vite printed the same error readably just before it.
    readable = "\n".join(line for line in built.output.splitlines() if not line.startswith(VITE_ERROR_MARKER))
    log.step(
        "vite build (MoreMinimore's fixed configuration; the project's vite.config is not used)",
        dataclasses.replace(
            built,
            output=readable,
            total_output_bytes=built.total_output_bytes - (len(built.output.encode()) - len(readable.encode())),
        ),
    )

    if not built_ok:
        problems.extend(parse_vite_output(built.output, project))
        reason = "timed out" if built.timed_out else "printed too much output" if built.output_exceeded else "failed"
        return finish(BuildStatus.FAILED, f"The build {reason}.", problems, source, key)
    summary = "Built." if not problems else f"Built, with {len(problems)} type error(s)."
    return finish(BuildStatus.READY, summary, problems, source, key)


def dependency_key(manifest: Mapping[str, Any], lockfile: bytes | None, node: NodeToolchain) -> str:
    """sha256 over what decides the installed tree: the install fields of package.json, the lockfile, and the
    platform, architecture and Node major version (native packages and engines checks differ across them)."""
    material = {
        "format": _CACHE_FORMAT,
        "manifest": {name: manifest.get(name) for name in _INSTALL_FIELDS},
        "lockfile": hashlib.sha256(lockfile).hexdigest() if lockfile is not None else None,
        "platform": node.platform,
        "arch": node.arch,
        "node": node.version[0],
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _materialize(files: Mapping[str, bytes], project: Path, limits: Limits) -> None:
    if len(files) > limits.max_files:
        raise _Rejected(f"The version has {len(files)} files; previews build at most {limits.max_files}.")
    if sum(len(data) for data in files.values()) > limits.max_source_bytes:
        raise _Rejected(f"The version's files exceed {limits.max_source_bytes // (1024 * 1024)} MB.")
    root = project.resolve()
    for name, data in files.items():
        relative = PurePosixPath(name)
        unsafe = (
            not name
            or "\\" in name
            or "\0" in name
            or relative.is_absolute()
            or any(part in ("", ".", "..") for part in name.split("/"))
        )
        target = (root / relative).resolve() if not unsafe else root
        if unsafe or not target.is_relative_to(root) or target == root:
            problem = Problem(name, None, None, None, "unsafe path")
            raise _Rejected(f"Unsafe file path in the version: {name!r}.", problem)
        if relative.parts[0] == "node_modules":
            continue  # installed by the build from package.json; a stored copy would clash with it
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:  # "a" and "a/b" both as files, say
            raise _Rejected(f"The version's file {name!r} cannot be written: {exc.strerror}.") from exc


def _vite_manifest(project: Path) -> dict[str, Any] | None:
    """package.json when the project is a Vite app, None when it is not one."""
    package_json = project / "package.json"
    if not package_json.is_file() or not (project / "index.html").is_file():
        return None
    try:
        manifest: Any = json.loads(package_json.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        column = getattr(exc, "colno", None)
        raise _Rejected(
            f"package.json is not valid JSON: {exc}", Problem("package.json", line, column, None, str(exc))
        ) from exc
    if not isinstance(manifest, dict):
        raise _Rejected("package.json must be a JSON object.", Problem("package.json", 1, 1, None, "not an object"))
    for name in _INSTALL_FIELDS:
        if not isinstance(manifest.get(name, {}), dict):
            raise _Rejected(f"package.json: {name} must be an object.", Problem("package.json", None, None, None, name))
    declared = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
    return manifest if "vite" in declared else None


def _dependencies(
    manifest: Mapping[str, Any],
    project: Path,
    key: str,
    workdir: Path,
    cache: DependencyCache,
    limits: Limits,
    node: NodeToolchain,
    env: Mapping[str, str],
    log: _Log,
) -> tuple[DependencySource, Path] | str:
    """The node_modules for ``key`` (warm, else from the archive, else installed and archived), or why not."""
    deps_root = workdir / "deps"
    warm = deps_root / key
    if (warm / "node_modules").is_dir():
        log.add(f"[dependencies: reused {key[:12]}]")
        return DependencySource.WARM, warm / "node_modules"
    staging = deps_root / f".staging-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        archive = cache.get(key)
        if archive is not None:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                # The "data" filter refuses absolute paths, links out of the directory and device files.
                tar.extractall(staging, filter="data")
            log.add(f"[dependencies: restored {key[:12]} from the archive ({len(archive)} bytes)]")
            source = DependencySource.ARCHIVE
        else:
            # Only the install fields (and the lockfile) reach npm: no scripts, no project files.
            install_manifest = {name: manifest[name] for name in _INSTALL_FIELDS if name in manifest}
            (staging / "package.json").write_text(
                json.dumps({"name": "mm-preview-deps", "private": True, **install_manifest}), encoding="utf-8"
            )
            if (project / _LOCKFILE).is_file():
                shutil.copyfile(project / _LOCKFILE, staging / _LOCKFILE)
            command = ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"]
            result = run_process(
                [str(node.npm), *command],
                cwd=staging,
                env=env,
                timeout_s=limits.install_timeout_s,
                max_output_bytes=limits.max_output_bytes,
                tail_bytes=limits.log_bytes,
            )
            log.step("npm " + " ".join(command), result)
            if not result.ok:
                return "Installing the dependencies failed."
            if not (staging / "node_modules").is_dir():
                (staging / "node_modules").mkdir()  # npm creates none when there is nothing to install
            try:
                step = time.monotonic()
                archive = _archive(staging / "node_modules")
                cache.put(key, archive)
                log.add(f"[dependencies: stored {key[:12]} ({len(archive)} bytes) in {time.monotonic() - step:.1f} s]")
            except Exception as exc:  # noqa: BLE001 - a cache outage costs the next build time, not this one
                log.add(f"[dependencies: could not store the archive: {exc}]")
            source = DependencySource.INSTALLED
        try:
            staging.rename(warm)
        except OSError:
            # Another build with the same key finished first; its tree is the same, use it.
            if not (warm / "node_modules").is_dir():
                raise
        return source, warm / "node_modules"
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _archive(node_modules: Path) -> bytes:
    buffer = io.BytesIO()
    # Level 1: a third faster to write than the default for a few MB more; the archive is fetched, not kept.
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        tar.add(node_modules, arcname="node_modules")
    return buffer.getvalue()


def _link_node_modules(shared: Path, target: Path) -> None:
    """Make the project's node_modules a real directory of links into the shared tree.

    Node and Vite follow the links to the shared packages, while whatever tools write into node_modules
    (tsc's .tmp build info) lands in this build's own directory rather than in the tree other builds share.
    """
    target.mkdir()
    for entry in shared.iterdir():
        (target / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())


def _inject_error_reporter(dist: Path) -> None:
    # Bytes, not text: a page in another encoding must not fail the build (the script itself is ASCII).
    script = ERROR_REPORTER_SCRIPT.encode()
    for page in dist.rglob("*.html"):
        html = page.read_bytes()
        head = html.lower().find(b"<head")
        at = html.find(b">", head) + 1 if head != -1 else 0
        page.write_bytes(html[:at] + script + html[at:])
