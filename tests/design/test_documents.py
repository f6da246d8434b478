"""Documents from three descriptions: different, complete, and accessible in light and dark."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from mm_common.design import schema
from mm_common.design.document import (
    DesignSystemError,
    apply_edit,
    check_page_override,
    generate_document,
    merge_page,
    page_override,
)
from tests.design.wcag import failing_pairs, ratio

DESCRIPTIONS = ("a vet clinic dashboard", "a fintech landing page", "a children's learning app")
COLOR_TOKENS = {
    "background",
    "surface",
    "surfaceForeground",
    "text",
    "muted",
    "mutedForeground",
    "border",
    "ring",
    "shadow",
    *(name for fill in ("primary", "secondary", "accent") for name in (fill, f"{fill}Foreground")),
    *(name for status in ("success", "warning", "error", "info") for name in (status, f"{status}Foreground")),
}
HEX = re.compile(r"\A#[0-9A-F]{6}\Z")


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {description: generate_document(description, "Demo") for description in DESCRIPTIONS}


def test_three_descriptions_give_three_different_complete_documents(documents: dict[str, dict[str, Any]]) -> None:
    fingerprints = set()
    for document in documents.values():
        assert document["schemaVersion"] == 1
        assert document["source"] == {
            "engine": "uipro-cli",
            "version": "2.2.3",
            "category": document["category"],
            "severity": document["source"]["severity"],
        }
        assert document["generatedByAi"] is True
        for mode in ("light", "dark"):
            assert set(document["tokens"][mode]) == COLOR_TOKENS
            assert all(HEX.match(value) for value in document["tokens"][mode].values())
        assert document["tokens"]["light"]["background"] != document["tokens"]["dark"]["background"]
        assert document["pattern"]["sections"] and all(document["pattern"]["sections"])
        assert document["antiPatterns"] and document["checklist"]
        assert document["typography"]["heading"]["family"] and document["typography"]["body"]["family"]
        assert document["typography"]["googleFontsUrl"].startswith("https://fonts.googleapis.com/css2?family=")
        assert set(document["tokens"]["motion"]) >= {"durationFast", "durationBase", "easingStandard", "reducedMotion"}
        fingerprints.add(
            (
                document["category"],
                document["tokens"]["light"]["primary"],
                document["typography"]["heading"]["family"],
                tuple(document["pattern"]["sections"]),
            )
        )
    assert len(fingerprints) == 3
    categories = [document["category"] for document in documents.values()]
    assert categories == ["Veterinary Clinic", "Service Landing Page", "Language Learning App"]


@pytest.mark.parametrize("description", DESCRIPTIONS)
@pytest.mark.parametrize("mode", ["light", "dark"])
def test_every_pair_passes_aa_by_an_independent_computation(
    documents: dict[str, dict[str, Any]], description: str, mode: str
) -> None:
    document = documents[description]
    assert failing_pairs(document["tokens"][mode]) == []
    assert document["contrast"]["allPass"] is True
    # The document's own report agrees with this computation.
    for pair in document["contrast"]["pairs"]:
        if pair["mode"] == mode:
            colors = document["tokens"][mode]
            expected = ratio(colors[pair["foreground"]], colors[pair["background"]])
            assert pair["ratio"] == pytest.approx(expected, abs=0.01)


def test_engine_colours_that_fail_are_adjusted_and_reported(documents: dict[str, dict[str, Any]]) -> None:
    vet = documents["a vet clinic dashboard"]
    # The engine's CTA green is 2.2:1 on its own background: too faint for a button's edge.
    assert vet["palette"]["accent"] == "#22C55E"
    assert ratio("#22C55E", vet["tokens"]["light"]["background"]) < 3
    adjustment = next(a for a in vet["contrast"]["adjustments"] if a["token"] == "accent" and a["mode"] == "light")
    assert adjustment["from"] == "#22C55E"
    assert adjustment["to"] == vet["tokens"]["light"]["accent"]
    assert "needs 3:1" in adjustment["reason"]
    assert ratio(adjustment["to"], vet["tokens"]["light"]["background"]) >= 3


def test_generation_is_deterministic(documents: dict[str, dict[str, Any]]) -> None:
    assert generate_document(DESCRIPTIONS[0], "Demo") == documents[DESCRIPTIONS[0]]


def test_scales_follow_the_style(documents: dict[str, dict[str, Any]]) -> None:
    clay = documents["a children's learning app"]
    minimal = documents["a fintech landing page"]
    assert clay["style"]["profile"] == "soft" and minimal["style"]["profile"] == "flat"
    assert int(clay["tokens"]["radius"]["md"].removesuffix("px")) >= 16
    assert clay["tokens"]["shadow"]["md"].count("color-mix") >= 2  # layered
    assert int(minimal["tokens"]["radius"]["md"].removesuffix("px")) <= 4
    assert set(minimal["tokens"]["shadow"].values()) == {"none"}


def test_a_failing_colour_edit_is_adjusted_and_reported(documents: dict[str, dict[str, Any]]) -> None:
    original = documents["a fintech landing page"]
    result = apply_edit(original, {"light": {"primary": "#FFF59D"}, "palette": {"text": "#9E9E9E"}})

    edited = result.document
    assert edited["generatedByAi"] is False
    assert original["generatedByAi"] is True  # the input is not changed
    assert edited["colorOverrides"]["light"] == {"primary": "#FFF59D"}
    light = edited["tokens"]["light"]
    assert light["primary"] != "#FFF59D" and light["text"] != "#9E9E9E"
    assert failing_pairs(light) == [] and failing_pairs(edited["tokens"]["dark"]) == []
    reported = {(a["mode"], a["token"]): a for a in result.adjustments}
    assert reported[("light", "primary")]["from"] == "#FFF59D"
    assert reported[("light", "primary")]["to"] == light["primary"]
    assert reported[("light", "text")]["from"] == "#9E9E9E"
    # The pale yellow keeps its hue: only its lightness moved.
    assert light["primary"][1:3] >= light["primary"][5:7]
    schema.validate(edited)


def test_edits_of_fonts_and_anti_patterns(documents: dict[str, dict[str, Any]]) -> None:
    original = documents["a vet clinic dashboard"]
    edited = apply_edit(
        original,
        {
            "typography": {"heading": "Lora", "mono": None},
            "antiPatterns": ["Stock photos of pets", " ", "Dark patterns"],
        },
    ).document

    typography = edited["typography"]
    assert typography["heading"]["family"] == "Lora" and typography["heading"]["kind"] == "serif"
    assert typography["heading"]["stack"].startswith("Lora, ui-serif")
    # A typed family's weights are unknown: asked for without a weight axis, so the URL cannot fail.
    assert "family=Lora&" in typography["googleFontsUrl"]
    assert "family=Fira+Sans:wght@400;600" in typography["googleFontsUrl"]
    assert edited["antiPatterns"] == ["Stock photos of pets", "Dark patterns"]


@pytest.mark.parametrize(
    "changes",
    [
        {"light": {"primary": "blue"}},
        {"light": {"primary": "#12345"}},
        {"palette": {"surface": "#FFFFFF"}},
        {"dark": {"notAToken": "#FFFFFF"}},
        {"typography": {"heading": "Inter; } body { color: red"}},
        {"antiPatterns": "not a list"},
        {"antiPatterns": ["x" * 201]},
        {"tokens": {}},
    ],
)
def test_bad_edits_are_refused(documents: dict[str, dict[str, Any]], changes: dict[str, Any]) -> None:
    with pytest.raises(DesignSystemError):
        apply_edit(documents[DESCRIPTIONS[0]], changes)


def test_unpinning_a_colour_restores_the_derived_one(documents: dict[str, dict[str, Any]]) -> None:
    original = documents[DESCRIPTIONS[2]]
    pinned = apply_edit(original, {"dark": {"border": "#FF00FF"}}).document
    unpinned = apply_edit(pinned, {"dark": {"border": None}}).document
    assert unpinned["tokens"] == original["tokens"]


def test_generated_documents_validate_and_broken_ones_do_not(documents: dict[str, dict[str, Any]]) -> None:
    for document in documents.values():
        assert schema.problems(document) == []
    broken = copy.deepcopy(documents[DESCRIPTIONS[0]])
    del broken["tokens"]["light"]["primary"]
    broken["schemaVersion"] = 2
    broken["tokens"]["dark"]["text"] = "white"
    found = schema.problems(broken)
    assert any(p.startswith("schemaVersion") for p in found)
    assert any(p.startswith("tokens/light") and "primary" in p for p in found)
    assert any(p.startswith("tokens/dark/text") for p in found)
    with pytest.raises(DesignSystemError, match="not valid"):
        schema.validate(broken)


def test_a_page_override_wins_over_the_master(documents: dict[str, dict[str, Any]]) -> None:
    master = documents[DESCRIPTIONS[0]]
    override = {"pattern": {"sections": ["Search", "Results"]}, "antiPatterns": ["Infinite scroll"]}
    merged = merge_page(master, override)

    assert merged["pattern"]["sections"] == ["Search", "Results"]
    assert merged["pattern"]["name"] == master["pattern"]["name"]  # objects merge key by key
    assert merged["antiPatterns"] == ["Infinite scroll"]  # lists replace
    assert merged["tokens"] == master["tokens"]
    assert master["pattern"]["sections"] != ["Search", "Results"]  # the master is not changed
    schema.validate(merged)


def test_a_page_override_from_a_page_document_keeps_the_brand(documents: dict[str, dict[str, Any]]) -> None:
    master, page = documents[DESCRIPTIONS[0]], documents[DESCRIPTIONS[1]]
    override = page_override(master, page)

    assert set(override) <= {"pattern", "effects", "antiPatterns", "checklist"}
    assert override["pattern"]["sections"] == page["pattern"]["sections"]
    assert override["antiPatterns"][: len(master["antiPatterns"])] == master["antiPatterns"]
    assert merge_page(master, override)["tokens"] == master["tokens"]
    assert page_override(master, master) == {}


@pytest.mark.parametrize(
    "override",
    [{"tokens": {"light": {"text": "#FFFFFF"}}}, {"pattern": {"sections": "not a list"}}, ["pattern"]],
)
def test_a_page_cannot_override_the_brand_or_break_the_schema(
    documents: dict[str, dict[str, Any]], override: object
) -> None:
    with pytest.raises(DesignSystemError):
        check_page_override(documents[DESCRIPTIONS[0]], override)
    accepted = {"effects": ["Subtle fades"]}
    assert check_page_override(documents[DESCRIPTIONS[0]], accepted) == accepted
