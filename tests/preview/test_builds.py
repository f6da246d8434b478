"""Real builds of the React template: npm install (once per session, from the registry), vite build, tsc.

Marked slow like the other tests that run real subprocesses for long (`make check` leaves them out, `make test`
runs them): the first build needs the npm registry and ~10 s, each later one a few seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mm_common.preview import (
    BuildResult,
    BuildStatus,
    DependencySource,
    Limits,
    LocalDirectoryCache,
    NodeToolchain,
    build_version,
)
from mm_common.preview.builder import ERROR_REPORTER_SCRIPT
from mm_common.preview.process import child_environment, run_process
from mm_common.project_templates import DEFAULT_TEMPLATE_ID, get_template

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Builds:
    """One npm cache, one archive store and one warm workdir shared by the session's builds."""

    node: NodeToolchain
    npm_cache: Path
    archives: LocalDirectoryCache
    workdir: Path

    def build(
        self, files: dict[str, bytes], workdir: Path | None = None, on_dist_ready: Callable[[Path], None] | None = None
    ) -> BuildResult:
        return build_version(
            files,
            workdir=workdir or self.workdir,
            cache=self.archives,
            limits=Limits(),
            node=self.node,
            npm_cache_dir=self.npm_cache,
            on_dist_ready=on_dist_ready,
        )


def _template() -> dict[str, bytes]:
    template = get_template(DEFAULT_TEMPLATE_ID)
    assert template is not None
    return dict(template.files)


@pytest.fixture(scope="session")
def builds(node: NodeToolchain, tmp_path_factory: pytest.TempPathFactory) -> Builds:
    root = tmp_path_factory.mktemp("preview")
    return Builds(node, root / "npm-cache", LocalDirectoryCache(root / "archives"), root / "work")


@pytest.fixture(scope="session")
def first(builds: Builds) -> BuildResult:
    """The template built cold (npm install from the registry) before any other build of the session."""
    return builds.build(_template())


def _edit(files: dict[str, bytes], path: str, old: str, new: str) -> dict[str, bytes]:
    text = files[path].decode()
    assert old in text
    return {**files, path: text.replace(old, new).encode()}


def test_the_template_builds_ready_with_the_error_reporter(first: BuildResult, builds: Builds) -> None:
    result = first

    assert result.status is BuildStatus.READY, result.log
    assert result.dependency_source is DependencySource.INSTALLED
    assert result.problems == ()
    assert result.dist_dir is not None
    html = (result.dist_dir / "index.html").read_text()
    assert 'data-mm-preview="error-reporter"' in html
    assert 'source: "mm-preview"' in html and "window.parent.postMessage" in html
    assert html.index("error-reporter") < html.index('type="module"')  # it runs before the app
    [script] = re.findall(r'<script type="module" crossorigin src="(/assets/[^"]+\.js)"', html)
    assert "Welcome to your new app" in (result.dist_dir / script.lstrip("/")).read_text()
    assert (result.dist_dir / "favicon.svg").is_file()
    assert builds.archives.get(result.dependency_key or "") is not None  # stored for the next worker
    assert set(result.timings) >= {"files", "dependencies", "build", "typecheck", "total"}


def test_same_dependencies_reuse_the_warm_tree_then_the_archive(
    first: BuildResult, builds: Builds, tmp_path: Path
) -> None:
    warm = builds.build(_template())
    restored = builds.build(_template(), workdir=tmp_path / "fresh-worker")

    assert (warm.status, warm.dependency_source) == (BuildStatus.READY, DependencySource.WARM), warm.log
    assert (restored.status, restored.dependency_source) == (BuildStatus.READY, DependencySource.ARCHIVE)
    assert warm.dependency_key == restored.dependency_key == first.dependency_key
    assert restored.dist_dir is not None and (restored.dist_dir / "index.html").is_file()


def test_a_type_error_is_a_problem_not_a_failure(first: BuildResult, builds: Builds) -> None:
    files = _edit(_template(), "src/App.tsx", "useState(0)", "useState<string>(0)")
    published: list[str] = []

    result = builds.build(files, on_dist_ready=lambda dist: published.append((dist / "index.html").read_text()))

    assert result.status is BuildStatus.READY, result.log
    assert result.dist_dir is not None
    # The site was handed over before the problems were known, with the reporter already in it.
    [html] = published
    assert "error-reporter" in html
    located = [(p.file, p.line, p.code) for p in result.problems]
    assert ("src/App.tsx", 4, "TS2345") in located
    assert "TS2345" in result.log


def test_a_syntax_error_fails_the_build_with_its_log(first: BuildResult, builds: Builds) -> None:
    files = _edit(_template(), "src/App.tsx", "export default function App() {", "export default function App(( {")
    published: list[Path] = []

    result = builds.build(files, on_dist_ready=published.append)

    assert result.status is BuildStatus.FAILED
    assert published == []
    assert result.dist_dir is None
    assert "vite build" in result.log and "App.tsx" in result.log
    assert "MM_PREVIEW_ERROR" not in result.log  # our parser's marker line stays out of what users read
    assert any(p.file == "src/App.tsx" and p.line == 3 for p in result.problems), result.problems


def test_the_projects_own_build_config_is_never_loaded(first: BuildResult, builds: Builds, tmp_path: Path) -> None:
    marker = tmp_path / "project-config-ran"
    writes_marker = f'import {{ writeFileSync }} from "node:fs";\nwriteFileSync({str(marker)!r}, "ran");\n'
    files = {
        **_template(),
        "vite.config.ts": (writes_marker + 'throw new Error("the project vite.config was executed");\n').encode(),
        "postcss.config.js": (writes_marker + "export default {};\n").encode(),
    }

    result = builds.build(files)

    assert result.status is BuildStatus.READY, result.log
    assert not marker.exists()
    assert "was executed" not in result.log


def test_the_preview_serves_what_the_template_would_deploy(first: BuildResult, builds: Builds, tmp_path: Path) -> None:
    """Deploys run the project's own `npm run build` (tsc -b && vite build with its vite.config.ts); the preview
    builds with our fixed configuration. For the template they must give the same site, the reporter aside."""
    result = builds.build(_template())
    assert result.status is BuildStatus.READY and result.dist_dir is not None, result.log
    project = result.build_dir / "project"
    deployed = tmp_path / "deployed"
    env = child_environment(
        node_bin_dir=builds.node.bin_dir, home=tmp_path / "home", npm_cache_dir=builds.npm_cache, heap_mb=1024
    )
    (tmp_path / "home").mkdir()
    vite = project / "node_modules" / "vite" / "bin" / "vite.js"
    own = run_process(
        [str(builds.node.node), str(vite), "build", "--outDir", str(deployed), "--emptyOutDir"],
        cwd=project,
        env={**env, "NODE_ENV": "production"},
        timeout_s=120,
        max_output_bytes=1024 * 1024,
        tail_bytes=16 * 1024,
    )
    assert own.ok, own.output

    def site(root: Path) -> dict[str, bytes]:
        return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}

    previewed, deployable = site(result.dist_dir), site(deployed)
    assert sorted(previewed) == sorted(deployable)
    previewed["index.html"] = previewed["index.html"].replace(ERROR_REPORTER_SCRIPT.encode(), b"")
    assert previewed == deployable
