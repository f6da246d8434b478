"""Our Gitea client against the Gitea emulator over real HTTP, checked by cloning the repository with git."""

from __future__ import annotations

import base64
import socket
import subprocess
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import httpx
import pytest

from devstack.gitea import GiteaServer
from mm_common.deploy.errors import DeployServiceError, PermanentError, TransientError
from mm_common.deploy.gitea import FileChange, GiteaClient, Identity, blob_sha
from tests.deploy.gitea_fixtures import GITEA_ORG, GITEA_TOKEN, clone, files_of, fresh, start_gitea, unique_repo_name

ORG = GITEA_ORG
AUTHOR = Identity("Ada Lovelace", "ada@example.com")
CONTENTS = r"/contents$"

V1 = {
    "package.json": b'{"name": "shop", "private": true}\n',
    "src/main.tsx": b"console.log('v1')\n",
    "src/App.tsx": b"export const App = () => null\n",
    "public/logo.png": bytes(range(256)) * 4,
}


@pytest.fixture(scope="module")
def gitea_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GiteaServer]:
    server = start_gitea(tmp_path_factory.mktemp("gitea"))
    yield server
    server.stop()


@pytest.fixture
def gitea(gitea_server: GiteaServer) -> Iterator[GiteaServer]:
    yield fresh(gitea_server)
    gitea_server.emulator.faults.clear()


@pytest.fixture
def gitea_client(gitea: GiteaServer) -> Iterator[GiteaClient]:
    with GiteaClient(gitea.url, GITEA_TOKEN, timeout=10) as client:
        yield client


@pytest.fixture
def repo_name() -> str:
    return unique_repo_name()


def change_requests(server: GiteaServer) -> list[tuple[int, tuple[tuple[str, str], ...]]]:
    return [
        (r.status, r.operations)
        for r in server.emulator.requests
        if r.method == "POST" and r.path.endswith("/contents")
    ]


def test_blob_sha_is_gits() -> None:
    assert blob_sha(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    done = subprocess.run(["git", "hash-object", "--stdin"], input=b"hello\n", capture_output=True, check=True)
    assert blob_sha(b"hello\n") == done.stdout.decode().strip()


def test_creating_a_repository_twice_reuses_it(gitea_client: GiteaClient, repo_name: str) -> None:
    first = gitea_client.create_org_repo(ORG, repo_name, description="Acme shop")
    assert first.created
    repo = first.repository
    assert (repo.owner, repo.name, repo.full_name) == (ORG, repo_name, f"{ORG}/{repo_name}")
    assert repo.private and not repo.empty and not repo.archived
    assert repo.default_branch == "main"
    assert repo.clone_url.endswith(f"/{ORG}/{repo_name}.git")
    assert repo.ssh_url.endswith(f":{ORG}/{repo_name}.git")
    assert gitea_client.get_branch(ORG, repo_name, "main") is not None  # auto_init: main exists

    second = gitea_client.create_org_repo(ORG, repo_name, description="Acme shop")
    assert not second.created
    assert second.repository.id == repo.id
    assert gitea_client.get_repo(ORG, repo_name) == second.repository


def test_sync_makes_one_commit_holding_exactly_the_files(
    gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str, tmp_path: Path
) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    sha = gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)

    assert sha is not None
    branch = gitea_client.get_branch(ORG, repo_name)
    assert branch is not None and branch.commit_sha == sha
    commits = gitea.emulator.commits(ORG, repo_name)
    assert [c.message.strip() for c in commits] == ["Version 1", "Initial commit"]
    assert (commits[0].author_name, commits[0].author_email) == ("Ada Lovelace", "ada@example.com")
    # One ChangeFiles call: the four files created, auto_init's README deleted.
    [(status, operations)] = change_requests(gitea)
    assert status == 201
    assert sorted(operations) == sorted([("delete", "README.md")] + [("create", path) for path in V1])
    assert files_of(clone(gitea, ORG, repo_name, tmp_path / "checkout")) == V1
    repo_dir = gitea.emulator.repo_dir(ORG, repo_name)
    subprocess.run(["git", "--git-dir", str(repo_dir), "fsck", "--strict"], check=True, capture_output=True)


def test_syncing_the_same_files_again_makes_no_commit(
    gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str
) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    first = gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)
    gitea.emulator.requests.clear()

    again = gitea_client.sync(ORG, repo_name, dict(V1), message="Version 1 again", author=AUTHOR)

    assert again.commit is None and again.commits == [] and again.head == first
    assert change_requests(gitea) == []
    assert len(gitea.emulator.commits(ORG, repo_name)) == 2


