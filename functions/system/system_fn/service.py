"""The platform's rules: the served OpenAPI document, which methods a path allows, and why the
database is not answering."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from mm_common import db

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
# Path parameters that take the rest of the path (FastAPI "{path:path}", API Gateway "{path+}").
GREEDY_PARAMETERS = {"path", "proxy"}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    return loaded


def _compile_path(path: str) -> re.Pattern[str]:
    parts = []
    for segment in path.strip("/").split("/"):
        param = re.fullmatch(r"\{(\w+)\}", segment)
        if param:
            parts.append(".+" if param.group(1) in GREEDY_PARAMETERS else "[^/]+")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$")


@lru_cache(maxsize=1)
def _route_patterns() -> list[tuple[re.Pattern[str], frozenset[str]]]:
    return [
        (_compile_path(path), frozenset(m.upper() for m in operations if m.upper() in HTTP_METHODS))
        for path, operations in openapi_document().get("paths", {}).items()
    ]


def allowed_methods(path: str) -> set[str]:
    """The methods the API declares for ``path`` (empty: no route has this path)."""
    allowed: set[str] = set()
    for pattern, methods in _route_patterns():
        if pattern.match(path):
            allowed |= methods
    return allowed


def database_problem() -> str | None:
    """Why the database does not answer, or None when it does."""
    import psycopg  # the driver's error classes; imported when first asked (cold start)

    try:
        db.fetch_one("SELECT 1")
    except psycopg.errors.QueryCanceled:
        return "the database did not answer in time"
    except psycopg.OperationalError:
        return "the database cannot be reached"
    except psycopg.Error:
        return "the database answered with an error"
    return None
