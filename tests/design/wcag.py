"""An independent WCAG 2.2 contrast check for the tests (written apart from mm_common.design.contrast)."""

from __future__ import annotations


def luminance(hex_color: str) -> float:
    value = hex_color.lstrip("#")
    assert len(value) == 6, hex_color
    total = 0.0
    for weight, offset in ((0.2126, 0), (0.7152, 2), (0.0722, 4)):
        srgb = int(value[offset : offset + 2], 16) / 255.0
        linear = srgb / 12.92 if srgb <= 0.04045 else pow((srgb + 0.055) / 1.055, 2.4)
        total += weight * linear
    return total


def ratio(a: str, b: str) -> float:
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


STATUSES = ("success", "warning", "error", "info")
FILLS = ("primary", "secondary", "accent", "surface", "muted", *STATUSES)


def required_pairs() -> list[tuple[str, str, float]]:
    """Every foreground/background pair a page uses, with its AA minimum (this test's own list)."""
    pairs: list[tuple[str, str, float]] = []
    for surface in ("background", "surface", "muted"):
        pairs.append(("text", surface, 4.5))
        pairs.append(("mutedForeground", surface, 4.5))
    for fill in FILLS:
        pairs.append((f"{fill}Foreground", fill, 4.5))
    for surface in ("background", "surface"):
        pairs += [(status, surface, 4.5) for status in STATUSES]
        pairs += [(line, surface, 3.0) for line in ("border", "ring", "primary", "accent")]
    return pairs


def failing_pairs(colors: dict[str, str]) -> list[str]:
    return [
        f"{fg} {colors[fg]} on {bg} {colors[bg]}: {ratio(colors[fg], colors[bg]):.3f} < {minimum}"
        for fg, bg, minimum in required_pairs()
        if ratio(colors[fg], colors[bg]) < minimum
    ]
