"""Starter project templates offered when a user creates a project.

Each template is a folder next to this module::

    <template-id>/
        template.json   metadata: id, name, description, default, installCommand, buildCommand, startCommand
        files/...       the project's files, exactly as they appear in the user's new project

The templates are plain data shipped with the package. They are read once (the result is cached) and exposed as
immutable :class:`ProjectTemplate` values.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["DEFAULT_TEMPLATE_ID", "ProjectTemplate", "get_template", "list_templates"]

DEFAULT_TEMPLATE_ID = "react-vite-ts-tailwind"

_TEMPLATES_DIR = Path(__file__).resolve().parent
_METADATA_FILE = "template.json"
_FILES_DIR = "files"


@dataclass(frozen=True)
class ProjectTemplate:
    """A starter project: its metadata and the files it creates.

    ``files`` maps a relative POSIX path (``"src/App.tsx"``) to the file's bytes. The mapping is shared by every
    caller because templates are cached: treat it as read-only and copy it before changing anything.
    """

    id: str
    name: str
    description: str
    default: bool
    install_command: str
    build_command: str
    start_command: str
    files: dict[str, bytes] = field(repr=False, hash=False)


def list_templates() -> list[ProjectTemplate]:
    """Return every template, the default one first, then the others sorted by name."""
    return list(_load_all())


def get_template(template_id: str) -> ProjectTemplate | None:
    """Return the template whose id is ``template_id``, or ``None`` when there is none."""
    return next((template for template in _load_all() if template.id == template_id), None)


@functools.cache
def _load_all() -> tuple[ProjectTemplate, ...]:
    templates = [
        _load_template(folder)
        for folder in _TEMPLATES_DIR.iterdir()
        if folder.is_dir() and (folder / _METADATA_FILE).is_file()
    ]
    ids = [template.id for template in templates]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate project template ids: {sorted(ids)}")
    return tuple(sorted(templates, key=lambda template: (not template.default, template.name.casefold())))


def _load_template(folder: Path) -> ProjectTemplate:
    metadata_path = folder / _METADATA_FILE
    metadata: Any = json.loads(metadata_path.read_text(encoding="utf-8"))
    if not isinstance(metadata, dict):
        raise ValueError(f"{metadata_path}: expected a JSON object")

    def text(key: str) -> str:
        value = metadata.get(key)
        if not isinstance(value, str):
            raise ValueError(f"{metadata_path}: {key!r} must be a string")
        return value

    is_default = metadata.get("default", False)
    if not isinstance(is_default, bool):
        raise ValueError(f"{metadata_path}: 'default' must be a boolean")
    template_id = text("id")
    if template_id != folder.name:
        raise ValueError(f"{metadata_path}: id {template_id!r} does not match its folder name {folder.name!r}")

    return ProjectTemplate(
        id=template_id,
        name=text("name"),
        description=text("description"),
        default=is_default,
        install_command=text("installCommand"),
        build_command=text("buildCommand"),
        start_command=text("startCommand"),
        files=_read_files(folder / _FILES_DIR),
    )


# Files kept under another name in the repo: build tools (SAM's Python builder, npm pack) drop
# files called .gitignore, so the template stores it as _gitignore.
_STORED_NAMES = {"_gitignore": ".gitignore"}


def _read_files(root: Path) -> dict[str, bytes]:
    """Read every file under ``root`` (dotfiles included) keyed by its relative POSIX path, sorted by path."""
    if not root.is_dir():
        raise ValueError(f"{root}: missing files folder")
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise ValueError(f"{path}: symbolic links are not allowed in project templates")
        if path.is_file():
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if ".." in relative.parts or ".git" in relative.parts:
                raise ValueError(f"{path}: path not allowed in a project template")
            files[_STORED_NAMES.get(relative.as_posix(), relative.as_posix())] = path.read_bytes()
    return files
