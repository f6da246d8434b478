"""Open an uploaded desktop-app repository (a zip of the app folder with its `.git`, or a `git
bundle`) safely, and walk the first-parent history of its main branch.

Uploads are untrusted: a zip may try to write outside the work directory or inflate without bound,
and a repository may be crafted. Everything here reads git objects with dulwich (Lambda has no git
binary) and turns every failure into an `ArchiveError` whose message can be shown to the user.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from dulwich.object_store import DiskObjectStore
from dulwich.objects import Commit, ObjectID, RawObjectID, Tree
from dulwich.pack import Pack
from dulwich.refs import DiskRefsContainer, Ref

MB = 1000 * 1000
MiB = 1024 * 1024

ZIP_MAGIC = b"PK\x03\x04"
BUNDLE_HEADERS = {b"# v2 git bundle\n": 2, b"# v3 git bundle\n": 3}

SKIP_DEPENDENCIES = "dependencies"
SKIP_BUILD_OUTPUT = "build output"
SKIP_TOO_LARGE = "too large"
SKIP_SYMLINK = "symlink"
SKIP_SUBMODULE = "submodule"

# Folders a build regenerates: importing them would only bloat every version.
BUILD_OUTPUT_DIRS = frozenset({"dist", "build", ".next", "out", ".vite", "coverage"})
DEPENDENCY_DIR = "node_modules"

_BLOB_TYPE = 3
_OFS_DELTA = 6
_REF_DELTA = 7
# Enough compressed bytes to hold any object header plus the start of its zlib stream.
_PACK_HEADER_READ = 512
# Two base-128 sizes of at most 10 bytes each.
_DELTA_HEADER_BYTES = 20
_LOOSE_HEADER_BYTES = 32
_MAX_HEADER_INPUT = 64 * 1024
_GITLINK_MODE = 0o160000
_HEX_SHA = re.compile(r"[0-9a-f]{40}")
_DRIVE_LETTER = re.compile(r"[A-Za-z]:")
# Small entries compress extremely well when they are zeros or repeated text; a ratio is only
# suspicious once the inflated size is large enough to matter.
_RATIO_FLOOR_BYTES = 1 * MiB
_COPY_CHUNK = 1 * MiB
# git itself refuses deeper trees (core.maxTreeDepth defaults to 4096); our recursion needs a
# tighter bound, and no real app nests this deep.
_MAX_TREE_DEPTH = 200
_EOCD_SIZE = 22
_MAX_ZIP_COMMENT = 0xFFFF
_ZIP64_LOCATOR_SIZE = 20
# A central directory entry is 46 bytes plus its name and extras: 512 bytes each on average is
# far beyond real paths, and keeps a forged directory from making zipfile allocate millions of entries.
_MAX_DIRECTORY_BYTES_PER_ENTRY = 512
# A bundle header lists one line per ref; real ones are a few KB.
_MAX_BUNDLE_HEADER_BYTES = 16 * MiB


class ArchiveError(Exception):
    """The upload cannot be imported; the message is meant for the user."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_archive_bytes: int = 200 * MB
    max_unpacked_bytes: int = 1000 * MB
    max_entries: int = 200_000
    # Inflated/compressed size, checked per entry and over the whole extraction.
    max_ratio: int = 200
    max_file_bytes: int = 5 * MiB
    max_commits: int = 5_000


@dataclass(frozen=True)
class TreeFile:
    blob_id: str
    size: int
    mode: int


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class HistoryCommit:
    sha: str
    message: str
    author_name: str
    author_email: str
    authored_at: datetime
    files: dict[str, TreeFile]
    skipped: tuple[SkippedFile, ...]
    env_files: dict[str, TreeFile]


@dataclass(frozen=True)
class _FlatTree:
    """One tree's content, flattened, with paths relative to that tree."""

    files: dict[str, TreeFile]
    env_files: dict[str, TreeFile]
    skipped: tuple[SkippedFile, ...]


