"""A complete, accessible token set from an engine's five colours and style.

Colours: the engine gives primary, secondary, CTA, background and text. From them each mode
(light and dark) gets background, surface, muted, text and the brand colours, their
``…Foreground`` pairs, muted text, border, focus ring, and success/warning/error/info with their
foregrounds. Tokens are computed in dependency order, and each one is checked against the
backgrounds it is used on (:data:`PAIRS`) as soon as it exists, so an adjustment never
invalidates a pair checked earlier. A colour that came from the engine or from a person and
fails is moved in lightness and the move is recorded; colours this module derives start from a
sensible tint and are moved silently (their starting point is an implementation detail).

Spacing, radius, shadow, blur and motion follow a style profile read from the style's name,
keywords and effects (flat/minimal, soft/clay, brutal, glass, retro, data-dense, expressive).
Everything here is a pure function of its inputs: the same engine output gives the same tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mm_common.design.contrast import (
    PairResult,
    adjust_lightness,
    check_pair,
    contrast_ratio,
    from_hsl,
    minimum_for,
    mix,
    normalize_hex,
    relative_luminance,
    to_hsl,
    with_lightness,
)

MODES = ("light", "dark")
SEED_KEYS = ("primary", "secondary", "accent", "background", "text")
STATUS_HUES = {"success": 142 / 360, "warning": 35 / 360, "error": 2 / 360, "info": 212 / 360}

# Every token with the backgrounds it is used on: (foreground, background, kind). "text" pairs
# need 4.5:1, "ui" pairs (components, borders, the focus ring) 3:1. Border and ring are lines, not
# fills, so they have no foreground; the background's foreground is ``text``.
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("text", "background", "text"),
    ("text", "surface", "text"),
    ("text", "muted", "text"),
    ("surfaceForeground", "surface", "text"),
    ("mutedForeground", "background", "text"),
    ("mutedForeground", "surface", "text"),
    ("mutedForeground", "muted", "text"),
    ("border", "background", "ui"),
    ("border", "surface", "ui"),
    ("primary", "background", "ui"),
    ("primary", "surface", "ui"),
    ("primaryForeground", "primary", "text"),
    ("ring", "background", "ui"),
    ("ring", "surface", "ui"),
    ("secondaryForeground", "secondary", "text"),
    ("accent", "background", "ui"),
    ("accent", "surface", "ui"),
    ("accentForeground", "accent", "text"),
    *(
        pair
        for status in STATUS_HUES
        for pair in (
            (status, "background", "text"),
            (status, "surface", "text"),
            (f"{status}Foreground", status, "text"),
        )
    ),
)
COLOR_TOKENS = (
    "background",
    "surface",
    "muted",
    "text",
    "surfaceForeground",
    "mutedForeground",
    "border",
    "primary",
    "primaryForeground",
    "ring",
    "secondary",
    "secondaryForeground",
    "accent",
    "accentForeground",
    *(name for status in STATUS_HUES for name in (status, f"{status}Foreground")),
    "shadow",
)
# A light theme's background must be light enough, and a dark theme's dark enough, that text,
# muted text and every surface derived from it can reach AA at once.
LIGHT_BACKGROUND_MIN_LUMINANCE = 0.5
DARK_BACKGROUND_MAX_LUMINANCE = 0.05
LIGHT_FILL_MIN_LUMINANCE = 0.4
DARK_FILL_MAX_LUMINANCE = 0.1

DEFAULT_SEEDS = {
    "primary": "#2563EB",
    "secondary": "#3B82F6",
    "accent": "#F97316",
    "background": "#F8FAFC",
    "text": "#1E293B",
}


@dataclass(frozen=True)
class Adjustment:
    mode: str
    token: str
    before: str
    after: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"mode": self.mode, "token": self.token, "from": self.before, "to": self.after, "reason": self.reason}


@dataclass
class ColorResult:
    light: dict[str, str]
    dark: dict[str, str]
    pairs: list[PairResult]
    adjustments: list[Adjustment]

    @property
    def all_pass(self) -> bool:
        return all(pair.passes for pair in self.pairs)


def seeds_from(values: dict[str, str]) -> dict[str, str]:
    """The five seed colours, normalised; missing or malformed ones fall back to neutral defaults."""
    seeds: dict[str, str] = {}
    for key in SEED_KEYS:
        try:
            seeds[key] = normalize_hex(values.get(key, ""))
        except ValueError:
            seeds[key] = DEFAULT_SEEDS[key]
    return seeds


def _tint(color: str, saturation_cap: float, lightness: float) -> str:
    hue, saturation, _ = to_hsl(color)
    return from_hsl(hue, min(saturation, saturation_cap), lightness)


def _shift(color: str, delta: float) -> str:
    return with_lightness(color, to_hsl(color)[2] + delta)


class _ModeBuilder:
    def __init__(self, mode: str, overrides: dict[str, str]) -> None:
        self.mode = mode
        self.overrides = overrides
        self.colors: dict[str, str] = {}
        self.pairs: list[PairResult] = []
        self.adjustments: list[Adjustment] = []

    def put(self, token: str, candidate: str, *, recorded: bool) -> None:
        """Set ``token`` from the person's override, else ``candidate``; then make it pass on the
        backgrounds it is used on. A failing override or engine colour is recorded when moved."""
        override = self.overrides.get(token)
        if override is not None:
            candidate, recorded = override, True
        constraints = [(bg, kind) for fg, bg, kind in PAIRS if fg == token]
        value = candidate
        for _ in range(3):  # a token used as text and as UI must end up satisfying both
            for kind in ("text", "ui"):
                backgrounds = [self.colors[bg] for bg, k in constraints if k == kind]
                if backgrounds:
                    value, _ = adjust_lightness(value, backgrounds, minimum_for(kind))
            if all(contrast_ratio(value, self.colors[bg]) >= minimum_for(k) for bg, k in constraints):
                break
        if recorded and value != candidate:
            failing = [
                f"{contrast_ratio(candidate, self.colors[bg]):.2f}:1 on {bg} (needs {minimum_for(kind):g}:1 {kind})"
                for bg, kind in constraints
                if contrast_ratio(candidate, self.colors[bg]) < minimum_for(kind)
            ]
            self.adjustments.append(
                Adjustment(self.mode, token, candidate, value, "lightness changed for AA: " + "; ".join(failing))
            )
        self.colors[token] = value
        for fg, bg, kind in PAIRS:
            if fg == token:
                self.pairs.append(check_pair(self.mode, self.colors, fg, bg, kind))

    def put_fill(self, name: str, candidate: str, *, recorded: bool) -> None:
        """A background, surface or muted fill: text sits on all three, so each stays light enough
        in the light theme and dark enough in the dark one for one text colour to pass on all."""
        override = self.overrides.get(name)
        if override is not None:
            candidate, recorded = override, True
        value, luminance, reason = candidate, relative_luminance(candidate), ""
        floor = LIGHT_BACKGROUND_MIN_LUMINANCE if name == "background" else LIGHT_FILL_MIN_LUMINANCE
        ceiling = DARK_BACKGROUND_MAX_LUMINANCE if name == "background" else DARK_FILL_MAX_LUMINANCE
        if self.mode == "light" and luminance < floor:
            value = _lightness_until(candidate, lambda c: relative_luminance(c) >= floor, 1)
            reason = f"a light theme's {name} needs luminance ≥ {floor:g}"
        elif self.mode == "dark" and luminance > ceiling:
            value = _lightness_until(candidate, lambda c: relative_luminance(c) <= ceiling, -1)
            reason = f"a dark theme's {name} needs luminance ≤ {ceiling:g}"
        if recorded and value != candidate:
            reason += f" (was {luminance:.2f}) so that one text colour reaches AA on the background and every surface"
            self.adjustments.append(Adjustment(self.mode, name, candidate, value, reason))
        self.colors[name] = value

    def put_plain(self, token: str, candidate: str) -> None:
        """A colour nothing is checked against (the shadow's tint)."""
        self.colors[token] = self.overrides.get(token, candidate)


def _lightness_until(color: str, accept: Callable[[str], bool], direction: int) -> str:
    hue, saturation, lightness = to_hsl(color)
    value = lightness
    while 0.0 <= value <= 1.0:
        candidate = from_hsl(hue, saturation, value)
        if accept(candidate):
            return candidate
        value += direction * 0.005
    return "#FFFFFF" if direction > 0 else "#000000"


def _foreground_for(fill: str) -> str:
    """White on a fill dark enough for it, else a near-black of the fill's hue."""
    if contrast_ratio("#FFFFFF", fill) >= 4.5:
        return "#FFFFFF"
    return _tint(fill, 0.5, 0.1)


def _build_mode(mode: str, seeds: dict[str, str], overrides: dict[str, str]) -> _ModeBuilder:
    b = _ModeBuilder(mode, overrides)
    seed_bg, seed_text = seeds["background"], seeds["text"]
    bg_lum, text_lum = relative_luminance(seed_bg), relative_luminance(seed_text)
    if mode == "light":
        if bg_lum >= DARK_BACKGROUND_MAX_LUMINANCE:
            b.put_fill("background", seed_bg, recorded=True)
        elif text_lum >= 0.8:
            b.put_fill("background", seed_text, recorded=False)
        else:
            b.put_fill("background", _tint(seed_bg, 0.3, 0.97), recorded=False)
        background = b.colors["background"]
        b.put_fill("surface", mix("#FFFFFF", background, 0.7), recorded=False)
        b.put_fill("muted", _shift(background, -0.05), recorded=False)
        text_seed = seed_text if text_lum < bg_lum else (seed_bg if bg_lum < 0.05 else _tint(seed_text, 0.3, 0.12))
        b.put("text", text_seed, recorded=text_seed == seed_text)
    else:
        if bg_lum <= DARK_BACKGROUND_MAX_LUMINANCE:
            b.put_fill("background", seed_bg, recorded=True)
        else:
            b.put_fill("background", _tint(seed_text, 0.35, 0.07), recorded=False)
        background = b.colors["background"]
        b.put_fill("surface", _shift(background, 0.05), recorded=False)
        b.put_fill("muted", _shift(background, 0.1), recorded=False)
        if text_lum > bg_lum:
            b.put("text", seed_text, recorded=True)
        elif bg_lum >= 0.8:
            b.put("text", seed_bg, recorded=False)
        else:
            b.put("text", _tint(seed_text, 0.15, 0.93), recorded=False)
    colors = b.colors
    b.put("surfaceForeground", colors["text"], recorded=False)
    b.put("mutedForeground", mix(colors["text"], colors["background"], 0.6), recorded=False)
    b.put("border", mix(colors["text"], colors["background"], 0.4), recorded=False)
    for brand in ("primary", "secondary", "accent"):
        b.put(brand, seeds[brand], recorded=True)
        b.put(f"{brand}Foreground", _foreground_for(colors[brand]), recorded=False)
        if brand == "primary":
            b.put("ring", colors["primary"], recorded=False)
    for status, hue in STATUS_HUES.items():
        saturation = 0.75 if mode == "light" else 0.7
        b.put(status, from_hsl(hue, saturation, 0.4 if mode == "light" else 0.62), recorded=False)
        b.put(f"{status}Foreground", _foreground_for(colors[status]), recorded=False)
    b.put_plain("shadow", _tint(colors["text"], 0.3, 0.1) if mode == "light" else "#000000")
    return b


def build_colors(seeds: dict[str, str], overrides: dict[str, dict[str, str]] | None = None) -> ColorResult:
    """Light and dark colour tokens from the seed colours (and any person's per-mode overrides)."""
    overrides = overrides or {}
    built = {mode: _build_mode(mode, seeds, overrides.get(mode, {})) for mode in MODES}
    return ColorResult(
        light={token: built["light"].colors[token] for token in COLOR_TOKENS},
        dark={token: built["dark"].colors[token] for token in COLOR_TOKENS},
        pairs=[pair for mode in MODES for pair in built[mode].pairs],
        adjustments=[adjustment for mode in MODES for adjustment in built[mode].adjustments],
    )


# ---------------------------------------------------------------- style-driven scales

_PROFILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("brutal", ("brutal", "raw aesthetic", "anti-polish")),
    ("retro", ("pixel", "retro", "y2k", "vaporwave", "cyberpunk", "hud", "sci-fi", "chromatic", "memphis")),
    ("glass", ("glass", "frosted", "spatial", "visionos", "aurora")),
    ("soft", ("clay", "neumorph", "soft ui", "soft 3d", "tactile", "bubbly", "skeuomorph", "organic", "biophilic")),
    ("dense", ("data-dense", "dashboard", "analytics", "monitoring", "bi/", "heat map")),
    ("expressive", ("motion-driven", "kinetic", "parallax", "micro-interaction", "storytelling", "3d")),
    ("flat", ("flat", "minimal", "swiss", "e-ink", "paper", "editorial", "accessible", "inclusive")),
)


