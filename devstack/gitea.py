"""A Gitea emulator: the REST endpoints our Gitea client uses, over real git repositories on disk.

It answers as Gitea 1.2x does (JSON shapes, status codes, ``{"message", "url"}`` errors, ``Authorization:
token …``), and keeps each repository as a bare git repository under ``data_dir/repos/<owner>/<name>.git``.
ChangeFiles builds its commit with git plumbing (a temporary index, ``update-index``, ``write-tree``,
``commit-tree``, ``update-ref``) after Gitea's own checks against the branch head (blob sha, "already
exists", a file where a directory is). ``git clone <base>/<owner>/<name>.git`` works: the smart HTTP
protocol is served by ``git http-backend``; a private repository wants Basic auth with a token as password
(``http://<user>:<token>@host/<owner>/<name>.git``), as Gitea does.

Endpoints (under ``/api/v1``): ``GET /version``, ``GET /user``, ``POST /orgs/{org}/repos``,
``GET|PATCH|DELETE /repos/{owner}/{repo}``, ``GET /repos/{owner}/{repo}/branches/{branch}``,
``GET /repos/{owner}/{repo}/git/trees/{sha}`` (``recursive``, ``page``, ``per_page``),
``POST /repos/{owner}/{repo}/contents``, ``GET|POST /repos/{owner}/{repo}/keys``,
``DELETE /repos/{owner}/{repo}/keys/{id}``.

Tests steer it through ``emulator.faults`` (answer a status, with or after the real work; hold a request;
run a callable first, e.g. a concurrent commit) and read what it saw in ``emulator.requests``.
`GiteaServer` runs it on a free loopback port in a thread. The local stack and the tests only: Lambda code
never imports this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devstack.serving import LoopbackServer

GITEA_VERSION = "1.22.6"
ZERO_SHA = "0" * 40
TREES_PER_PAGE = 1000  # Gitea's setting.API.DefaultGitTreesPerPage
BASE_KEY = "gitea_emulator.base_url"  # the scope key holding the root as the client reached it
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")  # binding:"AlphaDashDot;MaxSize(100)"
_RESERVED_NAMES = {".", "..", "-", "api", "assets", "avatars", "captcha", "commits", "debug", "error", "explore"}
_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class GitError(RuntimeError):
    pass


def _git(git_dir: Path, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None) -> bytes:
    full_env = {**os.environ, "GIT_DIR": str(git_dir), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
    if env:
        full_env.update(env)
    done = subprocess.run(["git", *args], input=stdin, capture_output=True, env=full_env, check=False)
    if done.returncode != 0:
        raise GitError(f"git {args[0]} failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


def _write_blob(git_dir: Path, data: bytes) -> str:
    """Store ``data`` as a loose object (what ``git hash-object -w`` writes) and answer its id."""
    raw = b"blob %d\x00" % len(data) + data
    sha = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
    target = git_dir / "objects" / sha[:2] / sha[2:]
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix="tmp_obj_")
        with os.fdopen(fd, "wb") as handle:
            handle.write(zlib.compress(raw, 1))
        os.replace(temporary, target)
    return sha


@dataclass(frozen=True)
class Entry:
    mode: str
    type: str
    sha: str
    size: int
    path: str


def _ls_tree(git_dir: Path, treeish: str, *, recursive: bool = True, with_trees: bool = True) -> list[Entry]:
    """The entries of ``treeish`` as ``git ls-tree -l`` lists them (``-t``: directories too, as Gitea's
    recursive listing has them)."""
    args = ["ls-tree", "-l", "-z", *(["-r"] if recursive else []), *(["-t"] if recursive and with_trees else [])]
    entries = []
    for record in _git(git_dir, *args, treeish).split(b"\x00"):
        if not record:
            continue
        meta, path = record.split(b"\t", 1)
        mode, kind, sha, size = meta.decode().split()
        entries.append(Entry(mode, kind, sha, 0 if size == "-" else int(size), path.decode("utf-8", "replace")))
    return entries


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str
    committer_name: str
    committer_email: str
    committer_date: str
    message: str


def _commit_info(git_dir: Path, ref: str) -> CommitInfo:
    fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
    out = _git(git_dir, "log", "-1", f"--format={fmt}", ref, "--").decode("utf-8", "replace")
    sha, tree, parents, an, ae, ad, cn, ce, cd, message = out.split("\x00", 9)
    return CommitInfo(sha, tree, tuple(parents.split()), an, ae, ad, cn, ce, cd, message.rstrip("\n") + "\n")


# ---------------------------------------------------------------------------------------------- faults


@dataclass
class Fault:
    method: str  # "*" for any
    path: re.Pattern[str]
    times: int
    status: int | None = None
    body: Any = None
    after: bool = False  # do the real work, then answer the fault instead
    delay_s: float = 0.0
    action: Callable[[], object] | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and self.method in ("*", method) and self.path.search(path) is not None


class Faults:
    """Planned misbehaviour, matched against the method and the path (the part after the server root, e.g.
    ``/api/v1/repos/org/name/contents``); the first matching plan with uses left applies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: list[Fault] = []
        self._release = threading.Event()

    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self._plans.append(fault)
        return fault

    def fail_next(
        self, method: str, path_regex: str, status: int = 503, *, times: int = 1, body: Any = None, after: bool = False
    ) -> Fault:
        """Answer ``status`` (with ``body``, else Gitea's error shape) to the next ``times`` matching requests;
        ``after``: only once the request has done its work (a commit that lands but whose answer is lost)."""
        return self._add(Fault(method.upper(), re.compile(path_regex), times, status=status, body=body, after=after))

    def delay_next(self, method: str, path_regex: str, seconds: float, *, times: int = 1) -> Fault:
        """Hold the next matching requests ``seconds`` before handling them (a client timeout); `clear`
        releases held requests at once."""
        return self._add(Fault(method.upper(), re.compile(path_regex), times, delay_s=seconds))

    def run_before(self, method: str, path_regex: str, action: Callable[[], object], *, times: int = 1) -> Fault:
        """Run ``action`` (in a worker thread) before handling the next matching requests: a concurrent writer."""
        return self._add(Fault(method.upper(), re.compile(path_regex), times, action=action))

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._plans:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return [fault for fault in self._plans if fault.times > 0]

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()
            self._release.set()
            self._release = threading.Event()

    def hold(self, seconds: float) -> None:
        with self._lock:
            release = self._release
        release.wait(seconds)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    status: int
    request_bytes: int
    # ChangeFiles: (operation, path) of each file sent.
    operations: tuple[tuple[str, str], ...] = ()


