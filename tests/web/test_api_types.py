"""The web app's API types are generated from the committed OpenAPI (`make openapi`)."""

from __future__ import annotations

import subprocess

from devstack.template import REPO_ROOT

FRONTEND = REPO_ROOT / "frontend"
OPENAPI = REPO_ROOT / "functions" / "system" / "system_fn" / "openapi.json"


def test_the_typed_client_matches_the_committed_openapi() -> None:
    generated = subprocess.run(
        [
            str(FRONTEND / "node_modules" / ".bin" / "openapi-typescript"),
            str(OPENAPI),
            "--default-non-nullable",
            "false",
        ],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    committed = (FRONTEND / "src" / "api" / "schema.d.ts").read_text()
    assert generated == committed, "frontend/src/api/schema.d.ts is stale: run `make openapi`"