def style_profile(name: str, keywords: str = "", effects: str = "", style_type: str = "") -> str:
    """The first profile whose markers the style's name names, else its keywords, effects or type."""
    for text in (name, f"{keywords} {effects} {style_type}"):
        lowered = text.lower()
        for profile, markers in _PROFILES:
            if any(marker in lowered for marker in markers):
                return profile
    return "balanced"


_SPACE_STEPS = (("xs", 4), ("sm", 8), ("md", 16), ("lg", 24), ("xl", 32), ("2xl", 48), ("3xl", 64))
_DENSITY = {"dense": 0.75, "flat": 1.25, "balanced": 1.0}

_RADIUS = {
    "brutal": (0, 0, 0, 0),
    "retro": (0, 2, 4, 6),
    "flat": (2, 4, 6, 8),
    "dense": (4, 6, 8, 12),
    "balanced": (6, 8, 12, 16),
    "expressive": (8, 12, 16, 24),
    "glass": (10, 16, 20, 28),
    "soft": (12, 20, 28, 36),
}


def _shadows(profile: str) -> dict[str, str]:
    c = "color-mix(in srgb, var(--shadow) {0}%, transparent)"
    if profile == "flat":
        return {"sm": "none", "md": "none", "lg": "none"}
    if profile == "brutal":
        return {
            "sm": "2px 2px 0 0 var(--text)",
            "md": "4px 4px 0 0 var(--text)",
            "lg": "8px 8px 0 0 var(--text)",
        }
    if profile == "retro":
        glow = "color-mix(in srgb, var(--primary) {0}%, transparent)"
        return {
            "sm": "0 0 0 1px var(--primary)",
            "md": f"0 0 12px {glow.format(45)}",
            "lg": f"0 0 24px {glow.format(55)}",
        }
    if profile == "soft":
        return {
            "sm": f"0 2px 4px {c.format(10)}, inset 0 1px 0 rgb(255 255 255 / 0.35)",
            "md": f"0 6px 12px {c.format(12)}, 0 2px 4px {c.format(8)}, inset 0 -2px 0 {c.format(8)}",
            "lg": f"0 16px 32px {c.format(14)}, 0 6px 12px {c.format(10)}, inset 0 -3px 0 {c.format(10)}",
        }
    if profile == "glass":
        return {
            "sm": f"0 1px 2px {c.format(8)}, inset 0 1px 0 rgb(255 255 255 / 0.25)",
            "md": f"0 8px 24px {c.format(12)}, inset 0 1px 0 rgb(255 255 255 / 0.25)",
            "lg": f"0 16px 48px {c.format(16)}, inset 0 1px 0 rgb(255 255 255 / 0.3)",
        }
    if profile == "dense":
        return {"sm": f"0 1px 1px {c.format(6)}", "md": f"0 1px 3px {c.format(10)}", "lg": f"0 4px 8px {c.format(12)}"}
    return {
        "sm": f"0 1px 2px {c.format(8)}",
        "md": f"0 2px 4px {c.format(8)}, 0 4px 12px {c.format(10)}",
        "lg": f"0 8px 16px {c.format(10)}, 0 16px 40px {c.format(12)}",
    }


