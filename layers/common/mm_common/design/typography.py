"""Typography: heading, body and mono families with fallback stacks, weights, a modular type scale
and the Google Fonts CSS2 URL for exactly the weights used.

The fallback stacks are system fonts of the same kind (sans, serif, mono, handwriting), so the
page reads well before (or without) the web fonts: the CSS2 URL asks for ``display=swap``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

# Family names go into CSS and a URL: letters, digits and spaces only (every Google Fonts family fits).
FAMILY_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9 ]{0,63}\Z")

SANS_STACK = (
    "ui-sans-serif",
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Roboto",
    "Helvetica Neue",
    "Arial",
    "sans-serif",
)
SERIF_STACK = ("ui-serif", "Georgia", "Cambria", "Times New Roman", "Times", "serif")
MONO_STACK = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace")
HAND_STACK = ("Segoe Print", "Bradley Hand", "Chilanka", "cursive")
_GENERIC = {"sans-serif", "serif", "monospace", "cursive", "system-ui", "ui-sans-serif", "ui-serif", "ui-monospace"}
_GENERIC |= {"-apple-system"}

_MONO_MARKERS = ("mono", "code", "vt323", "press start")
_SERIF_MARKERS = (
    "serif",
    "garamond",
    "baskerville",
    "bodoni",
    "playfair",
    "merriweather",
    "lora",
    "cormorant",
    "crimson",
    "cinzel",
    "newsreader",
    "abril",
    "fraunces",
    "spectral",
    "literata",
    "naskh",
)
_HAND_MARKERS = ("caveat", "vibes", "script", "pacifico", "amatic", "handwriting", "satisfy", "kalam")

DEFAULT_WEIGHTS = (400, 500, 600, 700)
_SCALE_STEPS = (("xs", -2), ("sm", -1), ("base", 0), ("lg", 1), ("xl", 2), ("2xl", 3), ("3xl", 4), ("4xl", 5))


def valid_family(name: str) -> bool:
    return bool(FAMILY_PATTERN.match(name))


def font_kind(family: str) -> str:
    lowered = family.lower()
    if any(marker in lowered for marker in _MONO_MARKERS):
        return "mono"
    if "sans" not in lowered and any(marker in lowered for marker in _SERIF_MARKERS):
        return "serif"
    if any(marker in lowered for marker in _HAND_MARKERS):
        return "handwriting"
    return "sans"


def fallback_stack(kind: str) -> tuple[str, ...]:
    return {"mono": MONO_STACK, "serif": SERIF_STACK, "handwriting": HAND_STACK}.get(kind, SANS_STACK)


def css_stack(family: str | None, kind: str) -> str:
    names = ([family] if family else []) + list(fallback_stack(kind))
    return ", ".join(name if name in _GENERIC or " " not in name else f'"{name}"' for name in names)


def offered_weights(css_import: str, google_fonts_url: str) -> dict[str, tuple[int, ...]]:
    """The weights the engine's URLs list per family (``Fira+Code:wght@400;500``)."""
    found: dict[str, tuple[int, ...]] = {}
    for text in (css_import, google_fonts_url):
        for family, weights in re.findall(r"(?:family=|\|)([A-Za-z0-9+ ]+):wght@([0-9;]+)", text):
            name = family.replace("+", " ").strip()
            found.setdefault(name, tuple(sorted({int(w) for w in weights.split(";") if w})))
    return found


def _nearest(wanted: int, available: tuple[int, ...]) -> int:
    return min(available, key=lambda weight: (abs(weight - wanted), -weight))


def type_scale(profile: str, style_name: str) -> dict[str, Any]:
    """A modular scale: dense styles a minor third from 14px, display-led ones a perfect fourth."""
    lowered = style_name.lower()
    if profile == "dense":
        ratio, base = 1.2, 14
    elif any(word in lowered for word in ("exaggerated", "kinetic", "editorial", "hero", "storytelling")):
        ratio, base = 1.333, 16
    else:
        ratio, base = 1.25, 16
    steps: dict[str, dict[str, str]] = {}
    for name, power in _SCALE_STEPS:
        px = base * ratio**power
        # Long lines of body text want air; large headings want tight leading.
        line_height = 1.6 if power <= 0 else max(1.1, round(1.5 - 0.08 * power, 2))
        steps[name] = {"size": f"{round(px / 16, 3):g}rem", "lineHeight": f"{line_height:g}"}
    return {"ratio": ratio, "basePx": base, "steps": steps}


def google_fonts_url(families: dict[str, tuple[int, ...] | None]) -> str | None:
    """The CSS2 API URL for each family at its weights, or None when there is no family. A family
    whose weights are unknown (a person typed its name) is asked for without a weight axis: the
    API answers 400 for the whole URL when one listed weight does not exist, and every family has
    its regular face."""
    parts = []
    for name, weights in families.items():
        family = f"family={quote(name).replace('%20', '+')}"
        parts.append(f"{family}:wght@{';'.join(str(w) for w in sorted(set(weights)))}" if weights else family)
    if not parts:
        return None
    return "https://fonts.googleapis.com/css2?" + "&".join(parts) + "&display=swap"


def build_typography(
    heading: str,
    body: str,
    mono: str | None,
    *,
    offered: dict[str, tuple[int, ...]],
    profile: str,
    style_name: str,
    mood: str = "",
    best_for: str = "",
) -> dict[str, Any]:
    """The typography block of a document. ``mono`` is a web font only when the pairing has one;
    otherwise the system's monospace stack serves (no extra download)."""
    for family in (heading, body, *([mono] if mono else [])):
        if not valid_family(family):
            raise ValueError(f"{family!r} is not a font family name (letters, digits and spaces)")
    if mono is None:
        mono = next((family for family in (heading, body) if font_kind(family) == "mono"), None)

    def weights_of(family: str) -> tuple[int, ...]:
        return offered.get(family) or DEFAULT_WEIGHTS

    heading_regular = _nearest(600, weights_of(heading))
    heading_bold = _nearest(700, weights_of(heading))
    body_regular = _nearest(400, weights_of(body))
    body_bold = _nearest(600, weights_of(body))
    used: dict[str, set[int]] = {}
    used.setdefault(heading, set()).update({heading_regular, heading_bold})
    used.setdefault(body, set()).update({body_regular, body_bold})
    mono_weight = 400
    if mono:
        mono_weight = _nearest(400, weights_of(mono))
        used.setdefault(mono, set()).add(mono_weight)
    requested = {family: (tuple(sorted(w)) if family in offered else None) for family, w in used.items()}

    def face(family: str | None, kind: str, regular: int, bold: int) -> dict[str, Any]:
        return {
            "family": family,
            "kind": kind,
            "fallback": list(fallback_stack(kind)),
            "stack": css_stack(family, kind),
            "weights": {"regular": regular, "bold": bold},
            "offeredWeights": list(offered[family]) if family in offered else None,
        }

    return {
        "heading": face(heading, font_kind(heading), heading_regular, heading_bold),
        "body": face(body, font_kind(body), body_regular, body_bold),
        "mono": face(mono, "mono", mono_weight, mono_weight),
        "scale": type_scale(profile, style_name),
        "googleFontsUrl": google_fonts_url(requested),
        "mood": mood,
        "bestFor": best_for,
    }
