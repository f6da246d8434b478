"""Our Gitea client: the few REST calls the deploy and mirror paths make, over httpx, with typed results.

`GiteaClient(base_url, token)` takes the server root (``https://git.example.com``) and adds ``/api/v1``
itself. Every failure is a `TransientError` (timeouts, connection errors, 429, 5xx: retry) or a
`PermanentError` (any other 4xx, or an answer that is not Gitea's), with the status and Gitea's own message,
never the token.

`sync_tree` mirrors a set of files onto a branch: it reads the branch's tree at its head commit, compares git
blob shas, and sends only the paths that differ through ChangeFiles (``POST /repos/{owner}/{repo}/contents``),
as one commit, or several when the base64 body would pass a size cap. Gitea checks every operation against
the branch head, so a file that becomes a directory (or the reverse) is committed in two steps: the deletions
first. A 404 or 422 from ChangeFiles (another writer moved the branch: "sha does not match", "already exists")
re-reads the tree and plans again, once.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable
from urllib.parse import quote

import httpx

from mm_common.deploy.errors import DeployServiceError, PermanentError, TransientError, is_transient_status

SERVICE = "gitea"
DEFAULT_TIMEOUT_S = 30.0
# What a ChangeFiles body may carry before the commit is split (base64 content plus per-file overhead).
DEFAULT_MAX_REQUEST_BYTES = 20 * 1024 * 1024
# Gitea's own cap (setting.API.DefaultGitTreesPerPage); larger pages are cut to it.
TREE_PAGE_SIZE = 1000
# JSON around one operation: {"operation": "update", "path": "…", "content": "…", "sha": "<40 hex>"}.
_OPERATION_OVERHEAD = 120
_MAX_TREE_PAGES = 10_000

Operation = Literal["create", "update", "delete"]


def blob_sha(data: bytes) -> str:
    """The git blob id of ``data``: sha1 over ``blob <size>\\0`` and the bytes."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Identity:
    """An author or committer as Gitea takes it."""

    name: str
    email: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "email": self.email}


@dataclass(frozen=True)
class Repository:
    id: int
    owner: str
    name: str
    full_name: str
    private: bool
    empty: bool
    archived: bool
    default_branch: str
    clone_url: str
    ssh_url: str
    html_url: str
    description: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Repository:
        owner = data.get("owner") or {}
        return cls(
            id=int(data["id"]),
            owner=str(owner.get("login") or owner.get("username") or str(data["full_name"]).split("/")[0]),
            name=str(data["name"]),
            full_name=str(data["full_name"]),
            private=bool(data.get("private")),
            empty=bool(data.get("empty")),
            archived=bool(data.get("archived")),
            default_branch=str(data.get("default_branch") or "main"),
            clone_url=str(data.get("clone_url") or ""),
            ssh_url=str(data.get("ssh_url") or ""),
            html_url=str(data.get("html_url") or ""),
            description=str(data.get("description") or ""),
        )


class EnsuredRepository(NamedTuple):
    repository: Repository
    # False: the name existed already (409); the caller checks it is the project's own.
    created: bool


@dataclass(frozen=True)
class Branch:
    name: str
    commit_sha: str


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str
    type: str  # "blob", "tree" or "commit" (a submodule)
    sha: str
    size: int


@dataclass(frozen=True)
class Tree:
    sha: str
    entries: tuple[TreeEntry, ...]

    def blobs(self) -> dict[str, str]:
        """path → blob sha of every file (symbolic links included; directories and submodules not)."""
        return {entry.path: entry.sha for entry in self.entries if entry.type == "blob"}


@dataclass(frozen=True)
class DeployKey:
    id: int
    title: str
    key: str
    read_only: bool
    fingerprint: str


