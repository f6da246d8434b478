"""A design-system document as the project's files and as the generation prompt's section.

Files: ``design-system/MASTER.md`` (the whole system, for people and the coding model),
``design-system/pages/<page>.md`` (a page's overrides only: they win over the master), and
``src/design-tokens.css`` (CSS custom properties: light in ``:root``, dark under
``prefers-color-scheme: dark`` unless the page forces light, and under ``.dark`` /
``[data-theme="dark"]``; plus the reduced-motion rule).

CSS variable names keep clear of Tailwind v4's theme variables except ``--radius-sm…xl`` and
``--font-mono``, on purpose: Tailwind's ``rounded-sm…xl`` and ``font-mono`` read them, so those
utilities follow the design system. (``--glass-blur-*``, not ``--blur-*``: a style without glass
has zero blur, which must not switch off Tailwind's ``blur-*`` utilities.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from mm_common.design.document import merge_page
from mm_common.design.tokens import COLOR_TOKENS
from mm_common.slugs import slugify

MASTER_PATH = "design-system/MASTER.md"
TOKENS_CSS_PATH = "src/design-tokens.css"
PAGES_DIR = "design-system/pages"
_HEADER = "Generated from this project's design system (schema v{0}). Change the design system, not this file."


@dataclass(frozen=True)
class PageOverride:
    """A page's override of the master (``merge_page`` semantics) under the page's name."""

    name: str
    override: dict[str, Any] = field(default_factory=dict)


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def page_path(page_name: str) -> str:
    return f"{PAGES_DIR}/{slugify(page_name, fallback='page')}.md"


# ------------------------------------------------------------------------------------------ CSS


def _color_lines(colors: dict[str, str], indent: str) -> list[str]:
    return [f"{indent}--{kebab(token)}: {colors[token]};" for token in COLOR_TOKENS]


def _scale_lines(document: dict[str, Any]) -> list[str]:
    tokens, typography = document["tokens"], document["typography"]
    lines = [
        f"  --font-heading: {typography['heading']['stack']};",
        f"  --font-body: {typography['body']['stack']};",
        f"  --font-mono: {typography['mono']['stack']};",
        f"  --weight-heading: {typography['heading']['weights']['regular']};",
        f"  --weight-heading-bold: {typography['heading']['weights']['bold']};",
        f"  --weight-body: {typography['body']['weights']['regular']};",
        f"  --weight-body-bold: {typography['body']['weights']['bold']};",
    ]
    for step, value in typography["scale"]["steps"].items():
        lines.append(f"  --font-size-{step}: {value['size']};")
        lines.append(f"  --line-height-{step}: {value['lineHeight']};")
    lines += [f"  --space-{name}: {value};" for name, value in tokens["spacing"].items()]
    lines += [f"  --radius-{name}: {value};" for name, value in tokens["radius"].items()]
    lines.append(f"  --border-width: {tokens['borderWidth']};")
    lines += [f"  --shadow-{name}: {value};" for name, value in tokens["shadow"].items()]
    lines += [f"  --glass-blur-{name}: {value};" for name, value in tokens["blur"].items()]
    motion = tokens["motion"]
    lines += [
        f"  --duration-fast: {motion['durationFast']};",
        f"  --duration-base: {motion['durationBase']};",
        f"  --duration-slow: {motion['durationSlow']};",
        f"  --ease-standard: {motion['easingStandard']};",
        f"  --ease-emphasized: {motion['easingEmphasized']};",
        f"  --ease-enter: {motion['easingEnter']};",
        f"  --ease-exit: {motion['easingExit']};",
    ]
    return lines


def render_tokens_css(document: dict[str, Any]) -> str:
    light, dark = document["tokens"]["light"], document["tokens"]["dark"]
    lines = [
        f"/* {_HEADER.format(document['schemaVersion'])} */",
        "",
        ":root {",
        "  color-scheme: light;",
        *_color_lines(light, "  "),
        *_scale_lines(document),
        "}",
        "",
        "@media (prefers-color-scheme: dark) {",
        '  :root:not(.light):not([data-theme="light"]) {',
        "    color-scheme: dark;",
        *_color_lines(dark, "    "),
        "  }",
        "}",
        "",
        '.dark,\n[data-theme="dark"] {',
        "  color-scheme: dark;",
        *_color_lines(dark, "  "),
        "}",
        "",
        f"@media {document['tokens']['motion']['reducedMotion']['query']} {{",
        "  :root {",
        "    --duration-fast: 0.01ms;",
        "    --duration-base: 0.01ms;",
        "    --duration-slow: 0.01ms;",
        "  }",
        "",
        "  *,",
        "  *::before,",
        "  *::after {",
        "    animation-duration: 0.01ms !important;",
        "    animation-iteration-count: 1 !important;",
        "    transition-duration: 0.01ms !important;",
        "    scroll-behavior: auto !important;",
        "  }",
        "}",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- Markdown


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _bullets(items: list[str]) -> list[str]:
    return [f"- {item}" for item in items] or ["- (none)"]


def _pattern_lines(pattern: dict[str, Any]) -> list[str]:
    lines = [f"**{pattern['name']}**" if pattern.get("name") else "", ""]
    lines += [f"{i}. {section}" for i, section in enumerate(pattern.get("sections", []), 1)]
    labels = (("CTA placement", "ctaPlacement"), ("Colour strategy", "colorStrategy"), ("Conversion", "conversion"))
    for label, key in labels:
        if pattern.get(key):
            lines += ["", f"{label}: {pattern[key]}"]
    return lines


def render_master_md(document: dict[str, Any]) -> str:
    tokens, typography, style = document["tokens"], document["typography"], document["style"]
    ratios = {
        (pair["mode"], pair["foreground"], pair["background"]): pair["ratio"] for pair in document["contrast"]["pairs"]
    }
    lines = [
        f"# Design system: {document['projectName']}",
        "",
        f"<!-- {_HEADER.format(document['schemaVersion'])} -->",
        "",
        "This is the master. A file in `design-system/pages/` overrides it for that page (the page wins).",
        "Use the CSS variables of `src/design-tokens.css`; never hard-code colours, fonts or sizes.",
        "",
        f"Category: {document['category']}",
        "",
        "## Layout pattern",
        "",
        *_pattern_lines(document["pattern"]),
        "",
        "## Style",
        "",
        f"**{style['name']}** ({style['profile']}). {', '.join(style['keywords'])}",
        "",
        f"Effects: {'; '.join(document['effects']) or '(none)'}",
        "",
        "## Colours",
        "",
        "| Token | Light | Dark | Contrast (light / dark) |",
        "|---|---|---|---|",
    ]
    backgrounds: dict[str, list[str]] = {}
    for mode, fg, bg in ratios:
        if mode == "light":
            backgrounds.setdefault(fg, []).append(bg)
    for token in COLOR_TOKENS:
        contrast = ", ".join(
            f"{ratios[('light', token, bg)]:.2f} / {ratios[('dark', token, bg)]:.2f} on {bg}"
            for bg in backgrounds.get(token, [])
        )
        lines.append(f"| `--{kebab(token)}` | {tokens['light'][token]} | {tokens['dark'][token]} | {contrast} |")
    adjustments = document["contrast"]["adjustments"]
    lines += [
        "",
        f"Every pair meets WCAG 2.2 AA (4.5:1 text, 3:1 UI): {'yes' if document['contrast']['allPass'] else 'NO'}.",
    ]
    if adjustments:
        lines += ["", "Adjusted for contrast:", ""]
        lines += [
            f"- {a['mode']} `--{kebab(a['token'])}`: {a['from']} → {a['to']} ({a['reason']})" for a in adjustments
        ]
    scale = typography["scale"]
    steps = ", ".join(f"{name} {step['size']}/{step['lineHeight']}" for name, step in scale["steps"].items())
    lines += [
        "",
        "## Typography",
        "",
        f"- Headings: {typography['heading']['stack']} (weights {typography['heading']['weights']['regular']}/"
        f"{typography['heading']['weights']['bold']})",
        f"- Body: {typography['body']['stack']} (weights {typography['body']['weights']['regular']}/"
        f"{typography['body']['weights']['bold']})",
        f"- Mono: {typography['mono']['stack']}",
        f"- Google Fonts: {typography['googleFontsUrl'] or '(system fonts only)'}",
        f"- Scale: ratio {scale['ratio']} from {scale['basePx']}px: {steps}",
        "",
        "## Spacing, radius, shadow, motion",
        "",
        "- Spacing: " + ", ".join(f"{k} {v}" for k, v in tokens["spacing"].items()),
        "- Radius: " + ", ".join(f"{k} {v}" for k, v in tokens["radius"].items()),
        f"- Border width: {tokens['borderWidth']}",
        "- Shadow: " + "; ".join(f"{k} `{v}`" for k, v in tokens["shadow"].items()),
        "- Glass blur: " + ", ".join(f"{k} {v}" for k, v in tokens["blur"].items()),
        f"- Motion: {tokens['motion']['durationFast']} / {tokens['motion']['durationBase']} / "
        f"{tokens['motion']['durationSlow']}, easing {tokens['motion']['easingStandard']}",
        f"- Reduced motion: {tokens['motion']['reducedMotion']['policy']}",
        "",
        "## Anti-patterns (avoid)",
        "",
        *_bullets(document["antiPatterns"]),
        "",
        "## Checklist",
        "",
        *[f"- [ ] {item}" for item in document["checklist"]],
        "",
    ]
    return "\n".join(lines)


def render_page_md(page: PageOverride) -> str:
    """The page's overrides only; anything not here comes from MASTER.md."""
    override = page.override
    lines = [
        f"# Page: {page.name}",
        "",
        "<!-- Generated from this project's design system. Change the design system, not this file. -->",
        "",
        "These rules override `design-system/MASTER.md` for this page. Everything else follows the master.",
    ]
    if isinstance(override.get("pattern"), dict):
        pattern = {"name": "", **override["pattern"]}
        lines += ["", "## Layout pattern", "", *_pattern_lines(pattern)]
    if isinstance(override.get("effects"), list):
        lines += ["", "## Effects", "", *_bullets(override["effects"])]
    if isinstance(override.get("antiPatterns"), list):
        lines += ["", "## Anti-patterns (avoid)", "", *_bullets(override["antiPatterns"])]
    if isinstance(override.get("checklist"), list):
        lines += ["", "## Checklist", "", *[f"- [ ] {item}" for item in override["checklist"]]]
    rest = {k: v for k, v in override.items() if k not in ("pattern", "effects", "antiPatterns", "checklist")}
    if rest:
        lines += ["", "## Other overrides", "", "```json", json.dumps(rest, indent=2, sort_keys=True), "```"]
    if len(lines) == 5:
        lines += ["", "(No overrides: this page follows the master.)"]
    return "\n".join(lines) + "\n"


