"""The whole API's OpenAPI 3.1 document, merged from every HTTP function's FastAPI app."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from fastapi import FastAPI

from devstack.template import Template
from mm_common import __version__


def http_apps(template: Template | None = None) -> dict[str, FastAPI]:
    """Each HTTP function's FastAPI app (the ``app`` beside its handler), by logical id."""
    template = template or Template.load()
    for path in [*template.layer_dirs(), *(f.code_dir for f in template.functions())]:
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    apps = {}
    for spec in template.functions():
        if spec.routes:
            module = importlib.import_module(spec.handler.rsplit(".", 1)[0])
            apps[spec.logical_id] = module.app
    return apps


def build_openapi(template: Template | None = None) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for logical_id, app in sorted(http_apps(template).items()):
        document = app.openapi()
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                operation.setdefault("tags", [logical_id.removesuffix("Function").lower()])
                paths.setdefault(path, {})[method] = operation
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            if name in schemas and schemas[name] != schema:
                raise ValueError(f"two functions define different schemas named {name}")
            schemas[name] = schema
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MoreMinimore API",
            "version": __version__,
            "description": 'Every error answers {"error": {"code", "message", "details"}}.',
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }
