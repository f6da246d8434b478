"""Validation of design-system documents against ``schema.json`` (JSON Schema draft 2020-12)."""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path
from typing import Any

from mm_common.design.errors import DesignSystemError

SCHEMA_PATH = Path(__file__).with_name("schema.json")
_lock = threading.Lock()


@cache
def document_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


_validator: Any = None


def validator() -> Any:
    # jsonschema is imported on first use, not at import: only generating or editing needs it.
    global _validator
    with _lock:
        if _validator is None:
            from jsonschema import Draft202012Validator

            schema = document_schema()
            Draft202012Validator.check_schema(schema)
            _validator = Draft202012Validator(schema)
        return _validator


def problems(document: object) -> list[str]:
    """Every way ``document`` breaks the schema, as "path: message" lines (empty when valid)."""
    errors = sorted(validator().iter_errors(document), key=lambda error: list(error.absolute_path))
    return [f"{'/'.join(str(p) for p in error.absolute_path) or '(document)'}: {error.message}" for error in errors]


def validate(document: object) -> None:
    found = problems(document)
    if found:
        shown = "; ".join(found[:5]) + (f" (and {len(found) - 5} more)" if len(found) > 5 else "")
        raise DesignSystemError(f"The design system document is not valid: {shown}")
