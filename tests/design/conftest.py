"""The design tests need the pinned engine (``npm ci --prefix layers/design_engine``), not the stack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mm_common.design.engine import ASSETS_ENV

LOCAL_ASSETS = Path(__file__).resolve().parents[2] / "layers/design_engine/node_modules/uipro-cli/assets"


@pytest.fixture(scope="session", autouse=True)
def uipro_assets() -> Iterator[Path]:
    """UIPRO_ASSETS_DIR as the environment sets it, else the locally installed package."""
    previous = os.environ.get(ASSETS_ENV)
    path = Path(previous) if previous else LOCAL_ASSETS
    if not (path / "scripts" / "design_system.py").is_file():
        pytest.fail(f"uipro-cli is not installed at {path}: run `npm ci --prefix layers/design_engine`")
    os.environ[ASSETS_ENV] = str(path)
    yield path
    if previous is None:
        os.environ.pop(ASSETS_ENV, None)