@dataclass(frozen=True)
class _Mapping:
    """A commit's mapping while it is being derived from the previous commit's."""

    files: dict[str, TreeFile]
    env_files: dict[str, TreeFile]
    skipped: dict[str, SkippedFile]


def _pruned_folder(name: str, *, top_level: bool) -> bool:
    """Folders whose content is never imported, only reported as one skipped entry."""
    return name == DEPENDENCY_DIR or (top_level and name in BUILD_OUTPUT_DIRS)


def _mb(size: int) -> str:
    return f"{size / MB:g} MB"


class ImportRepository:
    """A repository unpacked into a work directory; read-only."""

    def __init__(
        self,
        git_dir: Path,
        branches: dict[str, str],
        head_branch: str | None,
        limits: ArchiveLimits,
    ) -> None:
        self._git_dir = git_dir
        self._branches = branches
        self._head_branch = head_branch
        self._limits = limits
        self._store = DiskObjectStore(git_dir / "objects", loose_object_size_limit=limits.max_unpacked_bytes)
        self._shallow = _read_shallow(git_dir)
        self._sizes: dict[str, int] = {}  # blob id → size; a blob is measured once however often it recurs
        self._files: dict[tuple[str, int], TreeFile] = {}  # one shared TreeFile per (blob, mode) across commits
        # Subtree id → its flattened content, for the duration of one history() walk.
        self._subtrees: dict[str, _FlatTree] = {}
        self._tree_entries: dict[str, dict[str, tuple[int, str]]] = {}
        self._pack_files: dict[str, BinaryIO] = {}
        self._packs: list[Pack] | None = None

    @property
    def branches(self) -> dict[str, str]:
        """Branch name → tip commit sha."""
        return dict(self._branches)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for file in self._pack_files.values():
            file.close()
        self._pack_files.clear()
        self._store.close()
        self._subtrees.clear()
        self._tree_entries.clear()

    def history(self, branch: str = "main") -> list[HistoryCommit]:
        """The first-parent chain of `branch` (else `master`, else HEAD's branch), oldest first."""
        tip = self._resolve_branch(branch)
        try:
            with _damaged_repository():
                chain = self._first_parent_chain(tip)
                history: list[HistoryCommit] = []
                previous: tuple[str, _FlatTree] | None = None
                for commit in reversed(chain):
                    tree_id = commit.tree.decode("ascii")
                    snapshot = self._snapshot(tree_id, previous)
                    history.append(self._history_commit(commit, snapshot))
                    previous = (tree_id, snapshot)
                return history
        finally:
            # The caches only pay off within one walk; the caller keeps the result, not the caches.
            self._subtrees.clear()
            self._tree_entries.clear()

    def read_blob(self, blob_id: str) -> bytes:
        if not _HEX_SHA.fullmatch(blob_id):
            raise ArchiveError(f"Not a file id: {blob_id[:80]}")
        with _damaged_repository():
            try:
                type_num, data = self._store.get_raw(ObjectID(blob_id.encode("ascii")))
            except KeyError:
                raise ArchiveError(f"The repository is missing the file {blob_id}") from None
        if type_num != _BLOB_TYPE:
            raise ArchiveError(f"{blob_id} is not a file in the repository")
        return data

    def _resolve_branch(self, branch: str) -> str:
        for candidate in (branch, "master", self._head_branch):
            if candidate is not None and candidate in self._branches:
                return self._branches[candidate]
        raise ArchiveError(f"The repository has no {branch} branch")

    def _first_parent_chain(self, tip: str) -> list[Commit]:
        """Newest first. Beyond max_commits it only counts, so the error can say how many."""
        chain: list[Commit] = []
        count = 0
        sha: str | None = tip
        while sha is not None:
            commit = self._commit(sha)
            count += 1
            if count <= self._limits.max_commits:
                chain.append(commit)
            sha = None
            # A shallow clone's oldest commit names parents that were never fetched: history starts there.
            if commit.parents and commit.id.decode("ascii") not in self._shallow:
                sha = commit.parents[0].decode("ascii")
        if count > self._limits.max_commits:
            raise ArchiveError(
                f"The main branch has {count} commits; at most {self._limits.max_commits} can be imported"
            )
        return chain

    def _commit(self, sha: str) -> Commit:
        try:
            obj = self._store[ObjectID(sha.encode("ascii"))]
        except KeyError:
            raise ArchiveError(f"The repository is incomplete: commit {sha} is missing") from None
        if not isinstance(obj, Commit):
            raise ArchiveError(f"The repository is damaged: {sha} is not a commit")
        return obj

    def _history_commit(self, commit: Commit, snapshot: _FlatTree) -> HistoryCommit:
        author = commit.author.decode("utf-8", "replace")
        name, email = author, ""
        if author.endswith(">") and "<" in author:
            at = author.rindex("<")
            name, email = author[:at].strip(), author[at + 1 : -1].strip()
        return HistoryCommit(
            sha=commit.id.decode("ascii"),
            # Trailing newlines are how git stores messages, not part of what the user wrote.
            message=commit.message.decode("utf-8", "replace").rstrip(),
            author_name=name,
            author_email=email,
            authored_at=datetime.fromtimestamp(commit.author_time, tz=UTC),
            files=snapshot.files,
            skipped=tuple(sorted(snapshot.skipped, key=lambda skipped: skipped.path)),
            env_files=snapshot.env_files,
        )

    def _snapshot(self, tree_id: str, previous: tuple[str, _FlatTree] | None) -> _FlatTree:
        """A commit's files. Consecutive commits differ in a few paths: starting from a copy of the
        previous commit's mapping and applying only the entries that changed makes each commit cost
        what it changed rather than the size of the project."""
        if previous is None:
            return self._flatten(tree_id, top_level=True, depth=0)
        previous_tree_id, before = previous
        # Each commit gets its own dicts: a caller editing one version must not change another.
        files = dict(before.files)
        env_files = dict(before.env_files)
        skipped = {entry.path: entry for entry in before.skipped}
        if previous_tree_id != tree_id:
            self._apply_changes(previous_tree_id, tree_id, "", _Mapping(files, env_files, skipped), depth=0)
        return _FlatTree(files, env_files, tuple(skipped.values()))

    def _apply_changes(self, old_tree: str, new_tree: str, prefix: str, into: _Mapping, *, depth: int) -> None:
        """Turn the mapping of `old_tree` (at `prefix`) into that of `new_tree`, descending only into
        folders whose tree id changed."""
        if depth > _MAX_TREE_DEPTH:
            raise ArchiveError("The repository nests folders too deeply")
        top_level = depth == 0
        old_entries = self._entries(old_tree)
        new_entries = self._entries(new_tree)
        for name in old_entries.keys() | new_entries.keys():
            old = old_entries.get(name)
            new = new_entries.get(name)
            if old == new:
                continue
            if (
                old is not None
                and new is not None
                and stat.S_ISDIR(old[0])
                and stat.S_ISDIR(new[0])
                and not _pruned_folder(name, top_level=top_level)
            ):
                self._apply_changes(old[1], new[1], f"{prefix}{name}/", into, depth=depth + 1)
                continue
            if old is not None:
                gone = self._contribution(name, *old, top_level=top_level, depth=depth)
                for path in gone.files:
                    del into.files[prefix + path]
                for path in gone.env_files:
                    del into.env_files[prefix + path]
                for entry in gone.skipped:
                    del into.skipped[prefix + entry.path]
            if new is not None:
                added = self._contribution(name, *new, top_level=top_level, depth=depth)
                into.files.update({prefix + path: file for path, file in added.files.items()})
                into.env_files.update({prefix + path: file for path, file in added.env_files.items()})
                into.skipped.update(
                    {prefix + entry.path: SkippedFile(prefix + entry.path, entry.reason) for entry in added.skipped}
                )

    def _entries(self, tree_id: str) -> dict[str, tuple[int, str]]:
        """A tree's entries, name → (mode, id); every tree is parsed once per walk."""
        entries = self._tree_entries.get(tree_id)
        if entries is None:
            tree = self._store[ObjectID(tree_id.encode("ascii"))]
            if not isinstance(tree, Tree):
                raise ArchiveError(f"The repository is damaged: {tree_id} is not a folder")
            entries = {_entry_name(entry.path): (entry.mode, entry.sha.decode("ascii")) for entry in tree.iteritems()}
            self._tree_entries[tree_id] = entries
        return entries

    def _flatten(self, tree_id: str, *, top_level: bool, depth: int) -> _FlatTree:
        """Every file under a tree, paths relative to it. Cached by tree id: a folder that did not
        change between commits (or was moved whole) is walked once."""
        # The root is not cached: only the first commit is flattened whole, later ones are diffs.
        cached = None if top_level else self._subtrees.get(tree_id)
        if cached is not None:
            return cached
        if depth > _MAX_TREE_DEPTH:
            raise ArchiveError("The repository nests folders too deeply")
        files: dict[str, TreeFile] = {}
        env_files: dict[str, TreeFile] = {}
        skipped: list[SkippedFile] = []
        for name, (mode, object_id) in self._entries(tree_id).items():
            part = self._contribution(name, mode, object_id, top_level=top_level, depth=depth)
            files.update(part.files)
            env_files.update(part.env_files)
            skipped.extend(part.skipped)
        flat = _FlatTree(files, env_files, tuple(skipped))
        if not top_level:
            self._subtrees[tree_id] = flat
        return flat

    def _contribution(self, name: str, mode: int, object_id: str, *, top_level: bool, depth: int) -> _FlatTree:
        """What one tree entry adds to its parent's mapping, paths relative to the parent."""
        if stat.S_ISDIR(mode):
            if name == DEPENDENCY_DIR:
                return _FlatTree({}, {}, (SkippedFile(name + "/", SKIP_DEPENDENCIES),))
            if top_level and name in BUILD_OUTPUT_DIRS:
                return _FlatTree({}, {}, (SkippedFile(name + "/", SKIP_BUILD_OUTPUT),))
            sub = self._flatten(object_id, top_level=False, depth=depth + 1)
            prefix = name + "/"
            return _FlatTree(
                {prefix + path: file for path, file in sub.files.items()},
                {prefix + path: file for path, file in sub.env_files.items()},
                tuple(SkippedFile(prefix + entry.path, entry.reason) for entry in sub.skipped),
            )
        if mode == _GITLINK_MODE:
            return _FlatTree({}, {}, (SkippedFile(name, SKIP_SUBMODULE),))
        if stat.S_ISLNK(mode):
            return _FlatTree({}, {}, (SkippedFile(name, SKIP_SYMLINK),))
        if not stat.S_ISREG(mode):
            raise ArchiveError(f"The repository is damaged: {name} has an unknown mode {mode:o}")
        file = self._tree_file(object_id, mode)
        if file.size > self._limits.max_file_bytes:
            return _FlatTree({}, {}, (SkippedFile(name, SKIP_TOO_LARGE),))
        if name.startswith(".env"):
            return _FlatTree({}, {name: file}, ())
        return _FlatTree({name: file}, {}, ())

    def _tree_file(self, blob_id: str, mode: int) -> TreeFile:
        # git only knows two file modes; old repositories may still carry 0o100664.
        normalized = 0o100755 if mode & 0o111 else 0o100644
        key = (blob_id, normalized)
        file = self._files.get(key)
        if file is None:
            file = TreeFile(blob_id=blob_id, size=self._blob_size(blob_id), mode=normalized)
            self._files[key] = file
        return file

    def _blob_size(self, blob_id: str) -> int:
        size = self._sizes.get(blob_id)
        if size is None:
            size = self._declared_size(blob_id)
            if size is None:
                size = len(self.read_blob(blob_id))
            self._sizes[blob_id] = size
        return size

    def _declared_size(self, blob_id: str) -> int | None:
        """A blob's size from its object header, without inflating its content: a walk then costs
        no more for a 500 MB video than for a small file, and skipping it as too large never loads
        it. None when the object is in neither a pack nor a loose file (read_blob then decides)."""
        raw_id = bytes.fromhex(blob_id)
        if self._packs is None:
            # The store's `packs` lists the pack folder on every call; nothing adds packs here.
            self._packs = self._store.packs
        for pack in self._packs:
            try:
                offset = pack.index.object_offset(RawObjectID(raw_id))
            except KeyError:
                continue
            return _packed_object_size(self._pack_file(str(pack.data.path)), offset)
        loose = self._git_dir / "objects" / blob_id[:2] / blob_id[2:]
        if loose.is_file():
            with loose.open("rb") as f:
                return _loose_object_size(f)
        return None

    def _pack_file(self, path: str) -> BinaryIO:
        file = self._pack_files.get(path)
        if file is None:
            file = self._pack_files[path] = open(path, "rb")  # noqa: SIM115 - kept open across a walk, closed in close()
        return file


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    """A little-endian base-128 number (pack and delta headers); returns (value, next offset)."""
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ArchiveError("The repository is damaged: a size header is truncated")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _inflate_head(f: BinaryIO, compressed: bytes, length: int) -> bytes:
    """The first `length` bytes of the zlib stream starting with `compressed` (and continuing in `f`)."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(compressed, length)
    read = len(compressed)
    # A stream's block header can precede the first output byte by a few hundred bytes.
    while len(out) < length and not inflater.eof and read < _MAX_HEADER_INPUT:
        chunk = f.read(_PACK_HEADER_READ)
        if not chunk:
            break
        read += len(chunk)
        out += inflater.decompress(chunk, length - len(out))
    return out


def _packed_object_size(f: BinaryIO, offset: int) -> int:
    """The inflated size of the object at `offset` in a pack (gitformat-pack(5)). For a delta
    that is the target size in the delta's own header, which is inflated just far enough to read."""
    f.seek(offset)
    head = f.read(_PACK_HEADER_READ)
    if not head:
        raise ArchiveError("The repository is damaged: a pack is truncated")
    kind = (head[0] >> 4) & 0x7
    size = head[0] & 0x0F
    at = 1
    if head[0] & 0x80:
        rest, at = _read_varint(head, 1)
        size |= rest << 4
    if kind == _OFS_DELTA:
        while at < len(head) and head[at] & 0x80:
            at += 1
        at += 1
    elif kind == _REF_DELTA:
        at += 20
    else:
        return size
    delta_head = _inflate_head(f, head[at:], _DELTA_HEADER_BYTES)
    _source_size, next_at = _read_varint(delta_head, 0)
    target_size, _ = _read_varint(delta_head, next_at)
    return target_size