@dataclass(frozen=True)
class FileChange:
    """One ChangeFiles operation: ``content`` for create and update, ``sha`` (the current blob) for update, delete."""

    operation: Operation
    path: str
    content: bytes | None = None
    sha: str | None = None

    def as_json(self) -> dict[str, str]:
        body: dict[str, str] = {"operation": self.operation, "path": self.path}
        if self.content is not None:
            body["content"] = base64.b64encode(self.content).decode("ascii")
        if self.sha is not None:
            body["sha"] = self.sha
        return body

    def request_bytes(self) -> int:
        encoded = 0 if self.content is None else 4 * ((len(self.content) + 2) // 3)
        return encoded + len(json.dumps(self.path)) + _OPERATION_OVERHEAD


@dataclass
class SyncResult:
    """What `GiteaClient.sync` did: the commits made (oldest first), the branch head after, the operations sent."""

    commits: list[str] = field(default_factory=list)
    head: str | None = None
    operations: int = 0

    @property
    def commit(self) -> str | None:
        """The last commit made, None when the branch already held the files."""
        return self.commits[-1] if self.commits else None


def _parents(path: str) -> Iterable[str]:
    parts = path.split("/")
    for end in range(1, len(parts)):
        yield "/".join(parts[:end])


def storable_path(path: str) -> bool:
    """Whether Gitea keeps ``path`` as given: relative, normalised, no empty, ``.`` or ``..`` segment, no ``.git``
    (Gitea cleans other forms, so the tree would never match them and every sync would send them again)."""
    segments = path.split("/")
    return bool(path) and all(s not in ("", ".", "..") and s.lower() != ".git" for s in segments) and "\x00" not in path


@runtime_checkable
class Prefetchable(Protocol):
    """Files read on demand (from storage) that can read many at once, faster than one by one."""

    def prefetch(self, paths: Iterable[str]) -> None: ...


def plan_changes(
    current: Mapping[str, str], files: Mapping[str, bytes], unchanged: Collection[str] = ()
) -> list[FileChange]:
    """The operations that turn a tree (path → blob sha) into exactly ``files``: deletions first, then
    creations and updates, each group in path order. A path in ``unchanged`` that the tree holds is known to
    hold its content already: it is neither read nor sent."""
    deletes = [FileChange("delete", path, sha=sha) for path, sha in sorted(current.items()) if path not in files]
    writes: list[FileChange] = []
    for path in sorted(files):
        if path in unchanged and path in current:
            continue
        data = files[path]
        existing = current.get(path)
        if existing is None:
            writes.append(FileChange("create", path, content=data))
        elif existing != blob_sha(data):
            writes.append(FileChange("update", path, content=data, sha=existing))
    return deletes + writes


def _reshapes(current: Mapping[str, str], changes: list[FileChange]) -> bool:
    """Whether a write needs a deletion committed first: Gitea checks each operation against the branch
    head, so it refuses a file under a path that is a file there, and a file where a directory is."""
    directories = {parent for path in current for parent in _parents(path)}
    for change in changes:
        if change.operation == "create" and (
            change.path in directories or any(parent in current for parent in _parents(change.path))
        ):
            return True
    return False


def split_changes(
    current: Mapping[str, str], changes: list[FileChange], max_request_bytes: int
) -> list[list[FileChange]]:
    """``changes`` cut into commits whose bodies stay under ``max_request_bytes`` (a single larger file goes
    alone), deletions in their own commit first when a write reshapes the tree."""
    groups: list[list[FileChange]]
    if _reshapes(current, changes):
        groups = [
            [c for c in changes if c.operation == "delete"],
            [c for c in changes if c.operation != "delete"],
        ]
    else:
        groups = [changes]
    batches: list[list[FileChange]] = []
    for group in groups:
        batch: list[FileChange] = []
        size = 0
        for change in group:
            cost = change.request_bytes()
            if batch and size + cost > max_request_bytes:
                batches.append(batch)
                batch, size = [], 0
            batch.append(change)
            size += cost
        if batch:
            batches.append(batch)
    return batches


def _segment(value: str) -> str:
    return quote(value, safe="")


class GiteaClient:
    """One Gitea server, one token. Use as a context manager, or call `close`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        if not token:
            raise ValueError("a Gitea token is required")
        self.root = base_url.rstrip("/")
        self.max_request_bytes = max_request_bytes
        self._token = token
        self._http = httpx.Client(
            base_url=f"{self.root}/api/v1",
            headers={"Authorization": f"token {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            trust_env=False,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GiteaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport and errors
    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _error(self, what: str, response: httpx.Response) -> DeployServiceError:
        status = response.status_code
        detail = ""
        try:
            payload = response.json()
        except ValueError:
            detail = response.text[:200]
        else:
            if isinstance(payload, dict):
                detail = str(payload.get("message") or payload.get("errors") or "")
        detail = self._redact(" ".join(detail.split()))
        message = f"Gitea {what} failed ({status})" + (f": {detail}" if detail else "")
        error_type = TransientError if is_transient_status(status) else PermanentError
        return error_type(message, service=SERVICE, status=status, detail=detail)

    def _request(
        self,
        what: str,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...] = (200,),
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.TimeoutException as exc:
            raise TransientError(f"Gitea {what} timed out", service=SERVICE) from exc
        except httpx.TransportError as exc:
            kind = "could not connect" if isinstance(exc, httpx.ConnectError) else "lost the connection"
            raise TransientError(f"Gitea {what} {kind}: {type(exc).__name__}", service=SERVICE) from exc
        if response.status_code not in expect:
            raise self._error(what, response)
        return response

    def _json(self, what: str, response: httpx.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise PermanentError(
                f"Gitea {what} answered {response.status_code} with no JSON object",
                service=SERVICE,
                status=response.status_code,
            )
        return payload

    @staticmethod
    def _repo_path(owner: str, repo: str) -> str:
        return f"/repos/{_segment(owner)}/{_segment(repo)}"

    # ------------------------------------------------------------------ repositories
    def get_version(self) -> str:
        response = self._request("version", "GET", "/version")
        return str(self._json("version", response).get("version", ""))

    def get_repo(self, owner: str, repo: str) -> Repository | None:
        """The repository, or None when it does not exist (or the token cannot see it)."""
        response = self._request("get repository", "GET", self._repo_path(owner, repo), expect=(200, 404))
        if response.status_code == 404:
            return None
        return Repository.from_json(self._json("get repository", response))

    def create_org_repo(
        self, org: str, name: str, *, description: str = "", default_branch: str = "main"
    ) -> EnsuredRepository:
        """A private repository of ``org`` with ``default_branch`` initialised (auto_init), or the one
        already holding that name (``created`` False: the caller decides whether it is its own)."""
        what = "create repository"
        body = {
            "name": name,
            "description": description,
            "private": True,
            "auto_init": True,
            "default_branch": default_branch,
        }
        response = self._request(what, "POST", f"/orgs/{_segment(org)}/repos", expect=(201, 409), body=body)
        if response.status_code == 201:
            return EnsuredRepository(Repository.from_json(self._json(what, response)), True)
        existing = self.get_repo(org, name)
        if existing is None:  # deleted between the two calls: a retry will create it
            raise TransientError(f"Gitea {what}: {org}/{name} exists but cannot be read", service=SERVICE, status=409)
        return EnsuredRepository(existing, False)

    def archive_repo(self, owner: str, repo: str) -> Repository:
        response = self._request("archive repository", "PATCH", self._repo_path(owner, repo), body={"archived": True})
        return Repository.from_json(self._json("archive repository", response))

    def delete_repo(self, owner: str, repo: str) -> bool:
        """True when deleted now, False when it did not exist."""
        response = self._request("delete repository", "DELETE", self._repo_path(owner, repo), expect=(204, 404))
        return response.status_code == 204

    # ------------------------------------------------------------------ branches and trees
    def get_branch(self, owner: str, repo: str, branch: str = "main") -> Branch | None:
        """The branch and its head commit, None when there is no such branch (or repository)."""
        path = f"{self._repo_path(owner, repo)}/branches/{_segment(branch)}"
        response = self._request("get branch", "GET", path, expect=(200, 404))
        if response.status_code == 404:
            return None
        data = self._json("get branch", response)
        commit = data.get("commit") or {}
        sha = commit.get("id") or commit.get("sha")
        if not isinstance(sha, str) or not sha:
            raise PermanentError("Gitea get branch answered without a head commit", service=SERVICE, status=200)
        return Branch(name=str(data.get("name", branch)), commit_sha=sha)

    def create_branch(self, owner: str, repo: str, branch: str, *, from_ref: str) -> Branch:
        """``branch`` at the head of ``from_ref``; an existing ``branch`` is left as it is (and answered)."""
        body = {"new_branch_name": branch, "old_ref_name": from_ref}
        path = f"{self._repo_path(owner, repo)}/branches"
        response = self._request("create branch", "POST", path, expect=(201, 409), body=body)
        found = self.get_branch(owner, repo, branch) if response.status_code == 409 else None
        if found is not None:
            return found
        data = self._json("create branch", response)
        commit = data.get("commit") or {}
        return Branch(name=branch, commit_sha=str(commit.get("id") or commit.get("sha") or ""))

    def get_tree(self, owner: str, repo: str, ref: str, *, page_size: int = TREE_PAGE_SIZE) -> Tree:
        """Every entry under ``ref`` (a commit sha, branch or tree sha), recursively, across pages.

        Gitea pages recursive trees (at most 1,000 entries a page) and reports ``total_count``; older
        versions set ``truncated`` on every page of a long tree, so the count decides when to stop."""
        what = "read tree"
        path = f"{self._repo_path(owner, repo)}/git/trees/{_segment(ref)}"
        entries: list[TreeEntry] = []
        sha = ""
        for page in range(1, _MAX_TREE_PAGES + 1):
            params: dict[str, str | int] = {"recursive": "true", "page": page, "per_page": page_size}
            data = self._json(what, self._request(what, "GET", path, params=params))
            sha = str(data.get("sha") or sha)
            chunk = data.get("tree") or []
            for item in chunk:
                entries.append(
                    TreeEntry(
                        path=str(item["path"]),
                        mode=str(item.get("mode", "")),
                        type=str(item.get("type", "")),
                        sha=str(item["sha"]),
                        size=int(item.get("size") or 0),
                    )
                )
            total = data.get("total_count")
            if not chunk:
                break
            if isinstance(total, int):
                if len(entries) >= total:
                    break
            elif not data.get("truncated"):
                break
        else:
            raise PermanentError(f"Gitea {what}: more than {_MAX_TREE_PAGES} pages", service=SERVICE)
        return Tree(sha=sha, entries=tuple(entries))

    def list_files(self, owner: str, repo: str, ref: str = "main") -> dict[str, str]:
        """path → blob sha of every file under ``ref``."""
        return self.get_tree(owner, repo, ref).blobs()

    # ------------------------------------------------------------------ commits
    def change_files(
        self,
        owner: str,
        repo: str,
        changes: list[FileChange],
        *,
        message: str,
        author: Identity,
        committer: Identity | None = None,
        branch: str = "main",
    ) -> str:
        """One commit on ``branch`` with ``changes``; its sha."""
        what = "change files"
        if not changes:
            raise ValueError("change_files needs at least one change")
        body = {**_envelope(branch, message, author, committer), "files": [change.as_json() for change in changes]}
        response = self._request(what, "POST", f"{self._repo_path(owner, repo)}/contents", expect=(201,), body=body)
        commit = self._json(what, response).get("commit") or {}
        sha = commit.get("sha")
        if not isinstance(sha, str) or not sha:
            raise PermanentError(f"Gitea {what} answered without a commit", service=SERVICE, status=201)
        return sha

    def _current_files(self, owner: str, repo: str, branch: str) -> tuple[str | None, dict[str, str]]:
        """The branch head and its files; (None, {}) for a repository with no commit yet."""
        head = self.get_branch(owner, repo, branch)
        if head is None:
            found = self.get_repo(owner, repo)
            if found is None:
                raise PermanentError(f"Gitea repository {owner}/{repo} does not exist", service=SERVICE, status=404)
            if not found.empty:
                raise PermanentError(
                    f"Gitea branch {branch} of {owner}/{repo} does not exist", service=SERVICE, status=404
                )
            return None, {}
        return head.commit_sha, self.list_files(owner, repo, head.commit_sha)

    def sync(
        self,
        owner: str,
        repo: str,
        files: Mapping[str, bytes],
        *,
        message: str,
        author: Identity,
        committer: Identity | None = None,
        branch: str = "main",
        base: str | None = None,
        unchanged: Collection[str] = (),
        unchanged_since: str | None = None,
    ) -> SyncResult:
        """Make ``branch`` hold exactly ``files`` (path → content), committing only what differs; a missing
        ``branch`` is first created at the head of ``base``.

        ``unchanged``: paths whose content is the same as in commit ``unchanged_since``; while the branch head is
        that commit, they are not read (``files`` may read lazily: a `Prefetchable` is asked for the rest at
        once). Any other head, and every file is compared."""
        refused = sorted(path for path in files if not storable_path(path))
        if refused:
            raise PermanentError(f"Gitea cannot store the path {refused[0]!r} as given", service=SERVICE)
        clashes = sorted({parent for path in files for parent in _parents(path)} & set(files))
        if clashes:
            raise PermanentError(f"{clashes[0]!r} cannot be both a file and a directory", service=SERVICE)
        result = SyncResult()
        if base is not None and base != branch and self.get_branch(owner, repo, branch) is None:
            self.create_branch(owner, repo, branch, from_ref=base)
        head, current = self._current_files(owner, repo, branch)
        retried = False
        while True:
            known = unchanged if unchanged_since is not None and head == unchanged_since else ()
            if isinstance(files, Prefetchable):
                files.prefetch(path for path in files if not (path in known and path in current))
            changes = plan_changes(current, files, known)
            if not changes:
                result.head = head
                return result
            envelope = len(json.dumps(_envelope(branch, message, author, committer))) + 40  # "(part n of m)", "files"
            batches = split_changes(current, changes, max(self.max_request_bytes - envelope, 1))
            try:
                for number, batch in enumerate(batches, start=1):
                    text = message if len(batches) == 1 else f"{message} (part {number} of {len(batches)})"
                    head = self.change_files(
                        owner, repo, batch, message=text, author=author, committer=committer, branch=branch
                    )
                    result.commits.append(head)
                    result.operations += len(batch)
                    for change in batch:
                        if change.operation == "delete":
                            current.pop(change.path, None)
                        else:
                            current[change.path] = blob_sha(change.content or b"")
            except PermanentError as error:
                # Another writer moved the branch since it was read: read it again and plan again, once.
                if retried or error.status not in (404, 422):
                    raise
                retried = True
                head, current = self._current_files(owner, repo, branch)
                continue
            result.head = head
            return result

    def sync_tree(
        self,
        owner: str,
        repo: str,
        files: Mapping[str, bytes],
        message: str,
        author: Identity,
        *,
        committer: Identity | None = None,
        branch: str = "main",
    ) -> str | None:
        """`sync`, answering the sha of the last commit made, or None when nothing differed."""
        return self.sync(owner, repo, files, message=message, author=author, committer=committer, branch=branch).commit

    # ------------------------------------------------------------------ deploy keys
    def list_deploy_keys(self, owner: str, repo: str) -> list[DeployKey]:
        what = "list deploy keys"
        response = self._request(what, "GET", f"{self._repo_path(owner, repo)}/keys", params={"limit": 50})
        payload = response.json()
        if not isinstance(payload, list):
            raise PermanentError(f"Gitea {what} answered with no list", service=SERVICE, status=response.status_code)
        return [_deploy_key(item) for item in payload if isinstance(item, dict)]

    def add_deploy_key(self, owner: str, repo: str, title: str, key: str) -> DeployKey:
        """The public ``key`` as a read-only deploy key of the repository (the existing one when added before)."""
        wanted = _key_material(key)
        for existing in self.list_deploy_keys(owner, repo):
            if _key_material(existing.key) == wanted:
                return existing
        what = "add deploy key"
        body = {"title": title, "key": key.strip(), "read_only": True}
        response = self._request(what, "POST", f"{self._repo_path(owner, repo)}/keys", expect=(201,), body=body)
        return _deploy_key(self._json(what, response))


def _envelope(branch: str, message: str, author: Identity, committer: Identity | None) -> dict[str, Any]:
    """A ChangeFiles body but its files."""
    return {
        "branch": branch,
        "message": message,
        "author": author.as_json(),
        "committer": (committer or author).as_json(),
    }


def _key_material(key: str) -> str:
    """``type base64`` of an OpenSSH public key line, without its comment."""
    return " ".join(key.split()[:2])


def _deploy_key(data: Mapping[str, Any]) -> DeployKey:
    return DeployKey(
        id=int(data["id"]),
        title=str(data.get("title", "")),
        key=str(data.get("key", "")),
        read_only=bool(data.get("read_only")),
        fingerprint=str(data.get("fingerprint", "")),
    )
