"""The Easypanel client against the emulator over real HTTP: provisioning that looks up before it
creates, inputs that pass the published schema (and a misplaced field that does not), env, deploys
followed to their end, error classification, the password login and secrets kept out of errors."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from devstack.easypanel import BuildContext, BuildOutput, EasypanelServer, load_procedures
from mm_common.deploy.easypanel import (
    EasypanelClient,
    database_identifier,
    derive_name,
    format_env,
    is_valid_name,
    unique_name,
    with_suffix,
)
from mm_common.deploy.errors import PermanentError, TransientError
from tests.deploy.easypanel_fixtures import (
    EASYPANEL_PASSWORD,
    EASYPANEL_TOKEN,
    STATIC_SITE,
    commit_files,
    password_client,
    repo_url,
    start_easypanel,
    token_client,
)

PROJECT = "acme"
APP = "kunthawat-shop"
DB = "kunthawat-shop-db"
HOST = "kunthawat-shop.apps.localhost"


@pytest.fixture
def panel() -> Iterator[EasypanelServer]:
    server = start_easypanel()
    yield server
    server.stop()


@pytest.fixture
def client(panel: EasypanelServer) -> Iterator[EasypanelClient]:
    with token_client(panel) as easypanel:
        yield easypanel


@pytest.fixture
def site_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    commit_files(repo, STATIC_SITE, "First version")
    return repo


def _configure_app(client: EasypanelClient, repo: Path) -> None:
    client.ensure_project(PROJECT)
    client.ensure_app(PROJECT, APP)
    client.update_source_git(PROJECT, APP, repo=repo_url(repo), ref="main")
    client.update_build_dockerfile(PROJECT, APP)
    client.ensure_domain(PROJECT, APP, host=HOST, port=80)


# ----------------------------------------------------------------------------- provisioning
def test_projects_and_services_are_looked_up_before_they_are_created(
    panel: EasypanelServer, client: EasypanelClient
) -> None:
    for _ in range(2):  # a step run twice (a retry, a crash) creates nothing twice
        project = client.ensure_project(PROJECT)
        database = client.ensure_database("postgres", PROJECT, DB, database_name="app", user="app")
        app = client.ensure_app(PROJECT, APP)
        domain = client.ensure_domain(PROJECT, APP, host=HOST, port=3000)

    assert project.name == PROJECT
    assert (app.project_name, app.name) == (PROJECT, APP)
    assert (domain.host, domain.port, domain.https) == (HOST, 3000, True)
    emulator = panel.emulator
    assert len(emulator.calls_to("projects.createProject")) == 1
    assert len(emulator.calls_to("services.postgres.createService")) == 1
    assert len(emulator.calls_to("services.app.createService")) == 1
    assert len(emulator.calls_to("domains.createDomain")) == 1
    overview = client.list_projects_and_services()
    assert sorted((s.name, s.type) for s in overview.services) == [(APP, "app"), (DB, "postgres")]
    # The credentials are the ones the panel holds, read back the second time too.
    assert (database.database_name, database.user) == ("app", "app")
    assert database.password == emulator.services[(PROJECT, DB)].config["password"]
    assert database.connection_url() == f"postgres://app:{database.password}@{PROJECT}_{DB}:5432/app"
    assert database.password not in repr(database)


def test_mariadb_gets_a_root_password_and_a_mysql_url(client: EasypanelClient) -> None:
    client.ensure_project(PROJECT)
    database = client.ensure_database("mariadb", PROJECT, DB, database_name="app", user="app")

    assert database.type == "mariadb"
    assert database.root_password and database.root_password != database.password
    assert database.connection_url().startswith(f"mysql://app:{database.password}@{PROJECT}_{DB}:3306/app")


def test_a_service_name_taken_by_another_type_is_refused(client: EasypanelClient) -> None:
    client.ensure_project(PROJECT)
    client.ensure_app(PROJECT, APP)

    with pytest.raises(PermanentError, match="exists as 'app'"):
        client.ensure_database("postgres", PROJECT, APP)


def test_a_domain_whose_port_changed_is_updated_in_place(panel: EasypanelServer, client: EasypanelClient) -> None:
    client.ensure_project(PROJECT)
    client.ensure_app(PROJECT, APP)
    first = client.ensure_domain(PROJECT, APP, host=HOST, port=80)

    second = client.ensure_domain(PROJECT, APP, host=HOST, port=3000)

    assert second.id == first.id
    assert [(d.host, d.port) for d in client.list_domains(PROJECT, APP)] == [(HOST, 3000)]
    assert len(panel.emulator.calls_to("domains.updateDomain")) == 1


# ----------------------------------------------------------------------------- the schema
def test_a_domain_port_at_the_wrong_level_is_a_bad_request(panel: EasypanelServer, client: EasypanelClient) -> None:
    client.ensure_project(PROJECT)
    client.ensure_app(PROJECT, APP)
    # The spec's shape for createService.domains[] sent to domains.createDomain: the port at the top,
    # no serviceDestination. zod strips the port, then misses the destination.
    misplaced = {"host": HOST, "https": True, "port": 3000, "projectName": PROJECT, "serviceName": APP}

    with pytest.raises(PermanentError) as refused:
        client.mutate("domains.createDomain", misplaced)

    assert refused.value.status == 400
    assert "BAD_REQUEST" in refused.value.message
    assert "serviceDestination: Required" in refused.value.detail
    assert ("domains.createDomain", "port") in panel.emulator.stripped_keys()
    assert client.list_domains(PROJECT, APP) == []


def test_a_misplaced_field_is_stripped_silently_as_zod_does(panel: EasypanelServer, client: EasypanelClient) -> None:
    client.ensure_project(PROJECT)
    # createService.domains[] wants the port at the top; inside serviceDestination it is dropped and
    # the domain gets the default port 80 (the spec's sample, a 502 for an app on 3000).
    client.mutate(
        "services.app.createService",
        {
            "projectName": PROJECT,
            "serviceName": APP,
            "domains": [{"host": HOST, "serviceDestination": {"port": 3000}}],
        },
    )

    assert [d.port for d in client.list_domains(PROJECT, APP)] == [80]
    assert ("services.app.createService", "domains.0.serviceDestination") in panel.emulator.stripped_keys()


def test_invalid_names_are_refused_by_the_schema_and_before_sending(
    panel: EasypanelServer, client: EasypanelClient
) -> None:
    with pytest.raises(PermanentError, match="BAD_REQUEST") as refused:
        client.mutate("projects.createProject", {"name": "Kunthawat-More"})
    assert "name: Invalid" in refused.value.detail

    calls = len(panel.emulator.calls)
    with pytest.raises(PermanentError, match="not valid"):
        client.ensure_project("Kunthawat-More")
    with pytest.raises(PermanentError, match="database name"):
        client.create_database("postgres", PROJECT, DB, database_name="kunthawat-more-db")
    assert len(panel.emulator.calls) == calls


def test_everything_the_client_sends_passes_the_published_schema(
    panel: EasypanelServer, client: EasypanelClient, site_repo: Path
) -> None:
    _configure_app(client, site_repo)
    client.ensure_database("postgres", PROJECT, DB, database_name="app", user="app")
    client.update_env(PROJECT, APP, {"NODE_ENV": "production"})
    client.generate_deploy_key(PROJECT, APP)
    action = client.deploy(PROJECT, APP)
    assert action is not None
    client.get_action(action.id)
    client.stop_app(PROJECT, APP)
    client.start_app(PROJECT, APP)

    emulator = panel.emulator
    assert emulator.stripped_keys() == []
    assert all(call.error is None for call in emulator.calls)
    # And, independently of the emulator's own parser, each input validates with jsonschema against
    # Easypanel's document (domains.* excepted: the document does not export their input).
    procedures = load_procedures()
    checked = 0
    for call in emulator.calls:
        document_schema = procedures[call.procedure].root
        if not document_schema or call.procedure.startswith("domains."):
            continue
        jsonschema.validate({"json": call.input}, document_schema)
        checked += 1
    assert checked >= 10


# ----------------------------------------------------------------------------- env
def test_update_env_replaces_the_whole_environment(panel: EasypanelServer, client: EasypanelClient) -> None:
    client.ensure_project(PROJECT)
    client.ensure_app(PROJECT, APP)
    first = {"DATABASE_URL": "postgres://app:pw-1@acme_db:5432/app", "NODE_ENV": "production", "EMPTY": ""}

    client.update_env(PROJECT, APP, first)
    assert client.inspect_app(PROJECT, APP).env_vars == first
    assert panel.emulator.service_env(PROJECT, APP) == format_env(first)

    client.update_env(PROJECT, APP, {"NODE_ENV": "production"})
    assert client.inspect_app(PROJECT, APP).env_vars == {"NODE_ENV": "production"}


def test_env_that_cannot_be_one_line_per_variable_is_refused_before_sending(client: EasypanelClient) -> None:
    with pytest.raises(PermanentError, match="line break"):
        client.update_env(PROJECT, APP, {"KEY": "one\ntwo"})
    with pytest.raises(PermanentError, match="name"):
        client.update_env(PROJECT, APP, {"NOT-A-NAME": "x"})


# ----------------------------------------------------------------------------- deploys
def test_a_deploy_clones_builds_and_serves_the_commit(
    panel: EasypanelServer, client: EasypanelClient, site_repo: Path
) -> None:
    _configure_app(client, site_repo)
    head = commit_files(site_repo, {"index.html": "<div>Second version</div>"}, "Second version")

    started = client.deploy(PROJECT, APP)

    assert started is not None and started.status == "running" and started.type == "deploy"
    finished = client.get_action(started.id)
    assert finished.status == "done" and finished.succeeded
    assert finished.log is not None and f"Checked out {head[:12]}" in finished.log
    assert panel.emulator.deployed_commit(PROJECT, APP) == head
    page = httpx.get(panel.emulator.app_url(HOST) + "some/client/route")
    assert page.status_code == 200 and "Second version" in page.text
    assert httpx.get(panel.emulator.app_url(HOST) + "assets/app.js").text == "console.log('shop')"
    by_host = httpx.get(f"{panel.url}/", headers={"Host": f"{HOST}:443"})  # where DNS sends the app's host here
    assert by_host.status_code == 200 and "Second version" in by_host.text
    # The newest action is the one listed first.
    assert client.latest_action(PROJECT, APP) == dataclasses.replace(finished, log=None)


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_the_default_builder_runs_the_npm_build_with_the_env_and_serves_its_output(
    panel: EasypanelServer, client: EasypanelClient, tmp_path: Path
) -> None:
    repo = tmp_path / "built-app"
    build_script = (
        "const fs = require('fs');\n"
        "fs.mkdirSync('dist', {recursive: true});\n"
        "fs.writeFileSync('dist/index.html', `<h1>${process.env.APP_TITLE}</h1>`);\n"
    )
    package = {"name": "built-app", "version": "1.0.0", "private": True, "scripts": {"build": "node build.js"}}
    commit_files(repo, {"package.json": json.dumps(package), "build.js": build_script, "Dockerfile": "FROM node:20\n"})
    _configure_app(client, repo)
    client.update_env(PROJECT, APP, {"NODE_ENV": "production", "APP_TITLE": "Built by npm"})

    action = client.deploy(PROJECT, APP)
    assert action is not None
    done = client.get_action(action.id)

    assert done.status == "done", done.log
    assert done.log is not None and "npm run build" in done.log and "serving dist/" in done.log
    assert httpx.get(panel.emulator.app_url(HOST)).text == "<h1>Built by npm</h1>"


def test_a_new_deploy_is_found_after_the_ones_listed_before(client: EasypanelClient, site_repo: Path) -> None:
    _configure_app(client, site_repo)
    first = client.deploy(PROJECT, APP)
    assert first is not None

    second = client.deploy(PROJECT, APP)

    assert second is not None and second.id != first.id
    assert client.latest_action(PROJECT, APP, exclude={first.id}) == client.latest_action(PROJECT, APP)


def test_a_failing_build_ends_in_error_with_its_log(
    panel: EasypanelServer, client: EasypanelClient, site_repo: Path
) -> None:
    _configure_app(client, site_repo)
    panel.emulator.faults.fail_next_build("npm ERR! Missing script: build")

    action = client.deploy(PROJECT, APP)
    assert action is not None
    failed = client.get_action(action.id)

    assert failed.status == "error" and failed.failed and failed.finished
    assert failed.log is not None and "npm ERR! Missing script: build" in failed.log
    assert httpx.get(panel.emulator.app_url(HOST)).status_code == 502  # nothing was ever live


def test_a_plugged_in_builder_runs_on_the_checkout(
    panel: EasypanelServer, client: EasypanelClient, site_repo: Path
) -> None:
    seen: list[BuildContext] = []

    def builder(context: BuildContext) -> BuildOutput:
        seen.append(context)
        context.log("vite v5 building for production...")
        context.log("error during build: Could not resolve './App'")
        return BuildOutput(ok=False, message="vite build failed")

    panel.emulator.builder = builder
    _configure_app(client, site_repo)
    client.update_env(PROJECT, APP, {"NODE_ENV": "production", "VITE_API": "https://api.example.com"})
    panel.emulator.build_mode = "manual"

    action = client.deploy(PROJECT, APP)
    assert action is not None and client.get_action(action.id).status == "running"  # manual: nothing moves
    panel.emulator.run_pending_builds()
    failed = client.get_action(action.id)

    assert failed.status == "error"
    assert failed.log is not None and "Could not resolve './App'" in failed.log and "vite build failed" in failed.log
    assert (seen[0].source_dir / "index.html").is_file()
    assert seen[0].env["VITE_API"] == "https://api.example.com"
    assert seen[0].build == {"type": "dockerfile", "file": "Dockerfile"}


def test_a_missing_dockerfile_fails_the_build_as_docker_would(client: EasypanelClient, tmp_path: Path) -> None:
    repo = tmp_path / "no-dockerfile"
    commit_files(repo, {"index.html": "<p>hi</p>"})
    _configure_app(client, repo)

    action = client.deploy(PROJECT, APP)
    assert action is not None
    failed = client.get_action(action.id)

    assert failed.status == "error"
    assert failed.log is not None and "failed to read dockerfile" in failed.log


def test_an_unreachable_repository_fails_the_deploy(client: EasypanelClient, tmp_path: Path) -> None:
    _configure_app(client, tmp_path / "missing")

    action = client.deploy(PROJECT, APP)
    assert action is not None
    failed = client.get_action(action.id)

    assert failed.status == "error" and failed.log is not None and "Could not clone" in failed.log


def test_stop_start_and_destroy(panel: EasypanelServer, client: EasypanelClient, site_repo: Path) -> None:
    _configure_app(client, site_repo)
    action = client.deploy(PROJECT, APP)
    assert action is not None and client.get_action(action.id).succeeded
    url = panel.emulator.app_url(HOST)

    client.stop_app(PROJECT, APP)
    assert httpx.get(url).status_code == 502
    assert client.inspect_app(PROJECT, APP).enabled is False
    client.start_app(PROJECT, APP)
    assert httpx.get(url).status_code == 200

    client.destroy_app(PROJECT, APP)
    assert client.find_service(PROJECT, APP) is None
    assert httpx.get(url).status_code == 404


def test_database_disable_enable_and_destroy(client: EasypanelClient) -> None:
    client.ensure_project(PROJECT)
    client.ensure_database("postgres", PROJECT, DB)

    client.disable_database("postgres", PROJECT, DB)
    assert client.inspect_database("postgres", PROJECT, DB).enabled is False
    client.enable_database("postgres", PROJECT, DB)
    assert client.inspect_database("postgres", PROJECT, DB).enabled is True
    client.destroy_database("postgres", PROJECT, DB)
    assert client.find_service(PROJECT, DB) is None


def test_a_deploy_key_is_generated_per_service(client: EasypanelClient) -> None:
    client.ensure_project(PROJECT)
    client.ensure_app(PROJECT, APP)

    key = client.generate_deploy_key(PROJECT, APP)

    assert key.startswith("ssh-ed25519 ")
    assert client.public_key(PROJECT, APP) == key


# ----------------------------------------------------------------------------- error classes
def test_a_generic_internal_error_on_a_read_is_transient(panel: EasypanelServer, client: EasypanelClient) -> None:
    panel.emulator.faults.fail_next("projects.listProjects", "INTERNAL_SERVER_ERROR")

    with pytest.raises(TransientError) as failed:
        client.list_projects()

    assert failed.value.status == 500 and failed.value.service == "easypanel"
    assert client.list_projects() == []  # the next try answers


def test_proxy_errors_and_rate_limits_are_transient(panel: EasypanelServer, client: EasypanelClient) -> None:
    faults = panel.emulator.faults
    faults.fail_next("projects.listProjects", status=502, body="<html><h1>502 Bad Gateway</h1></html>")
    faults.fail_next("projects.listProjects", "TOO_MANY_REQUESTS")
    faults.fail_next("projects.createProject", status=503, body="Service Unavailable")
    faults.fail_next("projects.createProject", "INTERNAL_SERVER_ERROR", message="Docker daemon is not responding")

    for expected in (502, 429):
        with pytest.raises(TransientError) as failed:
            client.list_projects()
        assert failed.value.status == expected
    for expected in (503, 500):  # a generic failure of a write, not a refusal: worth a retry
        with pytest.raises(TransientError) as failed:
            client.create_project(PROJECT)
        assert failed.value.status == expected


def test_a_timeout_is_transient_and_a_retry_finds_what_was_made(panel: EasypanelServer) -> None:
    panel.emulator.faults.timeout_next("projects.createProject", applied=True)

    with token_client(panel, timeout_s=0.5) as impatient:
        with pytest.raises(TransientError, match="timed out") as failed:
            impatient.ensure_project(PROJECT)
        assert failed.value.status is None

        assert impatient.ensure_project(PROJECT).name == PROJECT  # the retry looks it up
    assert list(panel.emulator.projects) == [PROJECT]
    assert len(panel.emulator.calls_to("projects.createProject")) == 1


def test_a_connection_refused_is_transient(panel: EasypanelServer) -> None:
    url = panel.url
    panel.stop()

    with EasypanelClient(url, token=EASYPANEL_TOKEN, timeout_s=2) as orphan, pytest.raises(TransientError):
        orphan.list_projects()


def test_refusals_are_permanent(panel: EasypanelServer, client: EasypanelClient) -> None:
    client.ensure_project(PROJECT)
    client.ensure_app(PROJECT, APP)
    faults = panel.emulator.faults
    faults.fail_next("services.app.deployService", "NOT_FOUND")
    faults.fail_next("services.app.deployService", "FORBIDDEN")

    for status in (404, 403):
        with pytest.raises(PermanentError) as refused:
            client.deploy_service(PROJECT, APP)
        assert refused.value.status == status
    # Easypanel's business refusals come as its generic error: on a write, they are final.
    with pytest.raises(PermanentError, match="already exists"):
        client.create_app(PROJECT, APP)
    with pytest.raises(PermanentError, match="METHOD_NOT_SUPPORTED"):
        client.mutate("projects.listProjects")


def test_a_refused_token_is_permanent(panel: EasypanelServer) -> None:
    with token_client(panel, token="ep-revoked-token-0000") as revoked, pytest.raises(PermanentError) as refused:
        revoked.list_projects()

    assert refused.value.status == 401 and "UNAUTHORIZED" in refused.value.message
    assert "ep-revoked-token-0000" not in str(refused.value) + refused.value.detail


# ----------------------------------------------------------------------------- password login
def test_the_password_login_logs_in_again_once_when_the_session_ends(panel: EasypanelServer) -> None:
    with password_client(panel) as easypanel:
        easypanel.ensure_project(PROJECT)
        panel.emulator.expire_sessions()

        assert [p.name for p in easypanel.list_projects()] == [PROJECT]

    logins = panel.emulator.calls_to("auth.login")
    assert [call.error for call in logins] == [None, None]
    assert [call.error for call in panel.emulator.calls_to("projects.listProjects")] == [None, "UNAUTHORIZED", None]


def test_a_session_refused_right_after_logging_in_is_not_retried_forever(panel: EasypanelServer) -> None:
    panel.emulator.faults.fail_next("projects.listProjects", "UNAUTHORIZED", times=2)

    with password_client(panel) as easypanel, pytest.raises(PermanentError, match="UNAUTHORIZED"):
        easypanel.list_projects()

    assert len(panel.emulator.calls_to("auth.login")) == 2


def test_a_wrong_password_is_permanent_and_never_shown(
    panel: EasypanelServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-password-value-8c2d"
    caplog.set_level(logging.DEBUG)

    with password_client(panel, password=wrong) as easypanel, pytest.raises(PermanentError) as refused:
        easypanel.list_projects()

    assert refused.value.status == 401
    shown = str(refused.value) + refused.value.detail + caplog.text
    assert wrong not in shown and EASYPANEL_PASSWORD not in shown


# ----------------------------------------------------------------------------- secrets
def test_no_secret_reaches_an_error_or_the_log(
    panel: EasypanelServer, client: EasypanelClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.ensure_project(PROJECT)
    client.ensure_app(PROJECT, APP)
    database_password = "db-password-5e1f0a9b"
    repo_token = "gitea-token-77aa01"
    env = {"DATABASE_URL": f"postgres://app:{database_password}@acme_db:5432/app", "STRIPE_KEY": "sk_live_abcdef12"}
    # A panel that echoes what it was given (a zod issue quoting a value, a stack trace).
    faults = panel.emulator.faults
    faults.fail_next("services.app.updateEnv", "BAD_REQUEST", message=f"cannot parse {format_env(env)}")
    faults.fail_next(
        "services.app.updateSourceGit",
        "INTERNAL_SERVER_ERROR",
        message=f"fatal: could not read from https://mm-bot:{repo_token}@gitea.example.com/acme/shop.git",
    )
    faults.fail_next("projects.listProjects", status=500, body=f"<pre>Authorization: Bearer {EASYPANEL_TOKEN}</pre>")

    errors = []
    for call in (
        lambda: client.update_env(PROJECT, APP, env),
        lambda: client.update_source_git(
            PROJECT, APP, repo=f"https://mm-bot:{repo_token}@gitea.example.com/acme/shop.git"
        ),
        client.list_projects,
    ):
        with pytest.raises((PermanentError, TransientError)) as failed:
            call()
        errors.append(failed.value)

    shown = " ".join(f"{e} {e.detail}" for e in errors) + caplog.text
    for secret in (database_password, "sk_live_abcdef12", repo_token, EASYPANEL_TOKEN):
        assert secret not in shown
    assert "***" in shown


# ----------------------------------------------------------------------------- wire format
def test_the_wire_format_is_non_batched_trpc_with_superjson(panel: EasypanelServer, client: EasypanelClient) -> None:
    client.ensure_project(PROJECT)
    headers = {"Authorization": f"Bearer {EASYPANEL_TOKEN}"}
    query = json.dumps({"json": {"projectName": PROJECT}})

    answer = httpx.get(f"{panel.url}/api/trpc/projects.inspectProject", params={"input": query}, headers=headers)

    assert answer.status_code == 200
    body = answer.json()
    assert body["result"]["data"]["json"]["project"]["name"] == PROJECT
    assert body["result"]["data"]["meta"] == {"values": {"project.createdAt": ["Date"]}}
    wrong_method = httpx.post(f"{panel.url}/api/trpc/projects.inspectProject", json={"json": {}}, headers=headers)
    assert wrong_method.status_code == 405
    unknown = httpx.get(f"{panel.url}/api/trpc/services.app.updateDeployz", headers=headers)
    error = unknown.json()["error"]["json"]
    assert unknown.status_code == 404
    assert error["code"] == -32004
    assert error["data"] == {"code": "NOT_FOUND", "httpStatus": 404, "path": "services.app.updateDeployz"}
    bad = httpx.post(f"{panel.url}/api/trpc/projects.createProject", json={"json": {}}, headers=headers).json()
    assert bad["error"]["json"]["data"]["zodError"] == {"formErrors": [], "fieldErrors": {"name": ["Required"]}}
    assert json.loads(bad["error"]["json"]["message"])[0]["path"] == ["name"]


# ----------------------------------------------------------------------------- names
def test_names_are_derived_lower_case_and_valid() -> None:
    assert derive_name("Kunthawat", "My Shop!") == "kunthawat-my-shop"
    assert derive_name("ÉCOLE", "Café") == "ecole-cafe"
    assert derive_name("") == "app"
    long = derive_name("a" * 80)
    assert len(long) == 30 and is_valid_name(long)
    assert with_suffix(long, "-db") == "a" * 27 + "-db"
    taken = {"shop", "shop-2"}
    assert unique_name("shop", taken.__contains__) == "shop-3"
    assert not is_valid_name("Kunthawat-More") and not is_valid_name("shop\n") and is_valid_name("shop_db-1")
    assert database_identifier("kunthawat-more-db") == "kunthawat_more_db"
    assert database_identifier("42 shop") == "app_42_shop"