def _loose_object_size(f: BinaryIO) -> int:
    """The size in a loose object's "<type> <size>\0" header, inflating only that header."""
    header = _inflate_head(f, f.read(_PACK_HEADER_READ), _LOOSE_HEADER_BYTES)
    kind, _, rest = header.partition(b" ")
    size, nul, _ = rest.partition(b"\0")
    if kind != b"blob" or not nul or not size.isdigit():
        raise ArchiveError("The repository is damaged: a file has a broken header")
    return int(size)


def _entry_name(raw: bytes) -> str:
    """A tree entry's name; git writes no such names, so any of these means a crafted repository
    trying to escape the folder a version is written to."""
    name = raw.decode("utf-8", "replace")
    if name in ("", ".", "..") or "/" in name or "\0" in name or name.lower() == ".git":
        raise ArchiveError(f"The repository has an unsafe path: {name!r}")
    return name


@contextmanager
def _damaged_repository(what: str = "The repository") -> Iterator[None]:
    """dulwich raises many exception types on corrupt objects; the user needs one clear message."""
    try:
        yield
    except ArchiveError:
        raise
    except Exception as exc:  # any failure to read the upload is the upload's fault
        raise ArchiveError(f"{what} is damaged and cannot be read") from exc


def _read_shallow(git_dir: Path) -> frozenset[str]:
    path = git_dir / "shallow"
    if not path.is_file():
        return frozenset()
    return frozenset(line.strip() for line in path.read_text("ascii", "replace").splitlines() if line.strip())


