"""The design-system engine behind a small interface: UI/UX Pro Max (npm ``uipro-cli``) today.

The engine is the package's own Python generator, loaded in-process from the directory that
``UIPRO_ASSETS_DIR`` names (the package's ``assets``: ``scripts/`` and ``data/``), never run
through a shell: the query is user text. Its module is untyped, so everything it returns is
read here, field by field, into :class:`EngineResult`; nothing untyped leaves this module.

The generator writes nothing to stdout (checked for 2.2.3, and pinned by a test), so no
redirection is needed: ``contextlib.redirect_stdout`` swaps ``sys.stdout`` for the whole process
and would swallow other threads' output.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

ASSETS_ENV = "UIPRO_ASSETS_DIR"
ENGINE_NAME = "uipro-cli"
PINNED_VERSION = "2.2.3"


class EngineUnavailableError(RuntimeError):
    """The engine's files are not where the environment says (a build or configuration fault)."""


@dataclass(frozen=True)
class EnginePattern:
    name: str
    sections: str
    cta_placement: str
    color_strategy: str
    conversion: str


@dataclass(frozen=True)
class EngineStyle:
    name: str
    type: str
    effects: str
    keywords: str
    best_for: str
    performance: str
    accessibility: str


@dataclass(frozen=True)
class EngineColors:
    primary: str
    secondary: str
    cta: str
    background: str
    text: str
    notes: str


@dataclass(frozen=True)
class EngineTypography:
    heading: str
    body: str
    mood: str
    best_for: str
    google_fonts_url: str
    css_import: str


@dataclass(frozen=True)
class EngineResult:
    """What an engine recommends for a description, as plain text fields."""

    engine: str
    version: str
    category: str
    pattern: EnginePattern
    style: EngineStyle
    colors: EngineColors
    typography: EngineTypography
    key_effects: str
    anti_patterns: str
    severity: str
    decision_rules: dict[str, str] = field(default_factory=dict)


class DesignEngine(Protocol):
    """Any engine that turns a product description into a recommendation."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def generate(self, query: str, project_name: str) -> EngineResult: ...


@dataclass(frozen=True)
class _Loaded:
    generator: Any  # design_system.DesignSystemGenerator: untyped, used only in this module
    version: str


_lock = threading.Lock()
_loaded: dict[Path, _Loaded] = {}


def assets_dir() -> Path:
    """The engine's assets directory as the environment names it, checked."""
    value = os.environ.get(ASSETS_ENV, "").strip()
    if not value:
        raise EngineUnavailableError(
            f"{ASSETS_ENV} is not set: it names the uipro-cli package's assets directory "
            "(locally layers/design_engine/node_modules/uipro-cli/assets after "
            "`npm ci --prefix layers/design_engine`)."
        )
    return checked_assets(Path(value))


def checked_assets(path: Path) -> Path:
    resolved = path.resolve()
    for required in ("scripts/design_system.py", "scripts/core.py", "data"):
        if not (resolved / required).exists():
            raise EngineUnavailableError(
                f"{path} has no {required}: install uipro-cli {PINNED_VERSION} "
                "(`npm ci --prefix layers/design_engine`) and point "
                f"{ASSETS_ENV} at the package's assets directory."
            )
    return resolved


def _module_from(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise EngineUnavailableError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _package_version(assets: Path) -> str:
    manifest = assets.parent / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return "unknown"
    return version if isinstance(version, str) else "unknown"


def _load(assets: Path) -> _Loaded:
    """Import the engine's modules once per process and assets directory.

    ``design_system.py`` does ``from core import search``: a module named ``core`` must be
    importable while it runs. Both are loaded from their files under private names, ``core`` is
    visible only for that moment, and ``sys.path`` is never changed, so no other ``core`` in the
    process is shadowed or replaced.
    """
    with _lock:
        cached = _loaded.get(assets)
        if cached is not None:
            return cached
        scripts = assets / "scripts"
        previous_core = sys.modules.get("core")
        try:
            core = _module_from(scripts / "core.py", "_uipro_core")
            sys.modules["core"] = core
            design_system = _module_from(scripts / "design_system.py", "_uipro_design_system")
        except (ImportError, SyntaxError, OSError) as error:
            raise EngineUnavailableError(f"the design engine in {assets} does not import: {error}") from error
        finally:
            if previous_core is None:
                sys.modules.pop("core", None)
            else:
                sys.modules["core"] = previous_core
        loaded = _Loaded(generator=design_system.DesignSystemGenerator(), version=_package_version(assets))
        _loaded[assets] = loaded
        return loaded


def _text(source: Any, key: str) -> str:
    value = source.get(key, "") if isinstance(source, dict) else ""
    return value.strip() if isinstance(value, str) else ""


def _section(source: Any, key: str) -> Any:
    value = source.get(key) if isinstance(source, dict) else None
    return value if isinstance(value, dict) else {}


_Section = TypeVar("_Section", EnginePattern, EngineStyle, EngineColors, EngineTypography)


def _read_section(kind: type[_Section], raw: Any, key: str) -> _Section:
    """One of the engine's sub-dicts as its dataclass: each field read by its own name, as text."""
    section = _section(raw, key)
    return kind(**{item.name: _text(section, item.name) for item in fields(kind)})


def to_result(raw: Any, version: str) -> EngineResult:
    """The engine's dict as typed text fields (missing or odd values become empty strings)."""
    rules = _section(raw, "decision_rules")
    return EngineResult(
        engine=ENGINE_NAME,
        version=version,
        category=_text(raw, "category"),
        pattern=_read_section(EnginePattern, raw, "pattern"),
        style=_read_section(EngineStyle, raw, "style"),
        colors=_read_section(EngineColors, raw, "colors"),
        typography=_read_section(EngineTypography, raw, "typography"),
        key_effects=_text(raw, "key_effects"),
        anti_patterns=_text(raw, "anti_patterns"),
        severity=_text(raw, "severity"),
        decision_rules={str(k): str(v) for k, v in rules.items() if isinstance(v, str | int | float)},
    )


class UiProMaxEngine:
    """UI/UX Pro Max's generator (BM25 over its CSV knowledge base), imported in-process.

    Its ``generate`` keeps no state between calls (each search reads its CSV afresh and the
    reasoning rules are read-only after load), so one instance serves every thread.
    """

    def __init__(self, assets: Path | None = None) -> None:
        self._assets = assets

    def _loaded(self) -> _Loaded:
        return _load(checked_assets(self._assets) if self._assets is not None else assets_dir())

    @property
    def name(self) -> str:
        return ENGINE_NAME

    @property
    def version(self) -> str:
        return self._loaded().version

    def generate_raw(self, query: str, project_name: str) -> dict[str, object]:
        """The engine's own dict (for the contract test that pins its shape)."""
        raw = self._loaded().generator.generate(query, project_name)
        if not isinstance(raw, dict):
            raise EngineUnavailableError(f"the design engine returned {type(raw).__name__}, not a dict")
        return {str(key): value for key, value in raw.items()}

    def generate(self, query: str, project_name: str) -> EngineResult:
        loaded = self._loaded()
        return to_result(loaded.generator.generate(query, project_name), loaded.version)


def default_engine() -> DesignEngine:
    return UiProMaxEngine()
