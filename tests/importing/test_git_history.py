"""Opening a desktop-app upload (zip with .git, or git bundle) and walking its main branch, checked
against what the git CLI says about the same real repositories."""

from __future__ import annotations

import shutil
import struct
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mm_common.importing.git_history import (
    ArchiveError,
    ArchiveLimits,
    HistoryCommit,
    ImportRepository,
    SkippedFile,
    open_repository,
)
from tests.importing.git_fixtures import (
    AUTHOR_EMAIL,
    AUTHOR_NAME,
    LARGE_FILE_BYTES,
    PNG_BYTES,
    GitRepo,
    git_files,
    git_show,
    init_repo,
    make_bundle,
    make_generated_repo,
    make_sample_app,
    zip_folder,
)

LIMITS = ArchiveLimits(max_file_bytes=1024)
BUILD_DIRS = {"dist", "build", ".next", "out", ".vite", "coverage"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    return make_sample_app(tmp_path_factory.mktemp("sample") / "my-app")


@pytest.fixture(scope="module")
def sample_history(sample: GitRepo, tmp_path_factory: pytest.TempPathFactory) -> list[HistoryCommit]:
    upload = zip_folder(sample.path, tmp_path_factory.mktemp("upload") / "app.zip", nested=True)
    with open_repository(upload, tmp_path_factory.mktemp("work"), LIMITS) as repo:
        return repo.history()


def by_message(history: list[HistoryCommit], message: str) -> HistoryCommit:
    return next(commit for commit in history if commit.message == message)


def expected_snapshot(
    repo: GitRepo, sha: str, limits: ArchiveLimits
) -> tuple[dict[str, tuple[str, int]], dict[str, tuple[str, int]], set[SkippedFile]]:
    """What the importer should see in a commit, derived from `git ls-tree` and `git show`."""
    files: dict[str, tuple[str, int]] = {}
    env_files: dict[str, tuple[str, int]] = {}
    skipped: set[SkippedFile] = set()
    for path, (mode, _kind, object_id) in git_files(repo, sha).items():
        parts = path.split("/")
        if "node_modules" in parts:
            folder = "/".join(parts[: parts.index("node_modules") + 1]) + "/"
            skipped.add(SkippedFile(folder, "dependencies"))
        elif len(parts) > 1 and parts[0] in BUILD_DIRS:
            skipped.add(SkippedFile(parts[0] + "/", "build output"))
        elif mode == 0o120000:
            skipped.add(SkippedFile(path, "symlink"))
        elif mode == 0o160000:
            skipped.add(SkippedFile(path, "submodule"))
        elif len(git_show(repo, sha, path)) > limits.max_file_bytes:
            skipped.add(SkippedFile(path, "too large"))
        elif parts[-1].startswith(".env"):
            env_files[path] = (object_id, mode)
        else:
            files[path] = (object_id, mode)
    return files, env_files, skipped


# --- history ---------------------------------------------------------------------------------


def test_history_is_the_first_parent_chain_oldest_first(sample: GitRepo, sample_history: list[HistoryCommit]) -> None:
    first_parent = sample.git("rev-list", "--first-parent", "--reverse", "main").decode().split()
    assert [commit.sha for commit in sample_history] == first_parent == sample.main_commits
    assert [commit.message for commit in sample_history] == [
        "Initial app\n\nCreated by the desktop app.",
        "Say hello",
        "Rename main.tsx",
        "Remove readme, add env",
        "Commit dependencies and build output",
        "Bump version",
        "Merge feature",
    ]
    side_branch = sample.git("rev-parse", "feature").decode().strip()
    assert side_branch not in {commit.sha for commit in sample_history}
    for commit in sample_history:
        assert (commit.author_name, commit.author_email) == (AUTHOR_NAME, AUTHOR_EMAIL)
        git_time = int(sample.git("log", "-1", "--format=%at", commit.sha))
        assert commit.authored_at == datetime.fromtimestamp(git_time, tz=UTC)
        assert commit.authored_at.tzinfo is UTC
    # Written at 10:01 +02:00.
    assert sample_history[0].authored_at == datetime(2024, 3, 2, 8, 1, tzinfo=UTC)


def test_every_commit_has_the_files_git_shows(
    sample: GitRepo, sample_history: list[HistoryCommit], tmp_path: Path
) -> None:
    upload = zip_folder(sample.path, tmp_path / "app.zip", nested=True)
    with open_repository(upload, tmp_path / "work", LIMITS) as repo:
        for commit in sample_history:
            files, env_files, skipped = expected_snapshot(sample, commit.sha, LIMITS)
            assert {path: (f.blob_id, f.mode) for path, f in commit.files.items()} == files
            assert {path: (f.blob_id, f.mode) for path, f in commit.env_files.items()} == env_files
            assert set(commit.skipped) == skipped
            for path, file in {**commit.files, **commit.env_files}.items():
                content = repo.read_blob(file.blob_id)
                assert content == git_show(sample, commit.sha, path)
                assert file.size == len(content)


def clear_worktree(repo: GitRepo) -> None:
    for child in repo.path.iterdir():
        if child.name == ".git":
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def test_folders_replaced_by_files_and_back_match_git(tmp_path: Path) -> None:
    """Each version is derived from the previous one's: swaps between files and folders, whole
    folders moving or vanishing, a return to an earlier tree and an empty commit must all still
    give exactly what git has."""
    repo = init_repo(tmp_path / "app")
    first = {
        "a.txt": "a\n",
        "docs/x.md": "x\n",
        "node_modules/p/i.js": "i\n",
        "dist/o.js": "o\n",
        "src/lib/u.ts": "u\n",
        "src/lib/deep/v.ts": "v\n",
        ".env": "A=1\n",
    }
    for path, content in first.items():
        repo.write(path, content)
    repo.commit("First")
    clear_worktree(repo)
    repo.write("a.txt/inner.txt", "inner\n")
    repo.write("docs", "now a file\n")
    repo.write("dist", "a file named dist is not build output\n")
    repo.write("lib/u.ts", "u\n")
    repo.write("lib/deep/v.ts", "v\n")
    repo.write("src/.env.production", "B=2\n")
    repo.commit("Swap files and folders")
    clear_worktree(repo)
    for path, content in first.items():
        repo.write(path, content)
    repo.commit("Back to the first tree")
    repo.commit("Nothing changed")
    upload = zip_folder(repo.path, tmp_path / "app.zip", nested=True)
    with open_repository(upload, tmp_path / "work", LIMITS) as opened:
        history = opened.history()
    assert [commit.message for commit in history] == [
        "First",
        "Swap files and folders",
        "Back to the first tree",
        "Nothing changed",
    ]
    assert history[0].files == history[2].files == history[3].files
    assert history[2].files is not history[3].files
    for commit in history:
        files, env_files, skipped = expected_snapshot(repo, commit.sha, LIMITS)
        assert {path: (f.blob_id, f.mode) for path, f in commit.files.items()} == files
        assert {path: (f.blob_id, f.mode) for path, f in commit.env_files.items()} == env_files
        assert set(commit.skipped) == skipped
    assert set(history[1].files) == {"a.txt/inner.txt", "docs", "dist", "lib/u.ts", "lib/deep/v.ts"}


def test_renames_deletes_and_merges_show_in_the_next_version(sample_history: list[HistoryCommit]) -> None:
    initial, hello, renamed, removed = sample_history[:4]
    assert "src/main.tsx" in hello.files and "src/index.tsx" not in hello.files
    assert "src/index.tsx" in renamed.files and "src/main.tsx" not in renamed.files
    assert renamed.files["src/index.tsx"].blob_id == initial.files["src/main.tsx"].blob_id
    assert "README.md" in renamed.files and "README.md" not in removed.files
    bump, merge = sample_history[-2:]
    assert "src/feature.ts" not in bump.files
    assert "src/feature.ts" in merge.files


def test_dependencies_build_output_large_files_links_and_submodules_are_skipped(
    sample_history: list[HistoryCommit],
) -> None:
    commit = by_message(sample_history, "Commit dependencies and build output")
    assert set(commit.skipped) == {
        SkippedFile("node_modules/", "dependencies"),
        SkippedFile("lib/node_modules/", "dependencies"),
        SkippedFile("dist/", "build output"),
        SkippedFile("assets/big.bin", "too large"),
        SkippedFile("link-to-app", "symlink"),
        SkippedFile("vendor/lib", "submodule"),
    }
    assert "src/dist/keep.ts" in commit.files  # only the top-level dist/ is build output
    assert not [path for path in commit.files if "node_modules" in path or path.startswith("dist/")]


def test_env_files_are_kept_apart(sample_history: list[HistoryCommit], tmp_path: Path, sample: GitRepo) -> None:
    commit = by_message(sample_history, "Remove readme, add env")
    assert set(commit.env_files) == {".env", "src/.env.local"}
    assert not [path for path in commit.files if path.rsplit("/", 1)[-1].startswith(".env")]
    upload = zip_folder(sample.path, tmp_path / "app.zip", nested=False)
    with open_repository(upload, tmp_path / "work", LIMITS) as repo:
        assert repo.read_blob(commit.env_files[".env"].blob_id) == b"API_KEY=secret\n"


def test_binary_content_and_executable_mode_survive(
    sample_history: list[HistoryCommit], tmp_path: Path, sample: GitRepo
) -> None:
    commit = by_message(sample_history, "Say hello")
    assert commit.files["scripts/deploy.sh"].mode == 0o100755
    assert commit.files["src/App.tsx"].mode == 0o100644
    upload = make_bundle(sample, tmp_path / "app.bundle")
    with open_repository(upload, tmp_path / "work", LIMITS) as repo:
        assert repo.read_blob(commit.files["public/logo.png"].blob_id) == PNG_BYTES
    assert commit.files["public/logo.png"].size == len(PNG_BYTES)


@pytest.mark.parametrize("upload_kind", ["zip at root", "zip of the folder", "bundle"])
def test_every_upload_kind_gives_the_same_history(
    upload_kind: str, sample: GitRepo, sample_history: list[HistoryCommit], tmp_path: Path
) -> None:
    if upload_kind == "bundle":
        upload = make_bundle(sample, tmp_path / "app.bundle")
    else:
        upload = zip_folder(sample.path, tmp_path / "app.zip", nested=upload_kind == "zip of the folder")
    with open_repository(upload, tmp_path / "work", LIMITS) as repo:
        assert repo.history() == sample_history


def test_files_bigger_than_the_limit_are_imported_under_a_larger_limit(sample: GitRepo, tmp_path: Path) -> None:
    upload = make_bundle(sample, tmp_path / "app.bundle")
    with open_repository(upload, tmp_path / "work", ArchiveLimits()) as repo:
        last = repo.history()[-1]
    assert last.files["assets/big.bin"].size == LARGE_FILE_BYTES
    assert "too large" not in {skipped.reason for skipped in last.skipped}


# --- which branch ------------------------------------------------------------------------------


def one_commit_repo(path: Path, branch: str) -> GitRepo:
    repo = init_repo(path, branch)
    repo.write("index.html", "<p>hi</p>\n")
    repo.main_commits.append(repo.commit("Only commit"))
    return repo


@pytest.mark.parametrize("branch", ["master", "trunk"])
def test_master_or_the_head_branch_stand_in_for_main(branch: str, tmp_path: Path) -> None:
    repo = one_commit_repo(tmp_path / "app", branch)
    for upload in (zip_folder(repo.path, tmp_path / "app.zip", nested=True), make_bundle(repo, tmp_path / "a.bundle")):
        with open_repository(upload, tmp_path / upload.suffix, LIMITS) as opened:
            assert [commit.sha for commit in opened.history()] == repo.main_commits


def test_a_repository_without_main_is_refused(tmp_path: Path) -> None:
    repo = one_commit_repo(tmp_path / "app", "trunk")
    repo.git("symbolic-ref", "HEAD", "refs/heads/gone")
    upload = zip_folder(repo.path, tmp_path / "app.zip", nested=True)
    with (
        open_repository(upload, tmp_path / "work", LIMITS) as opened,
        pytest.raises(ArchiveError, match="The repository has no main branch"),
    ):
        opened.history()


def test_too_many_commits_are_refused_with_the_count(sample: GitRepo, tmp_path: Path) -> None:
    upload = make_bundle(sample, tmp_path / "app.bundle")
    limits = ArchiveLimits(max_commits=5)
    with (
        open_repository(upload, tmp_path / "work", limits) as opened,
        pytest.raises(ArchiveError, match="The main branch has 7 commits; at most 5 can be imported"),
    ):
        opened.history()


# --- hostile or broken uploads ---------------------------------------------------------------


HEAD = ("app/.git/HEAD", b"ref: refs/heads/main\n")


def write_zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries:
            zf.writestr(name, content)
    return path


def write_file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def symlink_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


def lying_zip(path: Path) -> Path:
    """An entry whose headers declare 1 KB while its data inflates to 3 MB."""
    write_zip(
        path, [("app/.git/HEAD", b"ref: refs/heads/main\n"), ("app/.git/objects/pack/x.pack", bytes(3 * 1024 * 1024))]
    )
    data = bytearray(path.read_bytes())
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(signature, start)) != -1:
            name_length_offset = 26 if signature == b"PK\x03\x04" else 28
            (name_length,) = struct.unpack_from("<H", data, at + name_length_offset)
            header = 30 if signature == b"PK\x03\x04" else 46
            if data[at + header : at + header + name_length].endswith(b"x.pack"):
                struct.pack_into("<I", data, at + size_offset, 1024)
            start = at + 4
    path.write_bytes(bytes(data))
    return path


