"""URL-safe slugs: "My App" -> "my-app", unique within a scope by a numeric suffix."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

MAX_SLUG_LENGTH = 60
# The same rule as the slug CHECK constraints of the schema. Anchored with \A and \Z, not ^ and $:
# "$" also matches before a trailing newline, so "acme\n" would pass a ``match``/``search`` with it.
SLUG_PATTERN = re.compile(r"\A[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")


def slug_problem(value: str) -> str | None:
    """Why a slug someone chose is not acceptable, or None."""
    if len(value) > MAX_SLUG_LENGTH:
        return f"Use at most {MAX_SLUG_LENGTH} characters for the slug."
    if not SLUG_PATTERN.fullmatch(value):
        return (
            "Use only lower-case letters, digits and hyphens for the slug, starting and ending with a letter or digit."
        )
    return None


def slugify(text: str, fallback: str = "item") -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG_LENGTH].strip("-") or fallback


def unique_slug(base: str, taken: Callable[[str], bool]) -> str:
    """The first of base, base-2, base-3, ... that ``taken`` says is free."""
    if not taken(base):
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: MAX_SLUG_LENGTH - len(suffix)].rstrip("-") + suffix
        if not taken(candidate):
            return candidate
        n += 1
