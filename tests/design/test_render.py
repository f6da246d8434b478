"""The project's files and the prompt section rendered from a document."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mm_common.design.document import generate_document
from mm_common.design.render import (
    PageOverride,
    page_path,
    prompt_section,
    render_files,
    render_master_md,
    render_page_md,
    render_tokens_css,
)

PROMPT_BUDGET = 2600  # characters: about 650 tokens of the generation prompt


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return generate_document("a vet clinic dashboard", "Paws")


def _block(css: str, selector: str) -> str:
    start = css.index(selector)
    return css[start : css.index("}", start)]


def test_the_css_holds_light_dark_and_reduced_motion(document: dict[str, Any]) -> None:
    css = render_tokens_css(document)
    light, dark = document["tokens"]["light"], document["tokens"]["dark"]

    root = _block(css, ":root {")
    assert f"--primary: {light['primary']};" in root
    assert f"--primary-foreground: {light['primaryForeground']};" in root
    assert f"--muted-foreground: {light['mutedForeground']};" in root
    assert f"--font-heading: {document['typography']['heading']['stack']};" in root
    assert f"--radius-md: {document['tokens']['radius']['md']};" in root
    assert "--space-md:" in root and "--shadow-md:" in root and "--duration-base:" in root
    assert "--font-size-base: 1rem;" in root
    media = _block(css, "@media (prefers-color-scheme: dark)")
    assert f"--background: {dark['background']};" in media
    forced = _block(css, '.dark,\n[data-theme="dark"] {')
    assert f"--text: {dark['text']};" in forced and "color-scheme: dark;" in forced
    reduced = css[css.index("@media (prefers-reduced-motion: reduce)") :]
    assert "--duration-base: 0.01ms;" in reduced and "transition-duration: 0.01ms !important;" in reduced
    assert css.count("{") == css.count("}")


def test_master_md_names_every_token_and_the_rules(document: dict[str, Any]) -> None:
    master = render_master_md(document)
    assert master.startswith("# Design system: Paws")
    for token in ("--primary", "--accent-foreground", "--ring", "--error"):
        assert f"`{token}`" in master
    assert document["tokens"]["dark"]["background"] in master
    assert all(anti in master for anti in document["antiPatterns"])
    assert "1. Hero" in master
    assert "Adjusted for contrast:" in master and "#22C55E →" in master


def test_a_page_file_holds_only_its_overrides(document: dict[str, Any]) -> None:
    page = PageOverride("Appointments / Booking", {"pattern": {"sections": ["Calendar", "Form"]}})
    text = render_page_md(page)
    assert "1. Calendar\n2. Form" in text
    assert "## Anti-patterns" not in text and "--primary" not in text
    assert page_path(page.name) == "design-system/pages/appointments-booking.md"
    assert page_path("../../etc/passwd") == "design-system/pages/etc-passwd.md"
    files = render_files(document, [page])
    assert set(files) == {
        "design-system/MASTER.md",
        "src/design-tokens.css",
        "design-system/pages/appointments-booking.md",
    }


def test_the_prompt_section_is_compact_and_complete(document: dict[str, Any]) -> None:
    text = prompt_section(document)
    assert len(text) <= PROMPT_BUDGET, len(text)
    light, dark = document["tokens"]["light"], document["tokens"]["dark"]
    assert f"--primary {light['primary']}" in text
    assert f"--background {light['background']}/{dark['background']}" in text
    assert document["typography"]["heading"]["family"] in text and document["typography"]["googleFontsUrl"] in text
    assert " > ".join(document["pattern"]["sections"]) in text
    assert all(anti in text for anti in document["antiPatterns"])
    assert "Must have: emergency contact" in text
    assert re.search(r"\(1\) ", text)


def test_the_prompt_section_carries_the_page_override(document: dict[str, Any]) -> None:
    page = PageOverride("Checkout", {"pattern": {"sections": ["Cart", "Payment"]}, "antiPatterns": ["Surprise fees"]})
    text = prompt_section(document, page)
    assert "Page: Checkout" in text
    assert "Cart > Payment" in text and "Surprise fees" in text
    assert " > ".join(document["pattern"]["sections"]) not in text
    assert len(text) <= PROMPT_BUDGET