_EASING = {
    "brutal": ("cubic-bezier(0.2, 0, 0, 1)", "steps(4, end)"),
    "retro": ("cubic-bezier(0.2, 0, 0, 1)", "steps(6, end)"),
    "soft": ("cubic-bezier(0.34, 1.56, 0.64, 1)", "cubic-bezier(0.22, 1, 0.36, 1)"),
    "expressive": ("cubic-bezier(0.22, 1, 0.36, 1)", "cubic-bezier(0.34, 1.56, 0.64, 1)"),
}
_BASE_MS = {"brutal": 150, "retro": 150, "flat": 150, "dense": 150, "balanced": 200, "soft": 200, "glass": 250}
_MS = re.compile(r"(\d{2,4})\s*ms")


def _motion(profile: str, effects: str) -> dict[str, Any]:
    base = _BASE_MS.get(profile, 300)
    mentioned = sorted(int(ms) for ms in _MS.findall(effects))
    if mentioned:
        base = mentioned[len(mentioned) // 2]
    # Hover and press feedback takes 150–300 ms whatever the style says.
    base = max(150, min(300, base))
    standard, emphasized = _EASING.get(profile, ("cubic-bezier(0.2, 0, 0, 1)", "cubic-bezier(0.3, 0, 0, 1)"))
    return {
        "durationFast": f"{max(100, round(base * 0.6 / 10) * 10)}ms",
        "durationBase": f"{base}ms",
        "durationSlow": f"{round(base * 1.75 / 10) * 10}ms",
        "easingStandard": standard,
        "easingEmphasized": emphasized,
        "easingEnter": "cubic-bezier(0, 0, 0.2, 1)",
        "easingExit": "cubic-bezier(0.4, 0, 1, 1)",
        "reducedMotion": {
            "query": "(prefers-reduced-motion: reduce)",
            "policy": (
                "Under reduced motion, durations drop to 0.01ms, animations run once, and parallax, "
                "auto-playing and scroll-linked motion are off; opacity fades may stay."
            ),
        },
    }


def build_scales(profile: str, effects: str) -> dict[str, Any]:
    """Spacing, radius, border width, shadow, blur and motion for a style profile."""
    density = _DENSITY.get(profile, 1.0)
    radius = _RADIUS.get(profile, _RADIUS["balanced"])
    border_width = {"brutal": "3px", "soft": "2px", "retro": "2px"}.get(profile, "1px")
    blur = ("8px", "16px", "24px") if profile == "glass" else ("0px", "0px", "0px")
    return {
        "spacing": {name: f"{max(2, round(px * density / 2) * 2)}px" for name, px in _SPACE_STEPS},
        "radius": {
            "none": "0px",
            "sm": f"{radius[0]}px",
            "md": f"{radius[1]}px",
            "lg": f"{radius[2]}px",
            "xl": f"{radius[3]}px",
            "full": "9999px",
        },
        "borderWidth": border_width,
        "shadow": _shadows(profile),
        "blur": {"sm": blur[0], "md": blur[1], "lg": blur[2]},
        "motion": _motion(profile, effects),
    }
