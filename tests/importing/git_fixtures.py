"""Real git repositories, made with the git CLI, shaped like apps from the desktop app, and the
uploads a user would make of them (a zip of the folder with its .git, or a git bundle)."""

from __future__ import annotations

import os
import stat
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

AUTHOR_NAME = "Zoë Builder"
AUTHOR_EMAIL = "zoe@example.com"

# The smallest valid PNG (1×1, transparent): bytes that are not UTF-8, to prove blobs stay exact.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8ffff3f0005fe02fea7d6a4e80000000049454e44ae426082"
)

# Large enough to exceed the small max_file_bytes the tests use.
LARGE_FILE_BYTES = 4096


def _git_env(timestamp: str) -> dict[str, str]:
    return {
        **os.environ,
        # The developer's own git configuration must not change what the fixtures contain.
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_DATE": timestamp,
        "GIT_COMMITTER_DATE": timestamp,
    }


@dataclass
class GitRepo:
    """An app folder with its .git, plus a clock that gives each commit its own fixed time."""

    path: Path
    day: int = 0
    main_commits: list[str] = field(default_factory=list)

    def git(self, *args: str, stdin: bytes | None = None) -> bytes:
        result = subprocess.run(
            [
                "git",
                "-c",
                f"user.name={AUTHOR_NAME}",
                "-c",
                f"user.email={AUTHOR_EMAIL}",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "core.symlinks=true",
                *args,
            ],
            cwd=self.path,
            env=_git_env(self.timestamp()),
            input=stdin,
            capture_output=True,
            check=True,
        )
        return result.stdout

    def timestamp(self) -> str:
        # A +02:00 offset, so tests can see that authored_at is converted to UTC.
        return f"2024-03-{self.day + 1:02d}T10:{self.day:02d}:00+02:00"

    def write(self, relative: str, content: bytes | str, *, executable: bool = False) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        if executable:
            target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        return self.commit_staged(message)

    def commit_staged(self, message: str) -> str:
        self.day += 1
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").decode().strip()


def init_repo(path: Path, branch: str = "main") -> GitRepo:
    path.mkdir(parents=True)
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", branch)
    return repo