# ---------------------------------------------------------------------------------------------
# Opening an upload


def open_repository(archive: Path, workdir: Path, limits: ArchiveLimits) -> ImportRepository:
    """Unpack `archive` (a zip of the app folder with its .git, or a git bundle) under `workdir`.

    Only `workdir/repo.git` is written; it must not exist yet.
    """
    try:
        size = archive.stat().st_size
        with archive.open("rb") as f:
            head = f.read(32)
    except OSError as exc:
        raise ArchiveError("The archive cannot be read") from exc
    if size > limits.max_archive_bytes:
        raise ArchiveError(f"The archive is larger than {_mb(limits.max_archive_bytes)}")
    git_dir = workdir / "repo.git"
    workdir.mkdir(parents=True, exist_ok=True)
    git_dir.mkdir()
    try:
        if head.startswith(ZIP_MAGIC):
            _extract_zip(archive, git_dir, limits)
            with _damaged_repository():
                branches, head_branch = _read_refs(git_dir)
        elif any(head.startswith(header) for header in BUNDLE_HEADERS):
            with _damaged_repository("The git bundle"):
                branches, head_branch = _unbundle(archive, git_dir, limits)
        else:
            raise ArchiveError("The file is neither a zip of the app folder nor a git bundle")
        with _damaged_repository():
            return ImportRepository(git_dir, branches, head_branch, limits)
    except BaseException:
        # Free the space now: Lambda's /tmp is small and shared by the whole invocation.
        shutil.rmtree(git_dir, ignore_errors=True)
        raise