# ---------------------------------------------------------------------------------------------- errors


class GiteaHttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _not_found() -> GiteaHttpError:
    return GiteaHttpError(404, "The target couldn't be found.")


@dataclass
class _Call:
    user: str
    base: str  # the server root as the client reached it (Gitea's ROOT_URL)
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any

    def api_url(self, path: str) -> str:
        return f"{self.base}/api/v1{path}"


# ---------------------------------------------------------------------------------------------- the emulator


@dataclass
class GiteaEmulator:
    data_dir: Path
    # token → user name; every user owns every organization here.
    tokens: dict[str, str] = field(default_factory=dict)
    orgs: set[str] = field(default_factory=lambda: {"moreminimore"})
    faults: Faults = field(default_factory=Faults)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.repos_root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._repo_locks: dict[str, threading.Lock] = {}
        self._app: ASGIApp | None = None

    # ------------------------------------------------------------------ set-up and inspection
    @property
    def repos_root(self) -> Path:
        return self.data_dir / "repos"

    def add_token(self, token: str, user: str = "mm-bot") -> None:
        self.tokens[token] = user

    def add_org(self, name: str) -> None:
        self.orgs.add(name)

    def repo_dir(self, owner: str, name: str) -> Path:
        """The bare repository on disk (clone it with ``git clone <path>`` too)."""
        return self.repos_root / owner.lower() / f"{name.lower()}.git"

    def _meta_path(self, owner: str, name: str) -> Path:
        return self.repo_dir(owner, name) / "gitea-emulator.json"

    def _load(self, owner: str, name: str) -> dict[str, Any] | None:
        path = self._meta_path(owner, name)
        if not path.is_file():
            return None
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return meta

    def _save(self, meta: dict[str, Any]) -> None:
        path = self._meta_path(meta["owner"], meta["name"])
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(temporary, path)

    def _next_id(self, kind: str) -> int:
        with self._lock:
            path = self.data_dir / "ids.json"
            ids: dict[str, int] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            ids[kind] = ids.get(kind, 0) + 1
            path.write_text(json.dumps(ids), encoding="utf-8")
            return ids[kind]

    def _repo_lock(self, owner: str, name: str) -> threading.Lock:
        key = f"{owner.lower()}/{name.lower()}"
        with self._lock:
            return self._repo_locks.setdefault(key, threading.Lock())

    def _org(self, name: str) -> str | None:
        return next((org for org in self.orgs if org.lower() == name.lower()), None)

    def commits(self, owner: str, name: str, ref: str = "main") -> list[CommitInfo]:
        """The commits reachable from ``ref``, newest first."""
        git_dir = self.repo_dir(owner, name)
        shas = _git(git_dir, "rev-list", ref, "--").decode().split()
        return [_commit_info(git_dir, sha) for sha in shas]

    def read_files(self, owner: str, name: str, ref: str = "main") -> dict[str, bytes]:
        """path → content of every file under ``ref``."""
        git_dir = self.repo_dir(owner, name)
        entries = [e for e in _ls_tree(git_dir, ref, with_trees=False) if e.type == "blob"]
        if not entries:
            return {}
        out = _git(git_dir, "cat-file", "--batch", stdin="".join(f"{e.sha}\n" for e in entries).encode())
        files: dict[str, bytes] = {}
        offset = 0
        for entry in entries:
            header_end = out.index(b"\n", offset)
            size = int(out[offset:header_end].split()[2])
            files[entry.path] = out[header_end + 1 : header_end + 1 + size]
            offset = header_end + 1 + size + 1
        return files

    def commit(
        self,
        owner: str,
        name: str,
        changes: Mapping[str, bytes | None],
        *,
        message: str = "Concurrent change",
        branch: str = "main",
        author: tuple[str, str] = ("Someone Else", "someone@example.com"),
    ) -> str:
        """Commit ``changes`` (path → content, None deletes) on ``branch`` directly, as a push would."""
        git_dir = self.repo_dir(owner, name)
        with self._repo_lock(owner, name):
            head = self._head(git_dir, branch)
            index: dict[str, tuple[str, str]] = {}
            for path, content in changes.items():
                index[path] = ("0", ZERO_SHA) if content is None else ("100644", _write_blob(git_dir, content))
            return self._write_commit(git_dir, head, index, branch, message, author, author, expected=head)

    # ------------------------------------------------------------------ git plumbing
    @staticmethod
    def _head(git_dir: Path, branch: str) -> str | None:
        try:
            return _git(git_dir, "rev-parse", "--verify", "-q", f"refs/heads/{branch}").decode().strip() or None
        except GitError:
            return None

    @staticmethod
    def _is_empty(git_dir: Path) -> bool:
        return not _git(git_dir, "for-each-ref", "--count=1", "refs/heads/").strip()

    @staticmethod
    def _write_commit(
        git_dir: Path,
        parent: str | None,
        changes: Mapping[str, tuple[str, str]],
        branch: str,
        message: str,
        author: tuple[str, str],
        committer: tuple[str, str],
        *,
        expected: str | None,
    ) -> str:
        """A commit of ``parent``'s tree with ``changes`` (path → (mode, blob sha); mode "0" removes),
        moved onto ``branch`` only if the branch still points at ``expected`` (None: does not exist yet)."""
        with tempfile.TemporaryDirectory(prefix="gitea-index-") as scratch:
            env = {
                "GIT_INDEX_FILE": str(Path(scratch) / "index"),
                "GIT_AUTHOR_NAME": author[0],
                "GIT_AUTHOR_EMAIL": author[1],
                "GIT_COMMITTER_NAME": committer[0],
                "GIT_COMMITTER_EMAIL": committer[1],
            }
            if parent:
                _git(git_dir, "read-tree", parent, env=env)
            else:
                _git(git_dir, "read-tree", "--empty", env=env)
            lines = b"".join(f"{mode} {sha}\t{path}\x00".encode() for path, (mode, sha) in changes.items())
            if lines:
                _git(git_dir, "update-index", "-z", "--index-info", stdin=lines, env=env)
            tree = _git(git_dir, "write-tree", env=env).decode().strip()
            args = ["commit-tree", tree, *(["-p", parent] if parent else [])]
            commit = _git(git_dir, *args, stdin=message.encode(), env=env).decode().strip()
            _git(git_dir, "update-ref", f"refs/heads/{branch}", commit, expected or ZERO_SHA)
        return commit

    # ------------------------------------------------------------------ JSON shapes
    def _user_json(self, call: _Call, login: str) -> dict[str, Any]:
        return {
            "id": int(hashlib.sha1(login.encode(), usedforsecurity=False).hexdigest()[:6], 16),
            "login": login,
            "login_name": "",
            "source_id": 0,
            "full_name": "",
            "email": f"{login}@noreply.localhost",
            "avatar_url": f"{call.base}/avatars/{login}",
            "html_url": f"{call.base}/{login}",
            "language": "",
            "is_admin": False,
            "restricted": False,
            "active": True,
            "prohibit_login": False,
            "visibility": "public",
            "username": login,
        }

    def _repo_json(self, call: _Call, meta: dict[str, Any]) -> dict[str, Any]:
        owner, name = meta["owner"], meta["name"]
        host = call.base.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
        git_dir = self.repo_dir(owner, name)
        return {
            "id": meta["id"],
            "owner": self._user_json(call, owner),
            "name": name,
            "full_name": f"{owner}/{name}",
            "description": meta["description"],
            "empty": self._is_empty(git_dir),
            "private": meta["private"],
            "fork": False,
            "template": False,
            "parent": None,
            "mirror": False,
            "size": 0,
            "language": "",
            "html_url": f"{call.base}/{owner}/{name}",
            "url": call.api_url(f"/repos/{owner}/{name}"),
            "link": "",
            "ssh_url": f"git@{host}:{owner}/{name}.git",
            "clone_url": f"{call.base}/{owner}/{name}.git",
            "original_url": "",
            "website": "",
            "stars_count": 0,
            "forks_count": 0,
            "watchers_count": 1,
            "open_issues_count": 0,
            "open_pr_counter": 0,
            "release_counter": 0,
            "default_branch": meta["default_branch"],
            "archived": meta["archived"],
            "created_at": meta["created_at"],
            "updated_at": meta["updated_at"],
            "archived_at": meta.get("archived_at") or "1970-01-01T00:00:00Z",
            "permissions": {"admin": True, "push": True, "pull": True},
            "has_issues": True,
            "has_wiki": True,
            "has_pull_requests": True,
            "has_projects": True,
            "has_releases": True,
            "has_packages": True,
            "has_actions": False,
            "default_merge_style": "merge",
            "avatar_url": "",
            "internal": False,
            "mirror_interval": "",
            "object_format_name": "sha1",
            "topics": [],
            "licenses": [],
        }

    @staticmethod
    def _commit_ref(call: _Call, owner: str, name: str, sha: str, created: str) -> dict[str, str]:
        return {"url": call.api_url(f"/repos/{owner}/{name}/git/commits/{sha}"), "sha": sha, "created": created}

    # ------------------------------------------------------------------ repository endpoints
    def _meta(self, call: _Call) -> dict[str, Any]:
        meta = self._load(call.params["owner"], call.params["repo"])
        if meta is None:
            raise _not_found()
        return meta

    def version(self, call: _Call) -> Response:
        return JSONResponse({"version": GITEA_VERSION})

    def current_user(self, call: _Call) -> Response:
        return JSONResponse(self._user_json(call, call.user))

    def create_org_repo(self, call: _Call) -> Response:
        org = self._org(call.params["org"])
        if org is None:
            raise _not_found()
        body = call.body if isinstance(call.body, dict) else {}
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise GiteaHttpError(422, "[Name]: Required")
        if not _NAME.fullmatch(name):
            raise GiteaHttpError(422, "[Name]: AlphaDashDot")
        if name.lower() in _RESERVED_NAMES:
            raise GiteaHttpError(422, f"name is reserved [name: {name}]")
        if name.lower().endswith((".git", ".wiki")):
            raise GiteaHttpError(422, f"name pattern is not allowed [pattern: *{name[name.rfind('.') :]}]")
        default_branch = str(body.get("default_branch") or "main")
        description = str(body.get("description") or "")
        with self._repo_lock(org, name):
            git_dir = self.repo_dir(org, name)
            if git_dir.exists():
                raise GiteaHttpError(409, "The repository with the same name already exists.")
            git_dir.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["git", "init", "-q", "--bare", f"--initial-branch={default_branch}", str(git_dir)],
                check=True,
                capture_output=True,
            )
            now = _now()
            meta = {
                "id": self._next_id("repo"),
                "owner": org,
                "name": name,
                "description": description,
                "private": bool(body.get("private", False)),
                "default_branch": default_branch,
                "archived": False,
                "created_at": now,
                "updated_at": now,
                "keys": [],
            }
            self._save(meta)
            if body.get("auto_init"):
                readme = f"# {name}\n\n{description}\n".encode()
                doer = (call.user, f"{call.user}@noreply.localhost")
                index = {"README.md": ("100644", _write_blob(git_dir, readme))}
                self._write_commit(git_dir, None, index, default_branch, "Initial commit", doer, doer, expected=None)
        return JSONResponse(self._repo_json(call, meta), status_code=201)

    def get_repo(self, call: _Call) -> Response:
        return JSONResponse(self._repo_json(call, self._meta(call)))

    def edit_repo(self, call: _Call) -> Response:
        meta = self._meta(call)
        body = call.body if isinstance(call.body, dict) else {}
        with self._repo_lock(meta["owner"], meta["name"]):
            for key in ("description", "private", "default_branch"):
                if key in body and body[key] is not None:
                    meta[key] = body[key]
            if "archived" in body and body["archived"] is not None:
                meta["archived"] = bool(body["archived"])
                meta["archived_at"] = _now() if meta["archived"] else None
            meta["updated_at"] = _now()
            self._save(meta)
        return JSONResponse(self._repo_json(call, meta))

    def delete_repo(self, call: _Call) -> Response:
        meta = self._meta(call)
        with self._repo_lock(meta["owner"], meta["name"]):
            shutil.rmtree(self.repo_dir(meta["owner"], meta["name"]))
        return Response(status_code=204)

    def get_branch(self, call: _Call) -> Response:
        meta = self._meta(call)
        owner, name, branch = meta["owner"], meta["name"], call.params["branch"]
        head = self._head(self.repo_dir(owner, name), branch)
        if head is None:
            raise GiteaHttpError(404, "Branch doesn't exist.")
        return JSONResponse(self._branch_json(call, meta, branch, head))

    def create_branch(self, call: _Call) -> Response:
        """``POST /repos/{owner}/{repo}/branches`` (CreateBranchRepoOption): ``new_branch_name`` at the head of
        ``old_ref_name`` (or the deprecated ``old_branch_name``; default: the default branch)."""
        meta = self._meta(call)
        owner, name = meta["owner"], meta["name"]
        if meta["archived"]:
            raise GiteaHttpError(423, f"{owner}/{name} is archived")
        body = call.body if isinstance(call.body, dict) else {}
        new = str(body.get("new_branch_name") or "")
        if not new:
            raise GiteaHttpError(422, "[NewBranchName]: Required")
        old = str(body.get("old_ref_name") or body.get("old_branch_name") or meta["default_branch"])
        old = old.removeprefix("refs/heads/")
        git_dir = self.repo_dir(owner, name)
        with self._repo_lock(owner, name):
            head = self._head(git_dir, old)
            if head is None:
                raise GiteaHttpError(404, "The old branch does not exist")
            if self._head(git_dir, new) is not None:
                raise GiteaHttpError(409, "The branch already exists.")
            _git(git_dir, "update-ref", f"refs/heads/{new}", head, ZERO_SHA)
        return JSONResponse(self._branch_json(call, meta, new, head), status_code=201)

    def _branch_json(self, call: _Call, meta: dict[str, Any], branch: str, head: str) -> dict[str, Any]:
        owner, name = meta["owner"], meta["name"]
        info = _commit_info(self.repo_dir(owner, name), head)
        return {
            "name": branch,
            "commit": {
                "id": info.sha,
                "message": info.message,
                "url": f"{call.base}/{owner}/{name}/commit/{info.sha}",
                "author": {"name": info.author_name, "email": info.author_email, "username": ""},
                "committer": {"name": info.committer_name, "email": info.committer_email, "username": ""},
                "verification": _unsigned(),
                "timestamp": info.committer_date,
                "added": None,
                "removed": None,
                "modified": None,
            },
            "protected": False,
            "required_approvals": 0,
            "enable_status_check": False,
            "status_check_contexts": [],
            "user_can_push": True,
            "user_can_merge": True,
            "effective_branch_protection_name": "",
        }

    def get_tree(self, call: _Call) -> Response:
        meta = self._meta(call)
        owner, name, ref = meta["owner"], meta["name"], call.params["sha"]
        git_dir = self.repo_dir(owner, name)
        resolved = None
        if not ref.startswith("-"):
            for kind in ("commit", "tree"):
                try:
                    resolved = _git(git_dir, "rev-parse", "--verify", "-q", f"{ref}^{{{kind}}}").decode().strip()
                    break
                except GitError:
                    continue
        if not resolved:
            raise GiteaHttpError(400, f"sha not found [{ref}]")
        recursive = call.query.get("recursive", "").lower() in ("1", "true", "t")
        entries = _ls_tree(git_dir, resolved, recursive=recursive)
        per_page = _int(call.query.get("per_page"))
        if per_page <= 0 or per_page > TREES_PER_PAGE:
            per_page = TREES_PER_PAGE
        page = max(_int(call.query.get("page")), 1)
        start = per_page * (page - 1)
        payload: dict[str, Any] = {
            "sha": resolved,
            "url": call.api_url(f"/repos/{owner}/{name}/git/trees/{resolved}"),
            "tree": None,
            "truncated": False,
            "page": page,
            "total_count": len(entries),
        }
        if start < len(entries):
            end = min(start + per_page, len(entries))
            payload["truncated"] = end < len(entries)
            payload["tree"] = [
                {
                    "path": entry.path,
                    "mode": entry.mode,
                    "type": entry.type,
                    "size": entry.size,
                    "sha": entry.sha,
                    "url": call.api_url(
                        f"/repos/{owner}/{name}/git/{'trees' if entry.type == 'tree' else 'blobs'}/{entry.sha}"
                    )
                    if entry.type != "commit"
                    else "",
                }
                for entry in entries[start:end]
            ]
        return JSONResponse(payload, headers={"X-Total-Count": str(len(entries))})

    # ------------------------------------------------------------------ ChangeFiles
    def change_files(self, call: _Call) -> Response:
        meta = self._meta(call)
        owner, name = meta["owner"], meta["name"]
        if meta["archived"]:
            raise GiteaHttpError(423, f"{owner}/{name} is archived")
        body = call.body if isinstance(call.body, dict) else {}
        files = body.get("files")
        if not isinstance(files, list) or not files:
            raise GiteaHttpError(422, "[Files]: Required")
        operations: list[tuple[str, str, bytes | None, str]] = []
        for item in files:
            if not isinstance(item, dict):
                raise GiteaHttpError(422, "[Files]: invalid")
            operation = item.get("operation")
            if operation not in ("create", "update", "delete"):
                raise GiteaHttpError(
                    422,
                    f"invalid file operation: {operation} {item.get('path')}, "
                    "supported operations are create, update, delete",
                )
            raw_path = item.get("path")
            path = _clean_tree_path(raw_path if isinstance(raw_path, str) else "")
            if not path:
                raise GiteaHttpError(422, f"path contains a malformed path component [path: {raw_path}]")
            content: bytes | None = None
            if operation != "delete":
                try:
                    content = base64.b64decode(str(item.get("content") or ""), validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise GiteaHttpError(422, f"illegal base64 data: {exc}") from exc
            operations.append((operation, path, content, str(item.get("sha") or "")))
        branch = str(body.get("branch") or meta["default_branch"])
        # Gitea: new_branch is created from branch's head and receives the commit.
        new_branch = str(body.get("new_branch") or "")
        target = new_branch if new_branch and new_branch != branch else branch
        message = str(body.get("message") or "").strip() or _default_message(operations)
        doer = (call.user, f"{call.user}@noreply.localhost")
        author = _identity(body.get("author"))
        committer = _identity(body.get("committer"))
        # Gitea: one of the two given sets both; neither: the token's user.
        author, committer = author or committer or doer, committer or author or doer

        git_dir = self.repo_dir(owner, name)
        with self._repo_lock(owner, name):
            head = self._head(git_dir, branch)
            creating = target != branch
            if creating and self._head(git_dir, target) is not None:
                raise GiteaHttpError(422, f"branch already exists [name: {target}]")
            if head is None:
                if creating or not self._is_empty(git_dir):
                    raise GiteaHttpError(404, f"branch does not exist [name: {branch}]")
                if any(op == "delete" for op, *_ in operations):
                    raise GiteaHttpError(404, f"branch does not exist [name: {branch}]")
            current = {e.path: e for e in _ls_tree(git_dir, head)} if head else {}
            for operation, path, _content, sha in operations:
                _check_against_head(current, operation, path, sha)
            index: dict[str, tuple[str, str]] = {}
            present = {path for path, entry in current.items() if entry.type != "tree"}
            written: dict[str, tuple[str, bytes]] = {}
            for operation, path, content, _sha in operations:
                if operation == "delete":
                    present.discard(path)
                    index[path] = ("0", ZERO_SHA)
                    written.pop(path, None)
                    continue
                if operation == "create" and path in present:
                    raise GiteaHttpError(422, f"repository file already exists [path: {path}]")
                data = content or b""
                old = current.get(path)
                mode = "100755" if old is not None and old.mode == "100755" else "100644"
                blob = _write_blob(git_dir, data)
                index[path] = (mode, blob)
                written[path] = (blob, data)
                present.add(path)
            commit = self._write_commit(
                git_dir, head, index, target, message, author, committer, expected=None if creating else head
            )
            if head is None:
                _git(git_dir, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
                meta["default_branch"] = branch
            meta["updated_at"] = _now()
            self._save(meta)
        info = _commit_info(git_dir, commit)
        return JSONResponse(self._files_response(call, meta, target, info, operations, written), status_code=201)

    def _files_response(
        self,
        call: _Call,
        meta: dict[str, Any],
        branch: str,
        info: CommitInfo,
        operations: list[tuple[str, str, bytes | None, str]],
        written: dict[str, tuple[str, bytes]],
    ) -> dict[str, Any]:
        owner, name = meta["owner"], meta["name"]
        files: list[dict[str, Any] | None] = []
        for _operation, path, _content, _sha in operations:
            if path not in written:
                files.append(None)
                continue
            blob, data = written[path]
            self_url = call.api_url(f"/repos/{owner}/{name}/contents/{path}?ref={branch}")
            git_url = call.api_url(f"/repos/{owner}/{name}/git/blobs/{blob}")
            html_url = f"{call.base}/{owner}/{name}/src/branch/{branch}/{path}"
            files.append(
                {
                    "name": posixpath.basename(path),
                    "path": path,
                    "sha": blob,
                    "last_commit_sha": info.sha,
                    "type": "file",
                    "size": len(data),
                    "encoding": "base64",
                    "content": base64.b64encode(data).decode("ascii"),
                    "target": None,
                    "url": self_url,
                    "html_url": html_url,
                    "git_url": git_url,
                    "download_url": f"{call.base}/{owner}/{name}/raw/branch/{branch}/{path}",
                    "submodule_git_url": None,
                    "_links": {"self": self_url, "git": git_url, "html": html_url},
                }
            )
        return {
            "files": files,
            "commit": {
                **self._commit_ref(call, owner, name, info.sha, info.committer_date),
                "html_url": f"{call.base}/{owner}/{name}/commit/{info.sha}",
                "author": {"name": info.author_name, "email": info.author_email, "date": info.author_date},
                "committer": {"name": info.committer_name, "email": info.committer_email, "date": info.committer_date},
                "parents": [self._commit_ref(call, owner, name, p, info.committer_date) for p in info.parents],
                "message": info.message,
                "tree": {
                    "url": call.api_url(f"/repos/{owner}/{name}/git/trees/{info.tree}"),
                    "sha": info.tree,
                    "created": info.committer_date,
                },
            },
            "verification": _unsigned(),
        }

    # ------------------------------------------------------------------ deploy keys
    def _key_json(self, call: _Call, meta: dict[str, Any], key: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": key["id"],
            "key_id": key["key_id"],
            "key": key["key"],
            "url": call.api_url(f"/repos/{meta['owner']}/{meta['name']}/keys/{key['id']}"),
            "title": key["title"],
            "fingerprint": key["fingerprint"],
            "created_at": key["created_at"],
            "read_only": key["read_only"],
        }

    def list_keys(self, call: _Call) -> Response:
        meta = self._meta(call)
        keys = [self._key_json(call, meta, key) for key in meta["keys"]]
        fingerprint = call.query.get("fingerprint")
        if fingerprint:
            keys = [key for key in keys if key["fingerprint"] == fingerprint]
        return JSONResponse(keys, headers={"X-Total-Count": str(len(keys))})

    def add_key(self, call: _Call) -> Response:
        meta = self._meta(call)
        body = call.body if isinstance(call.body, dict) else {}
        title, key = body.get("title"), body.get("key")
        if not isinstance(title, str) or not title or not isinstance(key, str) or not key:
            raise GiteaHttpError(422, "[Title]: Required" if not title else "[Key]: Required")
        material, fingerprint = _parse_public_key(key)
        with self._repo_lock(meta["owner"], meta["name"]):
            meta = self._meta(call)
            for existing in meta["keys"]:
                if existing["fingerprint"] == fingerprint:
                    raise GiteaHttpError(422, "This key has already been added to this repository")
                if existing["title"] == title:
                    raise GiteaHttpError(422, "A key with the same name already exists")
            record = {
                "id": self._next_id("deploy_key"),
                "key_id": self._next_id("public_key"),
                "key": material,
                "title": title,
                "fingerprint": fingerprint,
                "created_at": _now(),
                "read_only": bool(body.get("read_only", False)),
            }
            meta["keys"].append(record)
            self._save(meta)
        return JSONResponse(self._key_json(call, meta, record), status_code=201)

    def delete_key(self, call: _Call) -> Response:
        meta = self._meta(call)
        with self._repo_lock(meta["owner"], meta["name"]):
            meta = self._meta(call)
            kept = [key for key in meta["keys"] if str(key["id"]) != call.params["id"]]
            if len(kept) == len(meta["keys"]):
                raise _not_found()
            meta["keys"] = kept
            self._save(meta)
        return Response(status_code=204)

    # ------------------------------------------------------------------ git smart HTTP
    def _git_http(self, call: _Call, method: str, rest: str, headers: Mapping[str, str], raw: bytes) -> Response:
        owner, repo = call.params["owner"], call.params["repo"]
        name = repo[: -len(".git")] if repo.lower().endswith(".git") else repo
        meta = self._load(owner, name)
        if meta is None:
            return Response("Not found.\n", status_code=404, media_type="text/plain")
        service = call.query.get("service", "") if rest == "info/refs" else rest
        if service == "git-receive-pack":
            return Response("Pushing is not supported by the emulator.\n", status_code=403, media_type="text/plain")
        if service != "git-upload-pack":
            return Response("Not found.\n", status_code=404, media_type="text/plain")
        if meta["private"] and not call.user:
            return Response(
                "Unauthorized\n",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": 'Basic realm="Gitea"'},
            )
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(self.repos_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "PATH_INFO": f"/{meta['owner'].lower()}/{meta['name'].lower()}.git/{rest}",
            "REQUEST_METHOD": method,
            "QUERY_STRING": "&".join(f"{k}={v}" for k, v in call.query.items()),
            "CONTENT_TYPE": headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(raw)),
            "REMOTE_USER": call.user,
            "REMOTE_ADDR": "127.0.0.1",
        }
        if headers.get("content-encoding"):
            env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]
        if headers.get("git-protocol"):
            env["GIT_PROTOCOL"] = headers["git-protocol"]
        env.pop("GIT_DIR", None)
        done = subprocess.run(["git", "http-backend"], input=raw, capture_output=True, env=env, check=False)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = done.stdout.partition(b"\n\n")
        status = 200 if done.returncode == 0 else 500
        response_headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            key, _sep, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                response_headers[key.strip()] = value.strip()
        return Response(payload, status_code=status, headers=response_headers)

    # ------------------------------------------------------------------ ASGI
    def _authenticate(self, request: Request) -> str:
        """The user a request authenticates as, "" for none; raises 401 for a token that is not known."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        token = ""
        if scheme.lower() in ("token", "bearer"):
            token = value.strip()
        elif scheme.lower() == "basic":
            try:
                name, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise GiteaHttpError(401, "invalid basic authentication") from None
            token = password if password in self.tokens else name
        else:
            token = request.query_params.get("token") or request.query_params.get("access_token") or ""
        if not token and not header:
            return ""
        known = self.tokens.get(token)
        if known is None:
            raise GiteaHttpError(401, "invalid username, password or token")
        return known

    def _endpoint(
        self, handler: Callable[[_Call], Response], *, anonymous: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            base = str(request.scope.get(BASE_KEY) or request.base_url).rstrip("/")
            try:
                user = self._authenticate(request)
                if not user and not anonymous:
                    raise GiteaHttpError(401, "token is required")
                raw = await request.body()
                body: Any = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError as exc:
                        raise GiteaHttpError(422, f"[]: {exc}") from exc
                call = _Call(
                    user, base, {k: str(v) for k, v in request.path_params.items()}, request.query_params, body
                )
                return await run_in_threadpool(handler, call)
            except GiteaHttpError as error:
                return _error(base, error.status, error.message)

        return endpoint

    def _git_endpoint(self, rest: str | None) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            base = str(request.scope.get(BASE_KEY) or request.base_url).rstrip("/")
            try:
                user = self._authenticate(request)
            except GiteaHttpError:
                return Response(
                    "Unauthorized\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"WWW-Authenticate": 'Basic realm="Gitea"'},
                )
            raw = await request.body()
            call = _Call(user, base, {k: str(v) for k, v in request.path_params.items()}, request.query_params, None)
            path_rest = rest or request.path_params["service"]
            headers = {key.lower(): value for key, value in request.headers.items()}
            return await run_in_threadpool(self._git_http, call, request.method, path_rest, headers, raw)

        return endpoint

    def asgi_app(self) -> ASGIApp:
        """The emulator as an ASGI app (mountable under a prefix: the URLs it answers follow ``root_path``)."""
        if self._app is not None:
            return self._app
        api = "/api/v1"
        repo = f"{api}/repos/{{owner}}/{{repo}}"
        routes = [
            Route(f"{api}/version", self._endpoint(self.version, anonymous=True), methods=["GET"]),
            Route(f"{api}/user", self._endpoint(self.current_user), methods=["GET"]),
            Route(f"{api}/orgs/{{org}}/repos", self._endpoint(self.create_org_repo), methods=["POST"]),
            Route(repo, self._endpoint(self.get_repo), methods=["GET"]),
            Route(repo, self._endpoint(self.edit_repo), methods=["PATCH"]),
            Route(repo, self._endpoint(self.delete_repo), methods=["DELETE"]),
            Route(f"{repo}/branches", self._endpoint(self.create_branch), methods=["POST"]),
            Route(f"{repo}/branches/{{branch:path}}", self._endpoint(self.get_branch), methods=["GET"]),
            Route(f"{repo}/git/trees/{{sha}}", self._endpoint(self.get_tree), methods=["GET"]),
            Route(f"{repo}/contents", self._endpoint(self.change_files), methods=["POST"]),
            Route(f"{repo}/keys", self._endpoint(self.list_keys), methods=["GET"]),
            Route(f"{repo}/keys", self._endpoint(self.add_key), methods=["POST"]),
            Route(f"{repo}/keys/{{id:int}}", self._endpoint(self.delete_key), methods=["DELETE"]),
            Route("/{owner}/{repo}/info/refs", self._git_endpoint("info/refs"), methods=["GET"]),
            Route("/{owner}/{repo}/{service}", self._git_endpoint(None), methods=["POST"]),
        ]
        self._app = _Instrumented(Starlette(routes=routes), self)
        return self._app


class _Instrumented:
    """Applies planned faults and records every request (method, path, status, body size)."""

    def __init__(self, app: ASGIApp, emulator: GiteaEmulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The root as the client reached it, mount prefix included: the URLs in answers start with it.
        scope = {**scope, BASE_KEY: _base_url(scope)}
        method = str(scope["method"]).upper()
        path = str(scope["path"])
        root = str(scope.get("root_path") or "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        received: list[Message] = []

        async def replay() -> Message:
            if received:
                return received.pop(0)
            return await receive()

        # Read the body first: its size (and ChangeFiles' operations) go into the record.
        body = b""
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        operations = _operations_of(path, method, body)

        fault = self.emulator.faults.take(method, path)
        if fault is not None and fault.delay_s:
            await run_in_threadpool(self.emulator.faults.hold, fault.delay_s)
        if fault is not None and fault.action is not None:
            await run_in_threadpool(fault.action)

        async def recording_send(message: Message) -> None:
            # Recorded before the answer leaves: a client that has its answer finds its request recorded.
            if message["type"] == "http.response.start":
                self.emulator.requests.append(
                    RecordedRequest(method, path, int(message["status"]), len(body), operations)
                )
            await send(message)

        async def discard(message: Message) -> None:
            return None

        if fault is not None and fault.status is not None:
            if fault.after:
                await self.app(scope, replay, discard)
            base = str(scope[BASE_KEY])
            response = (
                _error(base, fault.status, "injected fault")
                if fault.body is None
                else (
                    JSONResponse(fault.body, status_code=fault.status)
                    if not isinstance(fault.body, (str, bytes))
                    else Response(fault.body, status_code=fault.status, media_type="text/plain")
                )
            )
            await response(scope, replay, recording_send)
        else:
            await self.app(scope, replay, recording_send)


def _operations_of(path: str, method: str, body: bytes) -> tuple[tuple[str, str], ...]:
    if method != "POST" or not path.endswith("/contents") or not body:
        return ()
    try:
        files = json.loads(body).get("files") or []
        return tuple((str(f.get("operation")), str(f.get("path"))) for f in files if isinstance(f, dict))
    except (ValueError, AttributeError):
        return ()


def _base_url(scope: Scope) -> str:
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "127.0.0.1")
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


def _error(base: str, status: int, message: str) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "url": f"{base}/api/swagger"}
    if status == 404:
        body["errors"] = []
    return JSONResponse(body, status_code=status)


def _unsigned() -> dict[str, Any]:
    return {"verified": False, "reason": "gpg.error.not_signed_commit", "signature": "", "signer": None, "payload": ""}


def _int(raw: str | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


def _clean_tree_path(raw: str) -> str:
    """Gitea's CleanGitTreePath: a relative, normalised path; "" for one that cannot be a file."""
    cleaned = posixpath.normpath("/" + raw.strip()).lstrip("/")
    if cleaned in ("", ".") or cleaned.split("/")[0].lower() == ".git":
        return ""
    return cleaned


