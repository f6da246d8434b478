"""infra/template.yaml is the single source of truth: lint it, validate its state machines, and
prove the template and the functions' apps agree on every route."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts

from devstack.openapi import build_openapi, http_apps
from devstack.stack import LocalStack
from devstack.template import REPO_ROOT, TEMPLATE_PATH, Template
from mm_common.api import api_routes

CFN_LINT = REPO_ROOT / ".venv-cfn" / "bin" / "cfn-lint"
ASL_VALIDATOR = REPO_ROOT / "infra" / "node_modules" / ".bin" / "asl-validator"
STATE_MACHINES = sorted((REPO_ROOT / "infra" / "statemachines").glob("*.asl.json"))


def _fastapi_path_to_gateway(path: str) -> str:
    return re.sub(r"\{(\w+):path\}", r"{\1+}", path)


def _declared_routes() -> set[tuple[str, str, str]]:
    routes = set()
    for logical_id, app in http_apps().items():
        for route in api_routes(app.routes):  # included routers' routes too
            for method in route.methods - {"HEAD"}:
                routes.add((method, _fastapi_path_to_gateway(route.path), logical_id))
    return routes


def test_every_app_route_is_routed_to_its_function_and_nothing_else_is() -> None:
    template = Template.load()
    in_template = {(r.method, r.path, r.function) for r in template.routes() if r.path != "$default"}
    declared = _declared_routes()
    assert declared - in_template == set(), "routes an app declares but the template does not route to it"
    assert in_template - declared == set(), "template routes with no handler route behind them"


def test_unmatched_requests_go_to_a_function_with_a_catch_all() -> None:
    defaults = [r for r in Template.load().routes() if r.path == "$default"]
    assert len(defaults) == 1
    app = http_apps()[defaults[0].function]
    # Included routers' routes are reached through their contexts (FastAPI includes them lazily).
    assert any(context.path == "/{path:path}" for context in iter_route_contexts(app.routes))


def test_every_function_handler_imports(stack: LocalStack) -> None:
    # With the environment the template gives the functions (the stack sets it): a function
    # refuses to import without the resource names it needs.
    from devstack.lambdas import LambdaRuntime

    runtime = LambdaRuntime(Template.load(), "import-check", environments=1)
    try:
        for logical_id in runtime.specs:
            assert callable(runtime.handler(logical_id))
    finally:
        runtime.close()


def test_function_modules_do_not_collide() -> None:
    # Locally every function shares one process, so top-level package names must be unique.
    packages = [
        child.name
        for spec in {f.code_dir for f in Template.load().functions()}
        for child in spec.iterdir()
        if child.is_dir() and (child / "__init__.py").exists()
    ]
    assert len(packages) == len(set(packages))
    assert "mm_common" not in packages


def test_committed_openapi_document_is_current() -> None:
    committed = json.loads((REPO_ROOT / "functions/system/system_fn/openapi.json").read_text())
    assert committed == build_openapi(), "run `make openapi` and commit the result"


def test_validators_are_installed() -> None:
    # `make install` provides both; a missing tool must fail the suite, not skip the checks.
    assert CFN_LINT.exists(), "cfn-lint 1.53.x missing: run make install"
    assert ASL_VALIDATOR.exists(), "asl-validator missing: run make install"


def test_cfn_lint_accepts_the_template() -> None:
    result = subprocess.run([str(CFN_LINT), str(TEMPLATE_PATH)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_would_catch_a_broken_template(tmp_path: Path) -> None:
    broken = re.sub(r"Runtime: python3\.\d+", "Runtime: python3.99", TEMPLATE_PATH.read_text(), count=1)
    copy = tmp_path / "infra" / "template.yaml"
    copy.parent.mkdir()
    copy.write_text(broken)
    shutil.copytree(REPO_ROOT / "infra" / "statemachines", copy.parent / "statemachines")
    result = subprocess.run([str(CFN_LINT), str(copy)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "python3.99" in result.stdout


@pytest.mark.parametrize("path", STATE_MACHINES, ids=lambda p: p.name)
def test_state_machine_definitions_are_valid_asl(path: Path) -> None:
    result = subprocess.run([str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validation_would_catch_a_dangling_transition(tmp_path: Path) -> None:
    definition = json.loads(STATE_MACHINES[0].read_text())
    first = definition["StartAt"]
    definition["States"][first]["Next"] = "NoSuchState"
    definition["States"][first].pop("End", None)
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps(definition))
    result = subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0


def test_every_state_machine_file_is_used_by_the_template() -> None:
    used = {
        (TEMPLATE_PATH.parent / r["Properties"]["DefinitionUri"]).resolve()
        for r in Template.load().resources_of_type("AWS::Serverless::StateMachine").values()
    }
    assert {p.resolve() for p in STATE_MACHINES} == used


def test_template_invariants() -> None:
    template = Template.load()
    queues = template.resources_of_type("AWS::SQS::Queue")
    dead_letter_targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q.get("Properties", {})
    }
    for logical_id in queues:
        if logical_id not in dead_letter_targets:
            assert "RedrivePolicy" in queues[logical_id]["Properties"], f"{logical_id} has no dead-letter queue"
    for fn in template.functions():
        for subscription in fn.queues:
            assert subscription.report_batch_item_failures, f"{fn.logical_id} must report partial batch failures"
    for logical_id, bucket in template.resources_of_type("AWS::S3::Bucket").items():
        block = bucket["Properties"]["PublicAccessBlockConfiguration"]
        assert all(block.values()), f"{logical_id} must block public access"
        assert "BucketEncryption" in bucket["Properties"]
    snapshots = template.resources["SnapshotsBucket"]["Properties"]
    assert snapshots["VersioningConfiguration"]["Status"] == "Enabled"
    layers = template.resources_of_type("AWS::Serverless::LayerVersion")
    assert layers["CommonLayer"]["Metadata"]["BuildMethod"].startswith("python3")
    # The design engine's layer is built by its Makefile (npm ci of the pinned uipro-cli, then a copy).
    engine = layers["DesignEngineLayer"]
    assert engine["Metadata"]["BuildMethod"] == "makefile"
    engine_dir = template.path.parent / engine["Properties"]["ContentUri"]
    assert "build-DesignEngineLayer:" in (engine_dir / "Makefile").read_text()
    assert (engine_dir / "package-lock.json").is_file()
    for logical_id in template.resources_of_type("AWS::Serverless::Function"):
        assert template.function_properties(logical_id).get("Policies") is not None, f"{logical_id} needs policies"
