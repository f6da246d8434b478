"""The local stack runs Gitea and Easypanel emulators and hands the functions their URLs and tokens
the way the template does in AWS (URL parameters, tokens in Secrets Manager by ARN)."""

from __future__ import annotations

import httpx

from devstack.stack import LocalStack
from mm_common.config import easypanel_token, get_settings, gitea_token
from mm_common.deploy.easypanel import EasypanelClient
from mm_common.deploy.gitea import GiteaClient


def test_the_functions_reach_the_gitea_emulator_with_the_configured_token(stack: LocalStack) -> None:
    assert stack.gitea is not None and stack.runtime is not None
    env = stack.function_environment
    assert env["GITEA_URL"] == stack.gitea.url
    assert env["GITEA_OWNER"] == "moreminimore"
    assert env["GITEA_TOKEN_SECRET_ARN"].startswith("arn:aws:secretsmanager:")

    def call_gitea() -> tuple[int, str]:
        settings = get_settings()
        token = gitea_token(settings)
        headers = {"Authorization": f"token {token}"}
        version = httpx.get(f"{settings.gitea_url}/api/v1/version", headers=headers)
        user = httpx.get(f"{settings.gitea_url}/api/v1/user", headers=headers)
        with GiteaClient(settings.gitea_url, token) as gitea:
            assert gitea.get_version()
        return version.status_code, str(user.json()["login"])

    assert stack.runtime.run_in_environment(call_gitea) == (200, "mm-bot")


def test_the_functions_reach_the_easypanel_emulator_with_the_configured_token(stack: LocalStack) -> None:
    assert stack.easypanel is not None and stack.runtime is not None
    env = stack.function_environment
    assert env["EASYPANEL_URL"] == stack.easypanel.url
    assert env["APPS_DOMAIN"] == "localhost"
    assert env["APP_HEALTHCHECK_URL"] == f"{stack.easypanel.url}/_apps/{{host}}/"
    # Tests drive builds step by step (no background threads).
    assert stack.easypanel.emulator.build_mode == "poll"

    def call_easypanel() -> str:
        settings = get_settings()
        with EasypanelClient(settings.easypanel_url, token=easypanel_token(settings)) as panel:
            panel.list_projects()
            return panel.panel_version()

    assert stack.runtime.run_in_environment(call_easypanel)


def test_the_local_stack_gives_deployed_apps_an_address_a_browser_opens(stack: LocalStack) -> None:
    assert stack.easypanel is not None
    port = stack.easypanel.url.rsplit(":", 1)[1]
    assert stack.function_environment["DEPLOYED_APP_URL"] == f"http://{{host}}:{port}"


def test_a_wrong_token_is_refused_so_the_check_above_means_something(stack: LocalStack) -> None:
    assert stack.gitea is not None
    response = httpx.get(f"{stack.gitea.url}/api/v1/user", headers={"Authorization": "token not-the-token"})
    assert response.status_code == 401
