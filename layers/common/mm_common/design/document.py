"""The design-system document: versioned JSON (camelCase) built from an engine's recommendation.

The engine's part (pattern, style, palette, fonts, effects, anti-patterns) is completed here with
what it lacks: light and dark colour tokens that pass WCAG AA (with the ratios and every
adjustment recorded), spacing/radius/shadow/motion scales that follow the style, typography with
fallbacks, a type scale and a CSS2 URL, and a checklist. The document keeps its inputs (the five
seed colours and a person's per-mode colour overrides) so an edit rebuilds it the same way.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from mm_common.design import schema
from mm_common.design.contrast import normalize_hex
from mm_common.design.engine import DesignEngine, EngineResult, default_engine
from mm_common.design.errors import DesignSystemError as DesignSystemError  # re-exported for callers
from mm_common.design.tokens import (
    COLOR_TOKENS,
    MODES,
    SEED_KEYS,
    Adjustment,
    build_colors,
    build_scales,
    seeds_from,
    style_profile,
)
from mm_common.design.typography import build_typography, offered_weights, valid_family

SCHEMA_VERSION = 1
MAX_QUERY_CHARS = 500
MAX_ANTI_PATTERNS = 30
MAX_ANTI_PATTERN_CHARS = 200
# A page override may change how a page is laid out and what it must (not) do, not the brand.
PAGE_KEYS = ("pattern", "effects", "antiPatterns", "checklist")

Document = dict[str, Any]


def _sections(text: str) -> list[str]:
    """ "1. Hero, 2. Value prop (a, b)" or "Hero > Features > CTA" as an ordered list."""
    if re.match(r"\s*1\.\s", text):
        parts = re.split(r",\s*(?=\d+\.\s)", text)
        return [re.sub(r"\A\d+\.\s*", "", part).strip() for part in parts if part.strip()]
    return [part.strip() for part in re.split(r"\s*>\s*", text) if part.strip()]


def _split_outside_parentheses(text: str, separator: str = ",") -> list[str]:
    parts: list[str] = []
    depth, start, index = 0, 0, 0
    while index < len(text):
        char = text[index]
        depth += (char == "(") - (char == ")")
        if depth <= 0 and text.startswith(separator, index):
            parts.append(text[start:index].strip())
            index += len(separator)
            start = index
            continue
        index += 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def _plain(text: str) -> str:
    """Text without the engine's leading status symbols ("⚡ Good" → "Good")."""
    return re.sub(r"\A[^\w(]+", "", text).strip()


def _humanize(value: str) -> str:
    return value.replace("-", " ").replace("_", " ").strip()


def checklist_for(result: EngineResult, profile: str) -> list[str]:
    """Accessibility and QA items every build is checked against, plus what the category must have."""
    items = [
        "Colours come only from the design tokens (CSS variables in src/design-tokens.css); no raw hex in components.",
        "Body text uses --text on --background or --surface; secondary text uses --muted-foreground.",
        "Text on a filled colour uses its -foreground token (e.g. --primary-foreground on --primary).",
        "Every interactive element shows a visible focus style: 2px outline in --ring, offset 2px.",
        "Clickable elements have cursor-pointer and a hover state transitioned over --duration-base (150–300 ms).",
        "Motion respects prefers-reduced-motion: no parallax, auto-play or scroll-linked animation then.",
        "Icons are SVG (e.g. lucide-react), never emoji; icon-only buttons have an aria-label.",
        "Status is never shown by colour alone: pair --success/--warning/--error/--info with text or an icon.",
        "Targets are at least 24×24 CSS px (44×44 on touch screens).",
        "Layouts work at 375, 768, 1024 and 1440 px without horizontal scrolling.",
        "Headings are in order with one h1 per page; landmarks (header, nav, main, footer) are used.",
        "Light and dark themes both work: test with prefers-color-scheme and the .dark class.",
    ]
    if profile == "glass":
        items.append("Glass surfaces keep an opaque --surface fallback so text contrast holds behind the blur.")
    for key, value in sorted(result.decision_rules.items()):
        if key == "must_have":
            items.append(f"Must have: {_humanize(value)}.")
        elif key.startswith("if_"):
            items.append(f"If {_humanize(key[3:])}: {_humanize(value)}.")
    return items


