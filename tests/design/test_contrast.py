"""WCAG arithmetic and lightness adjustment, against known values and the test's own formula."""

from __future__ import annotations

import random

import pytest

from mm_common.design.contrast import adjust_lightness, contrast_ratio, normalize_hex, relative_luminance, to_hsl
from mm_common.design.tokens import COLOR_TOKENS, SEED_KEYS, build_colors, build_scales, style_profile
from tests.design.wcag import failing_pairs, luminance, ratio


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("#000000", "#FFFFFF", 21.0),
        ("#FFFFFF", "#FFFFFF", 1.0),
        ("#777777", "#FFFFFF", 4.48),
        ("#767676", "#FFFFFF", 4.54),
    ],
)
def test_known_ratios(first: str, second: str, expected: float) -> None:
    assert contrast_ratio(first, second) == pytest.approx(expected, abs=0.005)
    assert contrast_ratio(second, first) == contrast_ratio(first, second)


def test_luminance_matches_the_definition() -> None:
    rng = random.Random(3)
    for _ in range(200):
        color = f"#{rng.randrange(0x1000000):06X}"
        assert relative_luminance(color) == pytest.approx(luminance(color), abs=1e-12)


def test_adjustment_keeps_hue_and_reaches_the_minimum() -> None:
    adjusted, passes = adjust_lightness("#22C55E", ["#F0FDFA", "#FFFFFF"], 3.0)
    assert passes and adjusted != "#22C55E"
    assert min(ratio(adjusted, "#F0FDFA"), ratio(adjusted, "#FFFFFF")) >= 3.0
    assert to_hsl(adjusted)[0] == pytest.approx(to_hsl("#22C55E")[0], abs=0.01)
    assert adjust_lightness("#111111", ["#FFFFFF"], 4.5) == ("#111111", True)  # passing colours stay


def test_short_and_lower_case_hex_are_normalised() -> None:
    assert normalize_hex(" #0af ") == "#00AAFF"
    with pytest.raises(ValueError):
        normalize_hex("#00AAFF; }")


def test_any_palette_and_any_overrides_end_accessible() -> None:
    """Random seeds and random pinned tokens (what people may type) still give AA everywhere."""
    rng = random.Random(20261207)
    for _ in range(150):
        seeds = {k: f"#{rng.randrange(0x1000000):06X}" for k in SEED_KEYS}
        overrides = {
            mode: {t: f"#{rng.randrange(0x1000000):06X}" for t in rng.sample(COLOR_TOKENS, rng.randrange(0, 6))}
            for mode in ("light", "dark")
        }
        result = build_colors(seeds, overrides)
        assert failing_pairs(result.light) == [], (seeds, overrides)
        assert failing_pairs(result.dark) == [], (seeds, overrides)
        assert result.all_pass


@pytest.mark.parametrize(
    ("style", "keywords", "radius_md", "shadow_kind", "blur"),
    [
        ("Flat Design", "2D, minimal, bold colors", "4px", "none", "0px"),
        ("Claymorphism", "Soft 3D, chunky, bubbly", "20px", "layered", "0px"),
        ("Neumorphism", "soft shadows, embossed", "20px", "layered", "0px"),
        ("Brutalism", "raw, stark, visible borders", "0px", "hard", "0px"),
        ("Glassmorphism", "frosted glass, transparency", "16px", "soft", "16px"),
    ],
)
def test_scales_follow_the_style_profile(
    style: str, keywords: str, radius_md: str, shadow_kind: str, blur: str
) -> None:
    scales = build_scales(style_profile(style, keywords), "")
    assert scales["radius"]["md"] == radius_md
    assert scales["blur"]["md"] == blur
    shadow = scales["shadow"]["md"]
    if shadow_kind == "none":
        assert shadow == "none"
    elif shadow_kind == "hard":
        assert shadow.startswith("4px 4px 0 0")  # offset, no blur
    elif shadow_kind == "layered":
        assert shadow.count("color-mix") >= 2
    else:
        assert "inset" in shadow
    motion = scales["motion"]
    assert motion["reducedMotion"]["query"] == "(prefers-reduced-motion: reduce)"
    assert 150 <= int(motion["durationBase"].removesuffix("ms")) <= 300


def test_durations_named_by_the_style_are_used_within_bounds() -> None:
    assert build_scales("soft", "soft press (220ms ease-out)")["motion"]["durationBase"] == "220ms"
    assert build_scales("soft", "slow reveal (900ms)")["motion"]["durationBase"] == "300ms"
