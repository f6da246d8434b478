"""WCAG 2.2 contrast: relative luminance, contrast ratio, and lightness adjustment until a pair passes.

Definitions (WCAG 2.2, "relative luminance" and "contrast ratio"): each sRGB channel c in 0..1 is
linearised as c/12.92 when c <= 0.04045, else ((c + 0.055)/1.055)^2.4; L = 0.2126 R + 0.7152 G +
0.0722 B; the ratio is (L1 + 0.05)/(L2 + 0.05) with L1 the lighter. AA asks 4.5:1 for text and
3:1 for large text and user-interface components (1.4.3, 1.4.11).

Adjustment moves a colour's HSL lightness only, keeping hue and saturation. For a fixed hue and
saturation every sRGB channel is non-decreasing in HSL lightness, so luminance is too: walking
lightness towards 0 or 1 reaches black or white, the colours of greatest contrast.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass
from functools import lru_cache

TEXT_MINIMUM = 4.5
UI_MINIMUM = 3.0
AAA_TEXT = 7.0
# Adjusted colours aim a hair above the minimum so that any correct implementation of the
# formula (another rounding of the same definition) still finds them passing.
_MARGIN = 0.02
_STEP = 0.005

HEX_PATTERN = re.compile(r"\A#[0-9a-fA-F]{6}\Z")
_SHORT_HEX = re.compile(r"\A#[0-9a-fA-F]{3}\Z")


def normalize_hex(value: str) -> str:
    """``#RRGGBB`` in upper case; accepts ``#RGB``; raises ValueError for anything else."""
    text = value.strip()
    if _SHORT_HEX.match(text):
        text = "#" + "".join(ch * 2 for ch in text[1:])
    if not HEX_PATTERN.match(text):
        raise ValueError(f"{value!r} is not a #RRGGBB colour")
    return text.upper()


@lru_cache(maxsize=8192)
def to_rgb(color: str) -> tuple[float, float, float]:
    text = normalize_hex(color)
    return (int(text[1:3], 16) / 255, int(text[3:5], 16) / 255, int(text[5:7], 16) / 255)


def from_rgb(red: float, green: float, blue: float) -> str:
    channels = (max(0, min(255, round(c * 255))) for c in (red, green, blue))
    return "#" + "".join(f"{c:02X}" for c in channels)


def to_hsl(color: str) -> tuple[float, float, float]:
    """(hue 0..1, saturation 0..1, lightness 0..1)."""
    hue, lightness, saturation = colorsys.rgb_to_hls(*to_rgb(color))
    return hue, saturation, lightness


def from_hsl(hue: float, saturation: float, lightness: float) -> str:
    clamp = max(0.0, min(1.0, lightness))
    return from_rgb(*colorsys.hls_to_rgb(hue % 1.0, clamp, max(0.0, min(1.0, saturation))))


def with_lightness(color: str, lightness: float) -> str:
    hue, saturation, _ = to_hsl(color)
    return from_hsl(hue, saturation, lightness)


def mix(first: str, second: str, weight: float) -> str:
    """``weight`` of ``first`` and the rest of ``second``, channel by channel in sRGB."""
    a, b = to_rgb(first), to_rgb(second)
    return from_rgb(*(x * weight + y * (1 - weight) for x, y in zip(a, b, strict=True)))


def _linear(channel: float) -> float:
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


@lru_cache(maxsize=8192)
def relative_luminance(color: str) -> float:
    red, green, blue = to_rgb(color)
    return 0.2126 * _linear(red) + 0.7152 * _linear(green) + 0.0722 * _linear(blue)


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def minimum_for(kind: str) -> float:
    return TEXT_MINIMUM if kind == "text" else UI_MINIMUM


def _worst(color: str, backgrounds: list[str]) -> float:
    return min(contrast_ratio(color, background) for background in backgrounds)


def adjust_lightness(color: str, backgrounds: list[str], minimum: float) -> tuple[str, bool]:
    """The colour nearest in HSL lightness to ``color`` (same hue and saturation) whose contrast
    with every background is at least ``minimum``: (colour, passes). ``color`` itself when it
    already passes. When no lightness satisfies all backgrounds at once (they sit on both sides
    of the colour), black or white, whichever is better, and passes False."""
    if _worst(color, backgrounds) >= minimum:
        return color, True
    goal = minimum + _MARGIN
    hue, saturation, lightness = to_hsl(color)
    found: list[tuple[float, int, str]] = []
    for direction in (-1, 1):
        steps = 0
        value = lightness
        while 0.0 < value < 1.0 or steps == 0:
            steps += 1
            value = max(0.0, min(1.0, lightness + direction * steps * _STEP))
            candidate = from_hsl(hue, saturation, value)
            if _worst(candidate, backgrounds) >= goal:
                # Ties prefer moving away from the backgrounds' mean luminance (darker on light).
                mean = sum(relative_luminance(b) for b in backgrounds) / len(backgrounds)
                away = 0 if (direction < 0) == (relative_luminance(color) <= mean) else 1
                found.append((abs(value - lightness), away, candidate))
                break
            if value in (0.0, 1.0):
                break
    if found:
        return min(found)[2], True
    best = max(("#000000", "#FFFFFF"), key=lambda extreme: _worst(extreme, backgrounds))
    return best, _worst(best, backgrounds) >= minimum


@dataclass(frozen=True)
class PairResult:
    mode: str
    foreground: str
    background: str
    foreground_color: str
    background_color: str
    kind: str
    ratio: float
    minimum: float

    @property
    def passes(self) -> bool:
        return self.ratio >= self.minimum

    def as_json(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "foreground": self.foreground,
            "background": self.background,
            "foregroundColor": self.foreground_color,
            "backgroundColor": self.background_color,
            "kind": self.kind,
            "ratio": round(self.ratio, 2),
            "minimum": self.minimum,
            "passes": self.passes,
            "aaa": self.ratio >= (AAA_TEXT if self.kind == "text" else TEXT_MINIMUM),
        }


def check_pair(mode: str, colors: dict[str, str], foreground: str, background: str, kind: str) -> PairResult:
    fg, bg = colors[foreground], colors[background]
    return PairResult(mode, foreground, background, fg, bg, kind, contrast_ratio(fg, bg), minimum_for(kind))