def test_a_branch_synced_from_a_base_starts_at_the_base_and_leaves_it_alone(
    gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str, tmp_path: Path
) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    main = gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)
    built = {**V1, "Dockerfile": b"FROM nginx\n"}

    deployed = gitea_client.sync(ORG, repo_name, built, message="Deploy", author=AUTHOR, branch="deploy", base="main")

    assert deployed.head is not None and len(deployed.commits) == 1
    assert files_of(clone(gitea, ORG, repo_name, tmp_path / "deploy", branch="deploy")) == built
    assert files_of(clone(gitea, ORG, repo_name, tmp_path / "main")) == V1
    main_branch = gitea_client.get_branch(ORG, repo_name, "main")
    assert main_branch is not None and main_branch.commit_sha == main
    log = subprocess.run(
        ["git", "-C", str(tmp_path / "deploy"), "log", "--format=%H %P", "-1"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert log == [deployed.head, main]  # the branch's first commit sits on main's head

    # The branch exists now: creating it again answers it as it is, and the next sync commits onto it.
    assert gitea_client.create_branch(ORG, repo_name, "deploy", from_ref="main").commit_sha == deployed.head
    again = gitea_client.sync(ORG, repo_name, built, message="Deploy", author=AUTHOR, branch="deploy", base="main")
    assert again.commits == [] and again.head == deployed.head
    with pytest.raises(PermanentError) as missing:
        gitea_client.create_branch(ORG, repo_name, "other", from_ref="no-such-branch")
    assert missing.value.status == 404


def test_an_update_a_deletion_and_an_addition_make_one_commit(
    gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str, tmp_path: Path
) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    first = gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)
    v2 = {**V1, "src/main.tsx": b"console.log('v2')\n", "src/new.ts": b"export {}\n"}
    del v2["src/App.tsx"]
    gitea.emulator.requests.clear()

    second = gitea_client.sync_tree(ORG, repo_name, v2, "Version 2", AUTHOR)

    assert second is not None and second != first
    [(status, operations)] = change_requests(gitea)
    assert status == 201
    assert sorted(operations) == [("create", "src/new.ts"), ("delete", "src/App.tsx"), ("update", "src/main.tsx")]
    commits = gitea.emulator.commits(ORG, repo_name)
    assert [c.sha for c in commits[:2]] == [second, first]
    assert commits[0].parents == (first,)
    assert files_of(clone(gitea, ORG, repo_name, tmp_path / "checkout")) == v2


def test_a_file_that_becomes_a_directory_is_committed_deletions_first(
    gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str, tmp_path: Path
) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    gitea_client.sync_tree(ORG, repo_name, {"lib": b"a file\n", "docs/a.md": b"a\n"}, "One", AUTHOR)
    wanted = {"lib/index.js": b"a directory now\n", "docs": b"and a file\n"}
    gitea.emulator.requests.clear()

    result = gitea_client.sync(ORG, repo_name, wanted, message="Two", author=AUTHOR)

    assert len(result.commits) == 2
    assert [ops for _status, ops in change_requests(gitea)] == [
        (("delete", "docs/a.md"), ("delete", "lib")),
        (("create", "docs"), ("create", "lib/index.js")),
    ]
    assert files_of(clone(gitea, ORG, repo_name, tmp_path / "checkout")) == wanted


def test_a_sha_mismatch_rereads_the_tree_and_retries_once(
    gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str, tmp_path: Path
) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)
    gitea.emulator.requests.clear()
    # Between our read of the tree and our commit, someone else changes a file we update.
    gitea.emulator.faults.run_before(
        "POST", CONTENTS, lambda: gitea.emulator.commit(ORG, repo_name, {"src/main.tsx": b"theirs\n"})
    )
    v2 = {**V1, "src/main.tsx": b"ours\n"}

    sha = gitea_client.sync_tree(ORG, repo_name, v2, "Version 2", AUTHOR)

    assert [status for status, _ops in change_requests(gitea)] == [422, 201]
    commits = gitea.emulator.commits(ORG, repo_name)
    assert commits[0].sha == sha
    assert [c.message.strip() for c in commits[:2]] == ["Version 2", "Concurrent change"]
    assert files_of(clone(gitea, ORG, repo_name, tmp_path / "checkout")) == v2


def test_a_second_mismatch_is_a_permanent_error(gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)
    gitea.emulator.requests.clear()
    numbers = count(1)
    gitea.emulator.faults.run_before(
        "POST",
        CONTENTS,
        lambda: gitea.emulator.commit(ORG, repo_name, {"src/main.tsx": b"theirs %d\n" % next(numbers)}),
        times=2,
    )

    with pytest.raises(PermanentError) as raised:
        gitea_client.sync_tree(ORG, repo_name, {**V1, "src/main.tsx": b"ours\n"}, "Version 2", AUTHOR)

    assert raised.value.status == 422 and raised.value.service == "gitea"
    assert "sha does not match" in str(raised.value)
    assert [status for status, _ops in change_requests(gitea)] == [422, 422]