def document_from_engine(result: EngineResult, project_name: str, description: str) -> Document:
    profile = style_profile(result.style.name, result.style.keywords, result.style.effects, result.style.type)
    seeds = seeds_from(
        {
            "primary": result.colors.primary,
            "secondary": result.colors.secondary,
            "accent": result.colors.cta,
            "background": result.colors.background,
            "text": result.colors.text,
        }
    )
    heading = result.typography.heading if valid_family(result.typography.heading) else "Inter"
    body = result.typography.body if valid_family(result.typography.body) else "Inter"
    typography = build_typography(
        heading,
        body,
        None,
        offered=offered_weights(result.typography.css_import, result.typography.google_fonts_url),
        profile=profile,
        style_name=result.style.name,
        mood=result.typography.mood,
        best_for=result.typography.best_for,
    )
    effects_text = result.key_effects or result.style.effects
    document: Document = {
        "schemaVersion": SCHEMA_VERSION,
        "projectName": project_name,
        "description": description,
        "category": result.category or "General",
        "pattern": {
            "name": result.pattern.name,
            "sections": _sections(result.pattern.sections),
            "ctaPlacement": result.pattern.cta_placement,
            "colorStrategy": result.pattern.color_strategy,
            "conversion": result.pattern.conversion,
        },
        "style": {
            "name": result.style.name,
            "type": result.style.type,
            "profile": profile,
            "keywords": _split_outside_parentheses(result.style.keywords),
            "effects": result.style.effects,
            "bestFor": _split_outside_parentheses(result.style.best_for),
            "performance": _plain(result.style.performance),
            "accessibility": _plain(result.style.accessibility),
        },
        "palette": {**seeds, "notes": result.colors.notes},
        "colorOverrides": {"light": {}, "dark": {}},
        "tokens": build_scales(profile, effects_text),
        "typography": typography,
        "effects": _split_outside_parentheses(effects_text),
        "antiPatterns": _split_outside_parentheses(result.anti_patterns, " + "),
        "checklist": checklist_for(result, profile),
        "decisionRules": dict(sorted(result.decision_rules.items())),
        "generatedByAi": True,
        "source": {
            "engine": result.engine,
            "version": result.version,
            "category": result.category,
            "severity": result.severity,
        },
    }
    _recolor(document)
    return document


def generate_document(description: str, project_name: str, *, engine: DesignEngine | None = None) -> Document:
    """A complete design-system document for a product description (deterministic per engine version)."""
    query = " ".join(description.split())[:MAX_QUERY_CHARS] or " ".join(project_name.split())
    if not query:
        raise DesignSystemError("Describe the product to generate a design system for it.")
    result = (engine or default_engine()).generate(query, project_name)
    document = document_from_engine(result, project_name, description)
    schema.validate(document)
    return document


def _recolor(document: Document) -> list[Adjustment]:
    """Rebuild the colour tokens and the contrast report from the palette and overrides."""
    colors = build_colors(
        seeds_from({key: document["palette"][key] for key in SEED_KEYS}),
        {mode: dict(document["colorOverrides"].get(mode, {})) for mode in MODES},
    )
    document["tokens"] = {"light": colors.light, "dark": colors.dark, **_scales_of(document["tokens"])}
    document["contrast"] = {
        "standard": "WCAG 2.2",
        "allPass": colors.all_pass,
        "pairs": [pair.as_json() for pair in colors.pairs],
        "adjustments": [adjustment.as_json() for adjustment in colors.adjustments],
    }
    return colors.adjustments


def _scales_of(tokens: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in tokens.items() if key not in MODES}


@dataclass(frozen=True)
class EditResult:
    document: Document
    # The contrast adjustments that touch what this edit changed: what the person asked for, and
    # the value that was kept instead.
    adjustments: list[dict[str, str]]


