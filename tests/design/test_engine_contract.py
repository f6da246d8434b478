"""The engine's output shape, pinned: UI/UX Pro Max (uipro-cli 2.2.3) loaded in-process."""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

import pytest

from mm_common.design.engine import EngineUnavailableError, UiProMaxEngine, assets_dir

QUERIES = ("a vet clinic dashboard", "a fintech landing page", "a children's learning app")
HEX = re.compile(r"\A#[0-9A-Fa-f]{6}\Z")
TOP_LEVEL = {
    "project_name",
    "category",
    "pattern",
    "style",
    "colors",
    "typography",
    "key_effects",
    "anti_patterns",
    "decision_rules",
    "severity",
}
NESTED = {
    "pattern": {"name", "sections", "cta_placement", "color_strategy", "conversion"},
    "style": {"name", "type", "effects", "keywords", "best_for", "performance", "accessibility"},
    "colors": {"primary", "secondary", "cta", "background", "text", "notes"},
    "typography": {"heading", "body", "mood", "best_for", "google_fonts_url", "css_import"},
}


@pytest.mark.parametrize("query", QUERIES)
def test_the_engine_returns_the_pinned_shape(query: str) -> None:
    raw = UiProMaxEngine().generate_raw(query, "Contract")

    assert set(raw) == TOP_LEVEL
    for section, keys in NESTED.items():
        value = raw[section]
        assert isinstance(value, dict) and set(value) == keys, section
        assert all(isinstance(v, str) for v in value.values()), section
    colors = raw["colors"]
    assert isinstance(colors, dict)
    assert all(HEX.match(colors[key]) for key in ("primary", "secondary", "cta", "background", "text"))
    assert raw["project_name"] == "Contract"
    assert isinstance(raw["category"], str) and raw["category"]
    assert isinstance(raw["anti_patterns"], str)
    assert isinstance(raw["decision_rules"], dict)
    assert raw["severity"] in {"HIGH", "MEDIUM", "LOW"}


def test_the_pinned_version_is_installed() -> None:
    assert UiProMaxEngine().version == "2.2.3"


def test_generation_prints_nothing_and_leaves_the_import_system_alone(capfd: pytest.CaptureFixture[str]) -> None:
    path_before = list(sys.path)
    UiProMaxEngine().generate(QUERIES[0], "Quiet")

    assert capfd.readouterr() == ("", "")
    assert sys.path == path_before
    assert "core" not in sys.modules  # the engine's generic module name does not leak


def test_the_result_is_typed_text() -> None:
    result = UiProMaxEngine().generate(QUERIES[1], "Typed")

    assert result.engine == "uipro-cli"
    assert result.version == "2.2.3"
    assert HEX.match(result.colors.primary)
    assert result.typography.heading
    assert all(isinstance(v, str) for v in result.decision_rules.values())


def test_one_engine_serves_threads_at_once() -> None:
    engine = UiProMaxEngine()
    expected = {query: engine.generate(query, "T") for query in QUERIES}
    results: list[bool] = []

    def work(query: str) -> None:
        results.append(engine.generate(query, "T") == expected[query])

    threads = [threading.Thread(target=work, args=(QUERIES[i % 3],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 12


def test_a_missing_directory_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EngineUnavailableError, match=r"has no scripts/design_system\.py"):
        UiProMaxEngine(tmp_path).generate("x", "y")
    monkeypatch.setenv("UIPRO_ASSETS_DIR", str(tmp_path / "absent"))
    with pytest.raises(EngineUnavailableError, match="npm ci --prefix layers/design_engine"):
        assets_dir()
    monkeypatch.delenv("UIPRO_ASSETS_DIR")
    with pytest.raises(EngineUnavailableError, match="UIPRO_ASSETS_DIR is not set"):
        UiProMaxEngine().generate("x", "y")
