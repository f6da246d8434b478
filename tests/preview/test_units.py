"""The preview builder's parts that need no npm install: environment, process bounds, parsing, rejection."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mm_common.preview import BuildStatus, Limits, LocalDirectoryCache, NodeToolchain, build_version
from mm_common.preview.problems import parse_tsc_output, parse_vite_output
from mm_common.preview.process import child_environment, run_process
from mm_common.preview.toolchain import ToolchainError, node_supported

BOUNDS = {"max_output_bytes": 1_000_000, "tail_bytes": 64 * 1024}


def _env(node: NodeToolchain, tmp_path: Path) -> dict[str, str]:
    return child_environment(node_bin_dir=node.bin_dir, home=tmp_path, npm_cache_dir=tmp_path / "npm", heap_mb=512)


def test_toolchain_reports_a_node_new_enough_for_vite(node: NodeToolchain) -> None:
    assert node_supported(node.version)
    assert node.node.name == "node" and node.npm.name == "npm"
    assert node.platform and node.arch


@pytest.mark.parametrize(
    ("reported", "accepted"),
    [("20.18.1", False), ("20.19.0", True), ("21.7.3", False), ("22.11.0", False), ("22.12.0", True), ("24.1.0", True)],
)
def test_toolchain_accepts_only_the_node_releases_vite_runs_on(tmp_path: Path, reported: str, accepted: bool) -> None:
    # A stand-in for node that answers the version probe as that release would.
    fake = tmp_path / "node"
    fake.write_text(f"#!/bin/sh\necho '{reported} linux x64'\n")
    fake.chmod(0o755)
    (tmp_path / "npm").write_text("#!/bin/sh\n")
    (tmp_path / "npm").chmod(0o755)
    if accepted:
        assert NodeToolchain.discover(tmp_path).version == tuple(int(part) for part in reported.split("."))
    else:
        with pytest.raises(ToolchainError, match="cannot run Vite 8"):
            NodeToolchain.discover(tmp_path)


def test_toolchain_in_a_directory_without_node_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="node not found"):
        NodeToolchain.discover(tmp_path)


def test_child_sees_no_credentials_or_secrets(
    node: NodeToolchain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "do-not-leak")
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret@db/mm")
    monkeypatch.setenv("MM_SECRET", "do-not-leak")
    env = _env(node, tmp_path)
    assert "do-not-leak" not in json.dumps(env)

    result = run_process(
        [str(node.node), "-e", "process.stdout.write(JSON.stringify(process.env))"],
        cwd=tmp_path,
        env=env,
        timeout_s=30,
        **BOUNDS,
    )

    assert result.ok, result.output
    seen = json.loads(result.output)
    assert not [name for name in seen if name.startswith("AWS_")]
    assert "DATABASE_URL" not in seen and "MM_SECRET" not in seen
    assert seen["HOME"] == str(tmp_path)
    assert seen["NODE_OPTIONS"] == "--max-old-space-size=512"


def test_timeout_kills_the_whole_process_group(node: NodeToolchain, tmp_path: Path) -> None:
    # The grandchild shares the output pipe: the call returns only if it is killed too.
    script = (
        "require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {stdio: 'inherit'});"
        "console.log('started'); setInterval(() => {}, 1000);"
    )
    started = time.monotonic()
    result = run_process([str(node.node), "-e", script], cwd=tmp_path, env=_env(node, tmp_path), timeout_s=1, **BOUNDS)

    assert result.timed_out and not result.ok and result.returncode is None
    assert "started" in result.output
    assert time.monotonic() - started < 10


def test_endless_output_is_stopped_and_only_its_end_kept(node: NodeToolchain, tmp_path: Path) -> None:
    # writeSync: process.stdout.write may buffer in the child, which would then run out of heap instead.
    result = run_process(
        [str(node.node), "-e", "const line = 'x'.repeat(1000) + '\\n'; for (;;) require('fs').writeSync(1, line)"],
        cwd=tmp_path,
        env=_env(node, tmp_path),
        timeout_s=30,
        max_output_bytes=200_000,
        tail_bytes=10_000,
    )

    assert result.output_exceeded and not result.ok and not result.timed_out
    assert result.total_output_bytes > 200_000
    assert len(result.output) <= 10_000


@pytest.mark.parametrize(
    "files",
    [
        {"index.html": b"<!doctype html><p>static</p>"},
        {"index.html": b"<p>x</p>", "package.json": b'{"dependencies": {"react": "^19"}}'},
        {"package.json": b'{"devDependencies": {"vite": "^8"}}', "src/main.ts": b""},
    ],
    ids=["no-package-json", "no-vite", "no-index-html"],
)
def test_a_project_that_is_not_a_vite_app_is_unsupported_at_once(
    files: dict[str, bytes], node: NodeToolchain, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = build_version(
        files, workdir=tmp_path, cache=LocalDirectoryCache(tmp_path / "archives"), limits=Limits(), node=node
    )

    assert result.status is BuildStatus.UNSUPPORTED
    assert "not available for this project type" in result.message
    assert result.dist_dir is None
    assert time.monotonic() - started < 2
    assert not (tmp_path / "archives").exists()  # nothing was installed


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", "src/../../escape.txt", "a\\..\\b", ""])
def test_a_path_outside_the_project_is_refused(name: str, node: NodeToolchain, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    result = build_version(
        {name: b"x", "package.json": b"{}"},
        workdir=workdir,
        cache=LocalDirectoryCache(tmp_path / "archives"),
        limits=Limits(),
        node=node,
    )

    assert result.status is BuildStatus.FAILED
    assert "Unsafe file path" in result.message
    assert not (tmp_path / "escape.txt").exists() and not (workdir / "builds" / "escape.txt").exists()


def test_a_file_where_a_folder_must_be_is_a_failure(node: NodeToolchain, tmp_path: Path) -> None:
    result = build_version(
        {"src": b"a file", "src/main.ts": b""},
        workdir=tmp_path,
        cache=LocalDirectoryCache(tmp_path / "archives"),
        limits=Limits(),
        node=node,
    )

    assert result.status is BuildStatus.FAILED
    assert "cannot be written" in result.message


def test_invalid_package_json_fails_with_its_position(node: NodeToolchain, tmp_path: Path) -> None:
    result = build_version(
        {"package.json": b'{\n  "devDependencies": {"vite": "^8"},\n}', "index.html": b""},
        workdir=tmp_path,
        cache=LocalDirectoryCache(tmp_path / "archives"),
        limits=Limits(),
        node=node,
    )

    assert result.status is BuildStatus.FAILED
    assert [(p.file, p.line) for p in result.problems] == [("package.json", 3)]


def test_tsc_output_becomes_problems_with_their_elaboration(tmp_path: Path) -> None:
    output = (
        "src/App.tsx(4,46): error TS2345: Argument of type 'number' is not assignable to parameter.\n"
        "  Type 'number' is not assignable to type 'string'.\n"
        f"{tmp_path}/src/other.ts(1,1): error TS1005: ';' expected.\n"
        "error TS5083: Cannot read file 'tsconfig.base.json'.\n"
    )

    problems = parse_tsc_output(output, tmp_path)

    assert [(p.file, p.line, p.column, p.code) for p in problems] == [
        ("src/App.tsx", 4, 46, "TS2345"),
        ("src/other.ts", 1, 1, "TS1005"),
        (None, None, None, "TS5083"),
    ]
    assert problems[0].message.endswith("Type 'number' is not assignable to type 'string'.")


def test_vite_error_line_becomes_problems_with_one_based_columns(tmp_path: Path) -> None:
    described = {
        "message": "Build failed with 1 error",
        "errors": [
            {"message": "Unexpected token", "id": f"{tmp_path}/src/App.tsx", "line": 3, "column": 28, "plugin": "x"}
        ],
    }
    output = f"vite v8\nMM_PREVIEW_ERROR {json.dumps(described)}\n"

    [problem] = parse_vite_output(output, tmp_path)

    assert (problem.file, problem.line, problem.column, problem.code) == ("src/App.tsx", 3, 29, "x")
    assert parse_vite_output("no marker here", tmp_path) == []