def _read_refs(git_dir: Path) -> tuple[dict[str, str], str | None]:
    refs = DiskRefsContainer(git_dir)
    branches = {
        name.decode("utf-8", "replace"): sha.decode("ascii") for name, sha in refs.as_dict(Ref(b"refs/heads/")).items()
    }
    head = refs.read_ref(Ref(b"HEAD"))
    head_branch = None
    if head is not None and head.startswith(b"ref: refs/heads/"):
        head_branch = head[len(b"ref: refs/heads/") :].strip().decode("utf-8", "replace")
    return branches, head_branch


# --- zip ---------------------------------------------------------------------------------------

# The parts of .git that reading history needs. Everything else (config, hooks, index, logs,
# objects/info/alternates which may point anywhere on disk) is left in the archive.
_GIT_FILES = frozenset({"HEAD", "packed-refs", "shallow"})
_GIT_DIRS = frozenset({"refs", "objects"})
_GIT_EXCLUDED = frozenset({"objects/info/alternates", "objects/info/http-alternates"})


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path components of a zip entry, or ArchiveError if extracting it anywhere could escape.

    Windows' own zip tool (PowerShell 5.1's Compress-Archive) separates folders with backslashes: they are
    read as separators, before any check, so "..\\x" is refused like "../x"."""
    name = name.replace("\\", "/")
    if name.startswith("/") or _DRIVE_LETTER.match(name) or "\0" in name:
        raise ArchiveError(f"The archive has an unsafe path: {name[:200]}")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise ArchiveError(f"The archive has an unsafe path: {name[:200]}")
    return parts


def _git_root(entries: list[tuple[zipfile.ZipInfo, tuple[str, ...]]]) -> tuple[str, ...]:
    """Where `.git/` is: at the root, or under the one top-level folder the user zipped."""
    roots: set[tuple[str, ...]] = set()
    for info, parts in entries:
        # A directory entry "app/.git/" or any file below it marks the repository.
        inside = parts[:-1] if not _is_dir(info) else parts
        if inside[:1] == (".git",):
            roots.add(())
        elif len(inside) >= 2 and inside[1] == ".git" and inside[0] != "__MACOSX":
            roots.add(inside[:1])
    if () in roots:
        return ()
    if len(roots) == 1:
        return roots.pop()
    if not roots:
        raise ArchiveError("No git repository in the archive (zip the app folder with its .git)")
    raise ArchiveError("The archive holds several apps; upload one app folder at a time")


def _wanted(rel: tuple[str, ...]) -> bool:
    if not rel:
        return False
    if len(rel) == 1 and rel[0] in _GIT_FILES:
        return True
    return rel[0] in _GIT_DIRS and "/".join(rel) not in _GIT_EXCLUDED


def _is_dir(info: zipfile.ZipInfo) -> bool:
    return info.filename.endswith(("/", "\\"))


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _check_central_directory(f: BinaryIO, limits: ArchiveLimits) -> None:
    """Refuse too many entries from the end-of-central-directory record, before zipfile builds one
    object per entry: it trusts the directory's byte size, not its count, so both are checked.
    A record that cannot be found is left for zipfile to report as damage."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    tail_length = min(size, _EOCD_SIZE + _MAX_ZIP_COMMENT + _ZIP64_LOCATOR_SIZE)
    f.seek(size - tail_length)
    tail = f.read(tail_length)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD_SIZE:
        return
    entries, directory_bytes = struct.unpack_from("<HL", tail, at + 10)
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:
        # Zip64: the real values are in a record the locator (just before the EOCD) points to.
        locator = at - _ZIP64_LOCATOR_SIZE
        if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
            return
        (record_offset,) = struct.unpack_from("<Q", tail, locator + 8)
        f.seek(record_offset)
        record = f.read(56)
        if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
            return
        entries, directory_bytes = struct.unpack_from("<QQ", record, 32)
    if entries > limits.max_entries or directory_bytes > limits.max_entries * _MAX_DIRECTORY_BYTES_PER_ENTRY:
        raise ArchiveError(f"The archive has more than {limits.max_entries} entries")