def _color(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise DesignSystemError(f"{where} must be a #RRGGBB colour.")
    try:
        return normalize_hex(value)
    except ValueError as error:
        raise DesignSystemError(f"{where} must be a #RRGGBB colour, not {value!r}.") from error


def apply_edit(document: Document, changes: dict[str, Any]) -> EditResult:
    """A person's edit, re-checked for contrast. ``changes`` may hold:

    - ``palette``: seed colours (primary, secondary, accent, background, text) for both modes;
    - ``light`` / ``dark``: individual colour tokens pinned in one mode (``null`` unpins one);
    - ``typography``: ``heading`` / ``body`` / ``mono`` family names (``mono: null`` = system mono);
    - ``antiPatterns``: the whole list.

    A colour that fails its pairs is moved in lightness until it passes; the result lists each move.
    """
    unknown = set(changes) - {"palette", "light", "dark", "typography", "antiPatterns"}
    if unknown:
        raise DesignSystemError(f"These cannot be edited: {', '.join(sorted(unknown))}.")
    edited = copy.deepcopy(document)
    touched: set[tuple[str, str]] = set()
    for key, value in (changes.get("palette") or {}).items():
        if key not in SEED_KEYS:
            raise DesignSystemError(f"palette.{key} is not a seed colour ({', '.join(SEED_KEYS)}).")
        edited["palette"][key] = _color(value, f"palette.{key}")
        touched |= {(mode, key) for mode in MODES}
    for mode in MODES:
        for token, value in (changes.get(mode) or {}).items():
            if token not in COLOR_TOKENS:
                raise DesignSystemError(f"{mode}.{token} is not a colour token.")
            overrides = edited["colorOverrides"].setdefault(mode, {})
            if value is None:
                overrides.pop(token, None)
            else:
                overrides[token] = _color(value, f"{mode}.{token}")
            touched.add((mode, token))
    if "typography" in changes:
        _edit_typography(edited, changes["typography"])
    if "antiPatterns" in changes:
        edited["antiPatterns"] = _anti_patterns(changes["antiPatterns"])
    adjustments = _recolor(edited)
    edited["generatedByAi"] = False
    schema.validate(edited)
    return EditResult(
        document=edited,
        adjustments=[a.as_json() for a in adjustments if (a.mode, a.token) in touched],
    )


def _edit_typography(document: Document, changes: object) -> None:
    if not isinstance(changes, dict) or set(changes) - {"heading", "body", "mono"}:
        raise DesignSystemError("typography takes heading, body and mono family names.")
    current = document["typography"]
    families: dict[str, str | None] = {role: current[role]["family"] for role in ("heading", "body", "mono")}
    for role, value in changes.items():
        if value is None and role == "mono":
            families[role] = None
        elif not isinstance(value, str) or not valid_family(value.strip()):
            raise DesignSystemError(f"typography.{role} must be a font family name (letters, digits and spaces).")
        else:
            families[role] = value.strip()
    offered = {
        current[role]["family"]: tuple(current[role]["offeredWeights"])
        for role in ("heading", "body", "mono")
        if current[role]["family"] and current[role].get("offeredWeights")
    }
    heading, body = families["heading"], families["body"]
    assert heading is not None and body is not None  # the schema requires both
    document["typography"] = build_typography(
        heading,
        body,
        families["mono"],
        offered=offered,
        profile=document["style"]["profile"],
        style_name=document["style"]["name"],
        mood=current.get("mood", ""),
        best_for=current.get("bestFor", ""),
    )


def _anti_patterns(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DesignSystemError("antiPatterns must be a list of short texts.")
    items = [" ".join(item.split()) for item in value if item.strip()]
    if len(items) > MAX_ANTI_PATTERNS or any(len(item) > MAX_ANTI_PATTERN_CHARS for item in items):
        raise DesignSystemError(
            f"Keep to {MAX_ANTI_PATTERNS} anti-patterns of at most {MAX_ANTI_PATTERN_CHARS} characters each."
        )
    return list(dict.fromkeys(items))


def merge_page(master: Document, override: dict[str, Any]) -> Document:
    """Master + Overrides: the page's values win; objects merge key by key, lists and values replace."""

    def merge(base: Any, top: Any) -> Any:
        if isinstance(base, dict) and isinstance(top, dict):
            merged = dict(base)
            for key, value in top.items():
                merged[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
            return merged
        return copy.deepcopy(top)

    result: Document = merge(copy.deepcopy(master), override)
    return result


def check_page_override(master: Document, override: object) -> dict[str, Any]:
    """A page override someone sent, accepted only for layout and rules (``PAGE_KEYS``): colours
    and fonts are the master's, so no page can undo the contrast guarantee."""
    if not isinstance(override, dict):
        raise DesignSystemError("A page override is an object.")
    unknown = set(override) - set(PAGE_KEYS)
    if unknown:
        raise DesignSystemError(f"A page may override only {', '.join(PAGE_KEYS)}; not {', '.join(sorted(unknown))}.")
    schema.validate(merge_page(master, override))
    return override


def page_override(master: Document, page_document: Document) -> dict[str, Any]:
    """What a page's own generated document changes in the master (layout and rules, not the brand)."""
    override: dict[str, Any] = {}
    for key in PAGE_KEYS:
        page_value, master_value = page_document.get(key), master.get(key)
        if isinstance(page_value, dict) and isinstance(master_value, dict):
            changed = {k: v for k, v in page_value.items() if master_value.get(k) != v}
            if changed:
                override[key] = changed
        elif isinstance(page_value, list) and key in ("antiPatterns", "checklist"):
            # A page adds rules to the master's; the merged list (lists replace) must hold both.
            extra = [item for item in page_value if item not in (master_value or [])]
            if extra:
                override[key] = [*(master_value or []), *extra]
        elif page_value is not None and page_value != master_value:
            override[key] = page_value
    return override