def forged_count_zip(path: Path, entries: int) -> Path:
    """A zip whose end-of-central-directory record claims a single entry."""
    write_zip(path, [HEAD, *[(f"app/src/{n}.ts", b"") for n in range(entries)]])
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 1, 1)
    return write_file(path, bytes(data))


def hostile_uploads(tmp_path: Path) -> dict[str, tuple[Callable[[], Path], ArchiveLimits, str]]:
    evil = tmp_path / "evil"
    return {
        "parent path": (
            lambda: write_zip(tmp_path / "u.zip", [HEAD, ("app/.git/../../evil", b"x")]),
            LIMITS,
            "The archive has an unsafe path: app/.git/../../evil",
        ),
        "leading parent": (
            lambda: write_zip(tmp_path / "u.zip", [HEAD, ("../evil", b"x")]),
            LIMITS,
            r"The archive has an unsafe path: \.\./evil",
        ),
        "absolute path": (
            lambda: write_zip(tmp_path / "u.zip", [HEAD, (str(evil), b"x")]),
            LIMITS,
            "The archive has an unsafe path: /",
        ),
        "backslash path": (
            lambda: write_zip(tmp_path / "u.zip", [HEAD, ("app\\..\\..\\evil", b"x")]),
            LIMITS,
            "The archive has an unsafe path",
        ),
        "drive letter": (
            lambda: write_zip(tmp_path / "u.zip", [HEAD, ("C:/evil", b"x")]),
            LIMITS,
            "The archive has an unsafe path: C:/evil",
        ),
        "symlink in .git": (
            lambda: write_zip(
                tmp_path / "u.zip", [HEAD, (symlink_entry("app/.git/refs/heads/main"), str(evil).encode())]
            ),
            LIMITS,
            "The archive has a symbolic link in .git",
        ),
        "compression bomb": (
            lambda: write_zip(tmp_path / "u.zip", [HEAD, ("app/.git/objects/pack/p.pack", bytes(50 * 1024 * 1024))]),
            LIMITS,
            "suspicious compression ratio",
        ),
        "too large unpacked": (
            lambda: write_zip(tmp_path / "u.zip", [HEAD, ("app/.git/objects/pack/p.pack", bytes(50 * 1024 * 1024))]),
            ArchiveLimits(max_unpacked_bytes=10_000_000, max_ratio=10_000),
            "The archive unpacks to more than 10 MB",
        ),
        "entry lying about its size": (
            lambda: lying_zip(tmp_path / "u.zip"),
            ArchiveLimits(max_ratio=10_000),
            "damaged",
        ),
        "too many entries": (
            lambda: write_zip(tmp_path / "u.zip", [HEAD, *[(f"app/src/{n}.ts", b"") for n in range(20)]]),
            ArchiveLimits(max_entries=10),
            "The archive has more than 10 entries",
        ),
        "entry count forged": (
            lambda: forged_count_zip(tmp_path / "u.zip", 20),
            ArchiveLimits(max_entries=10),
            "The archive has more than 10 entries",
        ),
        "no .git": (
            lambda: write_zip(tmp_path / "u.zip", [("app/index.html", b"<p>"), ("app/src/a.ts", b"")]),
            LIMITS,
            r"No git repository in the archive \(zip the app folder with its \.git\)",
        ),
        "two apps": (
            lambda: write_zip(tmp_path / "u.zip", [HEAD, ("other/.git/HEAD", b"ref: refs/heads/main\n")]),
            LIMITS,
            "several apps",
        ),
        "not an archive": (
            lambda: write_file(tmp_path / "notes.txt", b"just some text\n"),
            LIMITS,
            "neither a zip of the app folder nor a git bundle",
        ),
        "truncated zip": (
            lambda: write_file(tmp_path / "t.zip", b"PK\x03\x04" + bytes(100)),
            LIMITS,
            "The zip file is damaged",
        ),
        "truncated bundle": (
            lambda: write_file(tmp_path / "t.bundle", b"# v2 git bundle\n" + b"a" * 40 + b" refs/heads/main\n\nPACK"),
            LIMITS,
            "The git bundle is damaged and cannot be read",
        ),
        "incremental bundle": (
            lambda: write_file(tmp_path / "i.bundle", b"# v2 git bundle\n-" + b"a" * 40 + b" base\n\nPACK"),
            LIMITS,
            "incremental",
        ),
        "archive over the size limit": (
            lambda: write_zip(tmp_path / "u.zip", [HEAD, ("app/.git/objects/pack/p.pack", bytes(1000))]),
            ArchiveLimits(max_archive_bytes=100),
            "The archive is larger than 0.0001 MB",
        ),
    }