def _parents(path: str) -> Iterable[str]:
    parts = path.split("/")
    for end in range(1, len(parts)):
        yield "/".join(parts[:end])


def _check_against_head(current: Mapping[str, Entry], operation: str, path: str, sha: str) -> None:
    """Gitea's handleCheckErrors: every operation is checked against the branch head, not the new tree."""
    if operation in ("update", "delete"):
        entry = current.get(path)
        if entry is None:
            raise GiteaHttpError(404, f"object does not exist [id: , rel_path: {path}]")
        if sha and sha != entry.sha:
            raise GiteaHttpError(422, f"sha does not match [given: {sha}, expected: {entry.sha}]")
    if operation in ("create", "update"):
        for parent in _parents(path):
            entry = current.get(parent)
            if entry is None:
                break
            if entry.type != "tree":
                raise GiteaHttpError(
                    422, f"a file exists where you’re trying to create a subdirectory [path: {parent}]"
                )
        else:
            entry = current.get(path)
            if entry is not None:
                if entry.mode == "120000":
                    raise GiteaHttpError(
                        422, f"a symbolic link exists where you’re trying to create a subdirectory [path: {path}]"
                    )
                if entry.type == "tree":
                    raise GiteaHttpError(422, f"a directory exists where you’re trying to create a file [path: {path}]")
                if operation == "create":
                    raise GiteaHttpError(422, f"repository file already exists [path: {path}]")