def _extract_zip(archive: Path, git_dir: Path, limits: ArchiveLimits) -> None:
    try:
        with archive.open("rb") as raw:
            _check_central_directory(raw, limits)
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                raise ArchiveError(f"The archive has more than {limits.max_entries} entries")
            # Unsafe names are refused anywhere in the archive, not only in .git: no honest zip has them.
            entries = [(info, _safe_parts(info.filename)) for info in infos]
            root = _git_root(entries)
            selected: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
            for info, parts in entries:
                if parts[: len(root) + 1] != (*root, ".git"):
                    continue
                rel = parts[len(root) + 1 :]
                if not _wanted(rel):
                    continue
                # Symlinks outside .git (node_modules/.bin) are never written; inside they could
                # make a later write land anywhere.
                if _is_symlink(info):
                    raise ArchiveError(f"The archive has a symbolic link in .git: {info.filename[:200]}")
                selected.append((info, rel))
            _check_declared_sizes([info for info, _ in selected], limits)
            written = 0
            for info, rel in selected:
                target = git_dir.joinpath(*rel)
                if _is_dir(info):
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                written += _copy_entry(zf, info, target, limits, already_written=written)
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
        # RuntimeError covers encrypted entries and compression methods zipfile cannot read.
        raise ArchiveError("The zip file is damaged or uses an unsupported format") from exc
    except Exception as exc:  # zlib/lzma/bz2 errors on corrupt data have no common base
        raise ArchiveError("The zip file is damaged or uses an unsupported format") from exc
    # Zip tools drop empty folders; a repository with only packed refs may lack refs/.
    for required in ("objects", "objects/pack", "refs/heads"):
        (git_dir / required).mkdir(parents=True, exist_ok=True)


