"""Helpers for tests that talk to Gitea: the emulator (devstack/gitea.py) on a real port, cloning with git.

Plain functions, not fixtures (imported fixtures trip ruff's F811): a test module, or a conftest, wraps them
in fixtures as tests/deploy/test_gitea_client.py does.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from devstack.gitea import GiteaEmulator, GiteaServer

GITEA_TOKEN = "gitea-test-token-7b1e0c94d2"
GITEA_USER = "mm-bot"
GITEA_ORG = "moreminimore"


def start_gitea(data_dir: Path) -> GiteaServer:
    """The emulator with the test token and organisation, started on a free loopback port."""
    emulator = GiteaEmulator(data_dir, tokens={GITEA_TOKEN: GITEA_USER}, orgs={GITEA_ORG})
    return GiteaServer(emulator).start()


def fresh(server: GiteaServer) -> GiteaServer:
    """``server`` with no planned faults and an empty request log."""
    server.emulator.faults.clear()
    server.emulator.requests.clear()
    return server


def unique_repo_name() -> str:
    return f"acme--shop-{uuid.uuid4().hex[:10]}"


def clone(
    server: GiteaServer,
    owner: str,
    name: str,
    into: Path,
    *,
    token: str | None = GITEA_TOKEN,
    branch: str | None = None,
) -> Path:
    """``git clone`` over HTTP from the emulator's clone URL (Basic auth with the token, as Gitea wants); the
    default branch unless ``branch``."""
    auth = f"{GITEA_USER}:{token}@" if token else ""
    url = f"http://{auth}{server.url.removeprefix('http://')}/{owner}/{name}.git"
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(into.parent),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    branch_args = ["--branch", branch] if branch else []
    command = ["git", "clone", "-q", *branch_args, url, str(into)]
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=60)
    return into


def files_of(checkout: Path) -> dict[str, bytes]:
    """path → content of every file in a checkout, .git left out."""
    return {
        path.relative_to(checkout).as_posix(): path.read_bytes()
        for path in sorted(checkout.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(checkout).parts
    }