def render_files(document: dict[str, Any], pages: list[PageOverride] | None = None) -> dict[str, str]:
    """Every file the design system writes into the project, by path."""
    files = {MASTER_PATH: render_master_md(document), TOKENS_CSS_PATH: render_tokens_css(document)}
    for page in pages or []:
        files[page_path(page.name)] = render_page_md(page)
    return files


# --------------------------------------------------------------------------------------- prompt


def prompt_section(document: dict[str, Any], page: PageOverride | None = None) -> str:
    """The design system for the generation prompt, compactly: what to use and what to avoid."""
    tokens, typography = document["tokens"], document["typography"]
    pattern = document["pattern"]
    if page is not None:
        merged = merge_page(document, page.override)
        pattern = merged["pattern"]
        anti_patterns, checklist = merged["antiPatterns"], merged["checklist"]
    else:
        anti_patterns, checklist = document["antiPatterns"], document["checklist"]
    light, dark = tokens["light"], tokens["dark"]
    colors = " ".join(f"--{kebab(t)} {light[t]}" + (f"/{dark[t]}" if dark[t] != light[t] else "") for t in COLOR_TOKENS)
    fonts = typography["googleFontsUrl"]
    lines = [
        f"## Design system ({document['style']['name']}; {document['category']})",
        "Follow it. Import src/design-tokens.css in src/index.css (after tailwindcss) and style only with its"
        " variables, e.g. bg-(--primary) text-(--primary-foreground) font-(family-name:--font-heading)"
        " rounded-(--radius-md) p-(--space-md) shadow-(--shadow-md).",
        f"Colours light/dark: {colors}",
        "Pairs: text on background/surface/muted; muted-foreground for secondary text; each -foreground"
        " on its fill; border for inputs; ring for focus.",
        f"Fonts: heading {typography['heading']['family']} {typography['heading']['weights']['bold']},"
        f" body {typography['body']['family']} {typography['body']['weights']['regular']},"
        f" mono {typography['mono']['family'] or 'system'}"
        + (f"; load {fonts}" if fonts else "")
        + f". Sizes --font-size-xs…4xl (ratio {typography['scale']['ratio']}).",
        f"Shape: radius {tokens['radius']['md']}, border {tokens['borderWidth']}, shadow "
        + ("none" if tokens["shadow"]["md"] == "none" else "--shadow-sm/md/lg")
        + (f", glass blur --glass-blur-md {tokens['blur']['md']}" if tokens["blur"]["md"] != "0px" else "")
        + f"; motion --duration-base {tokens['motion']['durationBase']} --ease-standard; honour reduced motion.",
    ]
    if page is not None:
        lines.append(f"Page: {page.name} (its overrides below win over the master).")
    if pattern.get("sections"):
        lines.append(f"Sections ({pattern.get('name') or 'pattern'}): " + " > ".join(pattern["sections"]))
    if pattern.get("ctaPlacement"):
        lines.append(f"CTA: {pattern['ctaPlacement']}")
    if anti_patterns:
        lines.append("Avoid: " + "; ".join(anti_patterns))
    lines.append("Checklist: " + " ".join(f"({i}) {item}" for i, item in enumerate(_short(checklist), 1)))
    return "\n".join(lines)


def _short(checklist: list[str]) -> list[str]:
    # The rules that the lines above already state (tokens only, focus ring, reduced motion) go.
    skip = ("Colours come only", "Body text uses", "Text on a filled colour", "Motion respects")
    return [item for item in checklist if not item.startswith(skip)]