def _check_declared_sizes(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    """Refuse before writing anything when the central directory already admits a bomb; the
    streamed counters in _copy_entry catch entries that lie about their size."""
    total = sum(info.file_size for info in infos)
    compressed = sum(info.compress_size for info in infos)
    if total > limits.max_unpacked_bytes:
        raise ArchiveError(f"The archive unpacks to more than {_mb(limits.max_unpacked_bytes)}")
    for info in infos:
        if info.file_size > _RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ArchiveError(f"The archive has a suspicious compression ratio: {info.filename[:200]}")
    if total > _RATIO_FLOOR_BYTES and total > limits.max_ratio * max(compressed, 1):
        raise ArchiveError("The archive has a suspicious compression ratio")


def _copy_entry(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limits: ArchiveLimits, *, already_written: int
) -> int:
    """Stream one entry to disk, counting what actually inflates rather than trusting the header."""
    written = 0
    # "xb": a duplicate entry name must not overwrite (or follow) what an earlier entry wrote.
    with zf.open(info) as src, target.open("xb") as dst:
        while chunk := src.read(_COPY_CHUNK):
            written += len(chunk)
            if written > info.file_size:
                raise ArchiveError(f"The archive entry {info.filename[:200]} is larger than it declares")
            if already_written + written > limits.max_unpacked_bytes:
                raise ArchiveError(f"The archive unpacks to more than {_mb(limits.max_unpacked_bytes)}")
            if written > _RATIO_FLOOR_BYTES and written > limits.max_ratio * max(info.compress_size, 1):
                raise ArchiveError(f"The archive has a suspicious compression ratio: {info.filename[:200]}")
            dst.write(chunk)
    return written


# --- bundle ------------------------------------------------------------------------------------


def _unbundle(archive: Path, git_dir: Path, limits: ArchiveLimits) -> tuple[dict[str, str], str | None]:
    """Copy the bundle's pack into a fresh object store and keep its refs in memory (they are never
    written to disk, so odd ref names cannot touch the filesystem)."""
    (git_dir / "objects" / "pack").mkdir(parents=True)
    (git_dir / "objects" / "info").mkdir()
    with archive.open("rb") as f:
        refs = _read_bundle_header(f)
        # dulwich's read_bundle holds the whole pack in memory; streaming it into add_pack keeps
        # memory flat for uploads near the size limit.
        store = DiskObjectStore(git_dir / "objects", loose_object_size_limit=limits.max_unpacked_bytes)
        try:
            pack_file, commit_pack, abort_pack = store.add_pack()
            try:
                first = f.read(_COPY_CHUNK)
                if not first.startswith(b"PACK"):
                    raise ArchiveError("The git bundle has no objects")
                pack_file.write(first)
                shutil.copyfileobj(f, pack_file, _COPY_CHUNK)
            except BaseException:
                abort_pack()
                raise
            commit_pack()
        finally:
            store.close()
    branches = {name[len("refs/heads/") :]: sha for name, sha in refs.items() if name.startswith("refs/heads/")}
    head_branch = None
    head_sha = refs.get("HEAD")
    if head_sha is not None:
        # A bundle records HEAD as a bare sha; the branch it was on is the one with that tip
        # (main first when several share it).
        matches = sorted(name for name, sha in branches.items() if sha == head_sha)
        head_branch = "main" if "main" in matches else (matches[0] if matches else None)
    return branches, head_branch


def _read_bundle_header(f: BinaryIO) -> dict[str, str]:
    """Refs of a v2/v3 bundle header (gitformat-bundle(5)), leaving `f` at the pack."""
    version = BUNDLE_HEADERS.get(f.readline())
    if version is None:
        raise ArchiveError("The file is not a git bundle")
    refs: dict[str, str] = {}
    consumed = 0
    while True:
        line = f.readline(_MAX_BUNDLE_HEADER_BYTES)
        consumed += len(line)
        if consumed >= _MAX_BUNDLE_HEADER_BYTES or not line.endswith(b"\n"):
            raise ArchiveError("The git bundle header is damaged")
        if line == b"\n":
            return refs
        text = line[:-1].decode("utf-8", "replace")
        if version == 3 and text.startswith("@"):
            key, _, value = text[1:].partition("=")
            if key == "object-format" and value != "sha1":
                raise ArchiveError(f"The git bundle uses {value} object ids, which are not supported")
            if key == "filter":
                raise ArchiveError("The git bundle is partial (made with --filter); create it with --all")
            continue
        if text.startswith("-"):
            raise ArchiveError("The git bundle is incremental; create it with `git bundle create app.bundle --all`")
        sha, _, name = text.partition(" ")
        if not _HEX_SHA.fullmatch(sha) or not name:
            raise ArchiveError("The git bundle header is damaged")
        refs[name] = sha
