"""Rules for file paths inside a project: relative POSIX paths, normalised, nothing that escapes."""

from __future__ import annotations

import posixpath

MAX_PATH_LENGTH = 512
MAX_SEGMENT_LENGTH = 255

LANGUAGES = {
    ".ts": "typescript",
    ".tsx": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".json": "json",
    ".css": "css",
    ".scss": "scss",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".mdx": "markdown",
    ".py": "python",
    ".svg": "svg",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".toml": "toml",
    ".sql": "sql",
    ".sh": "shell",
    ".txt": "text",
    ".vue": "vue",
    ".svelte": "svelte",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".gif": "image",
    ".webp": "image",
    ".ico": "image",
    ".woff": "font",
    ".woff2": "font",
    ".ttf": "font",
    ".otf": "font",
}


# Code points macOS (HFS+) ignores in file names, so ".g\u200cit" is ".git" there (git's own list).
_HFS_IGNORED = dict.fromkeys([0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF])


class PathError(ValueError):
    """A path a project may not contain; the message says why, for the user."""


def _is_git_folder(segment: str) -> bool:
    """Whether a segment names the .git folder on some file system a project may reach (a clone,
    an unzipped archive): any case (".GIT" on case-insensitive disks), trailing dots or spaces
    (dropped by Windows), the NTFS short name "git~1", and HFS+-ignored code points."""
    name = segment.translate(_HFS_IGNORED).casefold().rstrip(". ")
    return name in (".git", "git~1")


def normalize_path(raw: str) -> str:
    """The canonical form of a project file path, or PathError.

    Accepts "src//app.tsx" and "./src/app.tsx" (both become "src/app.tsx"); refuses what could
    escape the project or confuse tools: "..", absolute paths, backslashes, NUL and other
    control characters, unpaired surrogates, ".git" (in any spelling a file system takes for
    it), over-long paths and a trailing slash (a folder, not a file).
    """
    if not raw or not raw.strip():
        raise PathError("The path is empty.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise PathError("The path contains a control character.")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in raw):
        raise PathError("The path is not valid Unicode text (it holds an unpaired surrogate).")
    if "\\" in raw:
        raise PathError("Use forward slashes (/) in paths, not backslashes.")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise PathError("The path must be relative to the project, not absolute.")
    if raw.endswith("/"):
        raise PathError("The path names a folder; give a file's path.")
    segments = [s for s in raw.split("/") if s not in ("", ".")]
    if not segments:
        raise PathError("The path is empty.")
    for segment in segments:
        if segment == "..":
            raise PathError("The path may not go up a folder (..).")
        if _is_git_folder(segment):
            raise PathError("Files under .git/ cannot be edited.")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise PathError(f"A path segment is longer than {MAX_SEGMENT_LENGTH} characters.")
        if segment != segment.strip():
            raise PathError("Path segments may not start or end with spaces.")
    path = "/".join(segments)
    if len(path) > MAX_PATH_LENGTH:
        raise PathError(f"The path is longer than {MAX_PATH_LENGTH} characters.")
    return path


def language_for(path: str) -> str:
    name = posixpath.basename(path).lower()
    if name == "dockerfile":
        return "dockerfile"
    return LANGUAGES.get(posixpath.splitext(name)[1], "text")
