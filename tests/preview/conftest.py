"""Shared by the preview build tests: the Node toolchain they run (NODE_BIN_DIR, else PATH)."""

from __future__ import annotations

import pytest

from mm_common.preview import NodeToolchain


@pytest.fixture(scope="session")
def node() -> NodeToolchain:
    return NodeToolchain.discover()