def test_a_commit_whose_answer_is_lost_is_not_made_twice(
    gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str
) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    gitea.emulator.faults.fail_next("POST", CONTENTS, 502, after=True)

    with pytest.raises(TransientError):
        gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)
    retried = gitea_client.sync(ORG, repo_name, V1, message="Version 1", author=AUTHOR)

    assert retried.commits == []
    commits = gitea.emulator.commits(ORG, repo_name)
    assert [c.message.strip() for c in commits] == ["Version 1", "Initial commit"]
    assert retried.head == commits[0].sha


def test_a_large_tree_is_split_into_commits_under_the_cap(
    gitea: GiteaServer, gitea_server: GiteaServer, repo_name: str, tmp_path: Path
) -> None:
    cap = 4_000
    files = {f"assets/file-{i:02}.txt": (b"%02d" % i) * 400 for i in range(12)}  # 800 bytes, ~1.1 kB as base64
    with GiteaClient(gitea.url, GITEA_TOKEN, max_request_bytes=cap) as client:
        client.create_org_repo(ORG, repo_name)
        result = client.sync(ORG, repo_name, files, message="Big version", author=AUTHOR)
        assert client.sync(ORG, repo_name, files, message="Big version", author=AUTHOR).commits == []

    requests = [r for r in gitea.emulator.requests if r.method == "POST" and r.path.endswith("/contents")]
    assert len(requests) == len(result.commits) >= 4
    assert all(r.request_bytes <= cap for r in requests)
    assert sum(len(r.operations) for r in requests) == len(files) + 1  # and README.md's deletion
    messages = [c.message.strip() for c in gitea.emulator.commits(ORG, repo_name)]
    total = len(result.commits)
    assert messages[:total] == [f"Big version (part {n} of {total})" for n in range(total, 0, -1)]
    assert result.head == result.commits[-1]
    assert files_of(clone(gitea, ORG, repo_name, tmp_path / "checkout")) == files


def test_a_long_tree_is_read_across_pages(gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    files = {f"src/f{i}.ts": b"%d\n" % i for i in range(10)}
    gitea_client.sync_tree(ORG, repo_name, files, "Ten files", AUTHOR)
    gitea.emulator.requests.clear()

    tree = gitea_client.get_tree(ORG, repo_name, "main", page_size=3)

    assert tree.blobs() == {path: blob_sha(data) for path, data in files.items()}
    assert [e.path for e in tree.entries if e.type == "tree"] == ["src"]
    pages = [r for r in gitea.emulator.requests if "/git/trees/" in r.path]
    assert len(pages) == 4  # 11 entries, 3 a page


def test_sync_starts_an_empty_repository(
    gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str, tmp_path: Path
) -> None:
    created = httpx.post(
        f"{gitea.url}/api/v1/orgs/{ORG}/repos",
        json={"name": repo_name, "private": True, "auto_init": False},
        headers={"Authorization": f"token {GITEA_TOKEN}"},
    )
    assert created.status_code == 201 and created.json()["empty"] is True
    assert gitea_client.get_branch(ORG, repo_name) is None

    sha = gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)

    branch = gitea_client.get_branch(ORG, repo_name)
    assert branch is not None and branch.commit_sha == sha
    assert files_of(clone(gitea, ORG, repo_name, tmp_path / "checkout")) == V1


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_throttling_are_transient(
    gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str, status: int
) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    gitea.emulator.faults.fail_next("GET", r"/branches/main$", status)

    with pytest.raises(TransientError) as raised:
        gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)

    assert raised.value.status == status and raised.value.service == "gitea"
    assert f"({status})" in str(raised.value)
    # Nothing was lost: the next attempt goes through.
    assert gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR) is not None


def test_a_timeout_is_transient(gitea: GiteaServer, repo_name: str) -> None:
    gitea.emulator.faults.delay_next("GET", rf"/repos/{ORG}/{repo_name}$", 30)
    with GiteaClient(gitea.url, GITEA_TOKEN, timeout=0.2) as client, pytest.raises(TransientError) as raised:
        client.get_repo(ORG, repo_name)
    gitea.emulator.faults.clear()  # let the held request go

    assert raised.value.status is None
    assert "timed out" in str(raised.value)


def test_an_unreachable_server_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        GiteaClient(f"http://127.0.0.1:{port}", GITEA_TOKEN, timeout=2) as client,
        pytest.raises(TransientError) as raised,
    ):
        client.get_repo(ORG, "anything")
    assert "could not connect" in str(raised.value)


