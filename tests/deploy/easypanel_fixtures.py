"""Helpers for tests that talk to Easypanel: the emulator (devstack/easypanel.py) on a real port, clients
of it, and a local git repository to deploy from.

Plain functions, not fixtures (imported fixtures trip ruff's F811): a test module, or a conftest, wraps them
in fixtures as tests/deploy/test_easypanel_client.py does.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from devstack.easypanel import EasypanelEmulator, EasypanelServer
from mm_common.deploy.easypanel import EasypanelClient

EASYPANEL_TOKEN = "ep-test-token-3f9a1c77e0b2"
EASYPANEL_EMAIL = "deploy-bot@moreminimore.test"
EASYPANEL_PASSWORD = "correct-horse-battery-staple-41"

# What a version of a static app looks like once Prepare has given it a Dockerfile.
STATIC_SITE = {
    "index.html": "<!doctype html><title>Shop</title><div id=root>Hello from the shop</div>",
    "assets/app.js": "console.log('shop')",
    "Dockerfile": "FROM nginx:alpine\nCOPY . /usr/share/nginx/html\n",
}


def start_easypanel(**options: Any) -> EasypanelServer:
    """The emulator with the test token and the test user (for the e-mail + password login), on a free
    loopback port; ``options`` go to :class:`EasypanelEmulator` (build_mode, builder, …)."""
    emulator = EasypanelEmulator(token=EASYPANEL_TOKEN, users={EASYPANEL_EMAIL: EASYPANEL_PASSWORD}, **options)
    return EasypanelServer(emulator).start()


def token_client(server: EasypanelServer, *, timeout_s: float = 10.0, token: str = EASYPANEL_TOKEN) -> EasypanelClient:
    return EasypanelClient(server.url, token=token, timeout_s=timeout_s)


def password_client(
    server: EasypanelServer, *, password: str = EASYPANEL_PASSWORD, timeout_s: float = 10.0
) -> EasypanelClient:
    return EasypanelClient(server.url, email=EASYPANEL_EMAIL, password=password, timeout_s=timeout_s)


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo.parent),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def commit_files(repo: Path, files: dict[str, str], message: str = "A version") -> str:
    """Write ``files`` into the repository (created with a ``main`` branch if needed) and commit; the sha."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        _git(repo, "init", "-q", "-b", "main")
    for path, content in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def repo_url(repo: Path) -> str:
    return repo.resolve().as_uri()
