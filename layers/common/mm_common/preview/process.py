"""Running Node child processes for untrusted projects: an allow-listed environment, time and output bounds.

The project's code is AI-written and untrusted. Lambda keeps its credentials in environment variables, so the
child's environment is built from nothing (never copied from ``os.environ``): it can only see what is listed here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ChildProcess",
    "ProcessResult",
    "child_environment",
    "forbid_inspection_by_children",
    "run_process",
    "start_process",
]

_READ_CHUNK = 64 * 1024


def child_environment(
    *,
    node_bin_dir: Path,
    home: Path,
    npm_cache_dir: Path,
    heap_mb: int,
    node_env: str | None = None,
) -> dict[str, str]:
    """The whole environment a build's child process gets.

    ``HOME`` and ``TMPDIR`` are a throwaway directory so no user ``.npmrc`` (tokens) or other state is read.
    ``NODE_ENV`` stays unset for ``npm install`` (``production`` would skip the devDependencies Vite lives in).
    """
    env = {
        # Node's directory first; the system directories for the few tools npm may shell out to.
        "PATH": os.pathsep.join([str(node_bin_dir), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "npm_config_cache": str(npm_cache_dir),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "NO_COLOR": "1",
        "CI": "1",  # plain, non-interactive output from npm, vite and tsc
        "NODE_OPTIONS": f"--max-old-space-size={heap_mb}",
    }
    if node_env is not None:
        env["NODE_ENV"] = node_env
    return env


_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


def forbid_inspection_by_children() -> bool:
    """Make this process non-dumpable, so its children cannot read ``/proc/<our pid>/environ`` or ``mem``.

    A child of the same user may otherwise read its parent's environment, where Lambda keeps the function's
    credentials: the scrubbed child environment alone would not keep them from a build. (A process running as
    root keeps CAP_SYS_PTRACE over it anyway; Lambda runs functions as an unprivileged user.) Returns whether
    the process is non-dumpable now; False where prctl is not available (not Linux).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return False
    if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        return False
    return bool(libc.prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)


@dataclass(frozen=True)
class ProcessResult:
    returncode: int | None  # None when it was killed for time or output
    output: str  # the last ``tail_bytes`` of stdout+stderr, decoded leniently
    total_output_bytes: int
    timed_out: bool
    output_exceeded: bool
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.output_exceeded


class ChildProcess:
    """A started child in its own process group (so a timeout kills npm's or vite's children too)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout_s: float,
        max_output_bytes: int,
        tail_bytes: int,
    ) -> None:
        self._started = time.monotonic()
        self._deadline = self._started + timeout_s
        self._max_output = max_output_bytes
        self._tail_bytes = tail_bytes
        self._tail = bytearray()
        self._total = 0
        self._output_exceeded = False
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self._process.stdout
        assert stream is not None  # stdout=PIPE above
        while chunk := os.read(stream.fileno(), _READ_CHUNK):
            with self._lock:
                self._total += len(chunk)
                self._tail += chunk
                if len(self._tail) > self._tail_bytes:
                    del self._tail[: len(self._tail) - self._tail_bytes]
                exceeded = self._total > self._max_output
            if exceeded and not self._output_exceeded:
                # A child printing without end is stuck or hostile; its output would only be cut anyway.
                self._output_exceeded = True
                self._kill()

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)

    def wait(self) -> ProcessResult:
        timed_out = False
        try:
            self._process.wait(timeout=max(0.0, self._deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill()
            self._process.wait()
        # The group may outlive its leader (a stray grandchild): end it, so the pipe closes and nothing lingers.
        self._kill()
        self._reader.join()
        with self._lock:
            output = bytes(self._tail).decode("utf-8", errors="replace")
            total = self._total
        return ProcessResult(
            returncode=None if timed_out or self._output_exceeded else self._process.returncode,
            output=output,
            total_output_bytes=total,
            timed_out=timed_out,
            output_exceeded=self._output_exceeded,
            seconds=time.monotonic() - self._started,
        )


def start_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    max_output_bytes: int,
    tail_bytes: int,
) -> ChildProcess:
    """Start ``argv`` (no shell) with exactly ``env``; call ``wait()`` on the result for its outcome."""
    return ChildProcess(
        argv, cwd=cwd, env=env, timeout_s=timeout_s, max_output_bytes=max_output_bytes, tail_bytes=tail_bytes
    )


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    max_output_bytes: int,
    tail_bytes: int,
) -> ProcessResult:
    """Run ``argv`` to completion within ``timeout_s``; see :func:`start_process`."""
    return start_process(
        argv, cwd=cwd, env=env, timeout_s=timeout_s, max_output_bytes=max_output_bytes, tail_bytes=tail_bytes
    ).wait()