def test_client_errors_are_permanent(gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str) -> None:
    with pytest.raises(PermanentError) as missing:
        gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)
    assert missing.value.status == 404

    with pytest.raises(PermanentError) as invalid:
        gitea_client.create_org_repo(ORG, "not a valid name!")
    assert invalid.value.status == 422

    with pytest.raises(PermanentError) as no_org:
        gitea_client.create_org_repo("no-such-org", repo_name)
    assert no_org.value.status == 404

    gitea_client.create_org_repo(ORG, repo_name)
    gitea.emulator.requests.clear()
    for path in ("../escape.txt", "/abs.txt", "a//b.txt", "sub/.git/config", "./a.txt"):
        with pytest.raises(PermanentError, match="cannot store the path"):
            gitea_client.sync_tree(ORG, repo_name, {path: b"x", "ok.txt": b"y"}, "Version", AUTHOR)
    with pytest.raises(PermanentError, match="both a file and a directory"):
        gitea_client.sync_tree(ORG, repo_name, {"lib": b"x", "lib/a.js": b"y"}, "Version", AUTHOR)
    assert gitea.emulator.requests == []  # refused before asking anything

    with pytest.raises(PermanentError) as exists:
        gitea_client.change_files(
            ORG, repo_name, [FileChange("create", "README.md", content=b"again")], message="m", author=AUTHOR
        )
    assert exists.value.status == 422
    assert "already exists" in str(exists.value)


def test_the_token_never_appears_in_an_error(gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str) -> None:
    errors: list[DeployServiceError] = []
    gitea.emulator.faults.fail_next("GET", r"/repos/", 401, body={"message": f"bad token {GITEA_TOKEN}"})
    gitea.emulator.faults.fail_next("GET", r"/repos/", 500, body=f"proxy echoed Authorization: token {GITEA_TOKEN}")
    for _ in range(2):
        with pytest.raises(DeployServiceError) as raised:
            gitea_client.get_repo(ORG, repo_name)
        errors.append(raised.value)
    wrong = "wrong-token-0a9f8e7d6c"
    with GiteaClient(gitea.url, wrong) as client, pytest.raises(PermanentError) as refused:
        client.create_org_repo(ORG, repo_name)
    errors.append(refused.value)

    assert [type(e) for e in errors] == [PermanentError, TransientError, PermanentError]
    assert [e.status for e in errors] == [401, 500, 401]
    for error in errors:
        shown = f"{error} {error!r} {error.detail} {error.args}"
        assert GITEA_TOKEN not in shown and wrong not in shown
    assert "***" in str(errors[0])


def test_a_private_repository_needs_the_token_to_clone(
    gitea: GiteaServer, gitea_client: GiteaClient, repo_name: str, tmp_path: Path
) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    with pytest.raises(subprocess.CalledProcessError):
        clone(gitea, ORG, repo_name, tmp_path / "anonymous", token=None)
    assert files_of(clone(gitea, ORG, repo_name, tmp_path / "checkout")) == {
        "README.md": f"# {repo_name}\n\n\n".encode()
    }


def test_a_deploy_key_is_added_read_only_once(gitea_client: GiteaClient, repo_name: str) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    # A syntactically valid ed25519 public key (type string, then 32 key bytes).
    blob = len(b"ssh-ed25519").to_bytes(4, "big") + b"ssh-ed25519" + (32).to_bytes(4, "big") + bytes(range(32))
    key = f"ssh-ed25519 {base64.b64encode(blob).decode()} easypanel@shop"

    first = gitea_client.add_deploy_key(ORG, repo_name, "easypanel shop", key)
    again = gitea_client.add_deploy_key(ORG, repo_name, "easypanel shop (again)", key)

    assert first.read_only and first.fingerprint.startswith("SHA256:")
    assert again == first
    assert gitea_client.list_deploy_keys(ORG, repo_name) == [first]
    with pytest.raises(PermanentError) as invalid:
        gitea_client.add_deploy_key(ORG, repo_name, "broken", "ssh-ed25519 not-base64!")
    assert invalid.value.status == 422


def test_archiving_stops_commits_and_deleting_is_idempotent(gitea_client: GiteaClient, repo_name: str) -> None:
    gitea_client.create_org_repo(ORG, repo_name)
    archived = gitea_client.archive_repo(ORG, repo_name)
    assert archived.archived

    with pytest.raises(PermanentError) as locked:
        gitea_client.sync_tree(ORG, repo_name, V1, "Version 1", AUTHOR)
    assert locked.value.status == 423

    assert gitea_client.delete_repo(ORG, repo_name) is True
    assert gitea_client.delete_repo(ORG, repo_name) is False
    assert gitea_client.get_repo(ORG, repo_name) is None