def make_sample_app(path: Path) -> GitRepo:
    """An app whose main branch exercises every case the importer handles, one commit each:
    initial files, an edit (plus a binary and an executable), a rename, a delete (plus .env files),
    committed dependencies/build output/large file/symlink/submodule, and a merge of a side branch."""
    repo = init_repo(path)
    repo.write("package.json", '{"name": "sample", "version": "1.0.0"}\n')
    repo.write("index.html", "<!doctype html><div id=root></div>\n")
    repo.write("src/App.tsx", "export default function App() { return <h1>Hi</h1> }\n")
    repo.write("src/main.tsx", "import App from './App'\n")
    repo.write("README.md", "# Sample\n")
    repo.main_commits.append(repo.commit("Initial app\n\nCreated by the desktop app."))

    repo.write("src/App.tsx", "export default function App() { return <h1>Hello</h1> }\n")
    repo.write("public/logo.png", PNG_BYTES)
    repo.write("scripts/deploy.sh", "#!/bin/sh\necho deploy\n", executable=True)
    repo.main_commits.append(repo.commit("Say hello"))

    repo.git("mv", "src/main.tsx", "src/index.tsx")
    repo.main_commits.append(repo.commit("Rename main.tsx"))

    (path / "README.md").unlink()
    repo.write(".env", "API_KEY=secret\n")
    repo.write("src/.env.local", "LOCAL=1\n")
    repo.main_commits.append(repo.commit("Remove readme, add env"))

    repo.write("node_modules/left-pad/index.js", "module.exports = () => ''\n")
    repo.write("lib/node_modules/nested/index.js", "module.exports = 1\n")
    repo.write("dist/index.html", "<built/>\n")
    repo.write("src/dist/keep.ts", "export const keep = true\n")  # only top-level dist/ is build output
    repo.write("assets/big.bin", b"\x00\x01" * (LARGE_FILE_BYTES // 2))
    (path / "link-to-app").symlink_to("src/App.tsx")
    # A submodule as a clone without --recurse-submodules leaves it: a gitlink and an empty folder.
    (path / "vendor" / "lib").mkdir(parents=True)
    repo.git("add", "-A")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{repo.main_commits[0]},vendor/lib")
    repo.main_commits.append(repo.commit_staged("Commit dependencies and build output"))

    repo.git("checkout", "-q", "-b", "feature")
    repo.write("src/feature.ts", "export const feature = 1\n")
    side = repo.commit("Side branch work")
    repo.git("checkout", "-q", "main")
    repo.write("package.json", '{"name": "sample", "version": "1.1.0"}\n')
    repo.main_commits.append(repo.commit("Bump version"))
    repo.day += 1
    repo.git("merge", "-q", "--no-ff", "-m", "Merge feature", side)
    repo.main_commits.append(repo.head())
    return repo


def make_generated_repo(path: Path, commits: int, files: int) -> GitRepo:
    """A large history, built with git fast-import (one process instead of one per commit): the
    first commit adds `files` files across folders, each later one edits three of them."""
    repo = init_repo(path)
    lines: list[bytes] = []
    for number in range(commits):
        lines += [
            b"commit refs/heads/main",
            f"author {AUTHOR_NAME} <{AUTHOR_EMAIL}> {1_700_000_000 + number} +0000".encode(),
            f"committer {AUTHOR_NAME} <{AUTHOR_EMAIL}> {1_700_000_000 + number} +0000".encode(),
        ]
        message = f"Commit {number}".encode()
        lines += [f"data {len(message)}".encode(), message]
        touched = range(files) if number == 0 else [(number * 7 + k * 131) % files for k in range(3)]
        for index in touched:
            content = f"// file {index} at commit {number}\n".encode() * 4
            lines += [
                f"M 100644 inline src/folder{index % 40}/sub{index % 7}/file{index}.ts".encode(),
                f"data {len(content)}".encode(),
                content,
            ]
        lines.append(b"")
    repo.git("fast-import", "--quiet", stdin=b"\n".join(lines) + b"\n")
    repo.main_commits = repo.git("rev-list", "--reverse", "main").decode().split()
    return repo


def zip_folder(folder: Path, destination: Path, *, nested: bool) -> Path:
    """Zip `folder` the way a user would: with the folder itself as the top-level entry (nested) or
    its content at the root. Symlinks are stored as symlinks, like `zip -y` and Finder do."""
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as zf:
        for current, dirs, names in os.walk(folder):
            dirs.sort()
            for name in sorted(names) + [d for d in dirs if (Path(current) / d).is_symlink()]:
                source = Path(current) / name
                relative = source.relative_to(folder).as_posix()
                arcname = f"{folder.name}/{relative}" if nested else relative
                if source.is_symlink():
                    info = zipfile.ZipInfo(arcname)
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                    zf.writestr(info, os.readlink(source))
                else:
                    zf.write(source, arcname)
    return destination


def make_bundle(repo: GitRepo, destination: Path) -> Path:
    repo.git("bundle", "create", "-q", str(destination), "--all")
    return destination


def git_files(repo: GitRepo, sha: str) -> dict[str, tuple[int, str, str]]:
    """path → (mode, type, object id) of every entry in a commit, as git lists it."""
    listing = repo.git("ls-tree", "-r", "-z", sha).decode()
    entries: dict[str, tuple[int, str, str]] = {}
    for record in filter(None, listing.split("\0")):
        meta, path = record.split("\t", 1)
        mode, kind, object_id = meta.split()
        entries[path] = (int(mode, 8), kind, object_id)
    return entries


def git_show(repo: GitRepo, sha: str, path: str) -> bytes:
    return repo.git("show", f"{sha}:{path}")