HOSTILE = list(hostile_uploads(Path("/unused")))


def tree_listing(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_uploads_are_refused_without_writing_outside_the_workdir(case: str, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    make_upload, limits, message = hostile_uploads(outside)[case]
    upload = make_upload()
    before = tree_listing(outside)
    workdir = tmp_path / "work"
    with pytest.raises(ArchiveError, match=message):
        open_repository(upload, workdir, limits)
    assert tree_listing(outside) == before
    assert not (outside / "evil").exists()
    assert not (tmp_path / "evil").exists()
    # A refused upload leaves no partial repository behind.
    assert not workdir.exists() or list(workdir.iterdir()) == []


def test_a_missing_blob_id_is_an_archive_error(sample: GitRepo, tmp_path: Path) -> None:
    with open_repository(make_bundle(sample, tmp_path / "a.bundle"), tmp_path / "work", LIMITS) as repo:
        with pytest.raises(ArchiveError, match="missing the file"):
            repo.read_blob("0" * 40)
        with pytest.raises(ArchiveError, match="Not a file id"):
            repo.read_blob("../../etc/passwd")
        with pytest.raises(ArchiveError, match="is not a file"):
            repo.read_blob(sample.main_commits[0])


# --- speed -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_walking_a_large_history_reuses_unchanged_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_generated_repo(tmp_path / "big", commits=200, files=500)
    upload = make_bundle(repo, tmp_path / "big.bundle")
    started = time.perf_counter()
    with open_repository(upload, tmp_path / "work", ArchiveLimits()) as opened:
        opened_at = time.perf_counter()
        history = opened.history()
    walked = time.perf_counter()
    assert [commit.sha for commit in history] == repo.main_commits
    assert all(len(commit.files) == 500 for commit in history)
    with capsys.disabled():
        print(f"\n200 commits × 500 files: open {opened_at - started:.2f}s, walk {walked - opened_at:.2f}s")


def test_import_repository_is_a_context_manager(sample: GitRepo, tmp_path: Path) -> None:
    with open_repository(make_bundle(sample, tmp_path / "a.bundle"), tmp_path / "work", LIMITS) as repo:
        assert isinstance(repo, ImportRepository)
        assert repo.branches["main"] == sample.main_commits[-1]


def test_a_zip_made_by_windows_with_backslashes_reads_the_same(
    sample_history: list[HistoryCommit], tmp_path: Path, sample: GitRepo
) -> None:
    """PowerShell 5.1's Compress-Archive writes folder\\file names (and no folder entries)."""
    made = zip_folder(sample.path, tmp_path / "app.zip", nested=True)
    windows = tmp_path / "windows.zip"
    with zipfile.ZipFile(made) as source, zipfile.ZipFile(windows, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if not info.is_dir():
                target.writestr(info.filename.replace("/", "\\"), source.read(info))
    with open_repository(windows, tmp_path / "work", LIMITS) as repo:
        assert [(c.sha, c.files) for c in repo.history()] == [(c.sha, c.files) for c in sample_history]