def _default_message(operations: list[tuple[str, str, bytes | None, str]]) -> str:
    words = {"create": "Add", "update": "Update", "delete": "Delete"}
    lines = []
    for operation, word in words.items():
        paths = [path for op, path, _c, _s in operations if op == operation]
        if paths:
            lines.append(f"{word} {', '.join(paths)}")
    return "\n".join(lines)


def _identity(raw: Any) -> tuple[str, str] | None:
    if isinstance(raw, dict) and (raw.get("name") or raw.get("email")):
        return str(raw.get("name") or ""), str(raw.get("email") or "")
    return None


def _parse_public_key(key: str) -> tuple[str, str]:
    """``type base64`` of an OpenSSH public key and its SHA256 fingerprint; 422 for anything else."""
    parts = key.strip().split()
    if len(parts) < 2 or parts[0] not in _KEY_TYPES:
        raise GiteaHttpError(422, "Invalid key content: no key found")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise GiteaHttpError(422, "Invalid key content: illegal base64 data") from None
    length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if blob[4 : 4 + length].decode("latin-1") != parts[0]:
        raise GiteaHttpError(422, "Invalid key content: key type does not match its data")
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"{parts[0]} {parts[1]}", fingerprint


# ---------------------------------------------------------------------------------------------- the runner


class GiteaServer(LoopbackServer):
    """The emulator on a loopback port in a thread: ``GiteaServer(emulator).start()``, ``.url``, ``.stop()``."""

    thread_name = "gitea-emulator"

    def __init__(self, emulator: GiteaEmulator, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        super().__init__(self.emulator.asgi_app, host=host, port=port)

    def stopping(self) -> None:
        self.emulator.faults.clear()
