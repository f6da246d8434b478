"""Cold starts, in a fresh interpreter set up as Lambda's init phase is (the function's folder and
the layer on the path, its template environment):

- importing an HTTP function's handler module does not pull in what only some invocations need
  (structural checks, no timings: bench/cold_start.py measures those), and the first invocation
  still runs traced and counts the cold start; a worker's handler makes its Tracer on first use too;
- the shared layer imports the database driver and the HTTP, token, password and crypto
  libraries when first used, not with its modules;
- a function missing a resource setting it requires fails right there, naming the variable.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from bench.cold_start import function_environment
from devstack.template import FunctionSpec, Template

pytestmark = pytest.mark.slow  # a fresh interpreter per function

TEMPLATE = Template.load()
HTTP_FUNCTIONS = [spec for spec in TEMPLATE.functions() if spec.routes]
WORKERS = [spec for spec in TEMPLATE.functions() if not spec.routes]


def _required_settings(spec: FunctionSpec) -> list[str]:
    """The settings a function's handler module names in ``require_settings(...)`` calls (string
    arguments, or a module-level tuple of strings passed with ``*``)."""
    source = spec.code_dir / (spec.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
    tree = ast.parse(source.read_text(encoding="utf-8"))
    tuples = {
        target.id: [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple | ast.List)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    names: list[str] = []
    for node in ast.walk(tree):
        called = getattr(node, "func", None)
        if isinstance(node, ast.Call) and getattr(called, "id", getattr(called, "attr", "")) == "require_settings":
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.append(arg.value)
                elif isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Name):
                    names.extend(tuples.get(arg.value.id, []))
    return sorted(set(names))


REQUIRED = [(spec, name.upper()) for spec in TEMPLATE.functions() for name in _required_settings(spec)]

# Made on first use instead: the X-Ray SDK when the Tracer is (first invocation), boto3 and
# botocore's client machinery when a request first calls S3/KMS/SQS/SES, Powertools Parameters
# when the first connection or token needs a secret, PyJWT and cryptography with the first token
# or sealed secret, httpx with the first call to a provider or the npm registry, argon2 with the
# first password. (The bare ``botocore`` package is imported by Powertools itself to register its
# user-agent hook; that costs under a millisecond.)
DEFERRED_MODULES = (
    "aws_xray_sdk",
    "boto3",
    "botocore.client",
    "botocore.session",
    "s3transfer",
    "aws_lambda_powertools.utilities.parameters",
    "jwt",
    "cryptography",
    "httpx",
    "httpcore",
    "argon2",
)
# psycopg (and libpq) with the first query: about 0.1 s of a cold start otherwise.
DRIVER = "psycopg"
# Functions whose own modules still import psycopg at module level (``Jsonb`` in queries, error
# classes in services: ``mm_common.db.jsonb`` and an import inside the function that catches
# them avoid it). Strict: once one stops, this fails until it is taken off the list.
IMPORTING_THE_DRIVER: set[str] = set()


def _run(spec: FunctionSpec, code: str) -> subprocess.CompletedProcess[str]:
    env = function_environment(TEMPLATE, spec)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def _module(spec: FunctionSpec) -> str:
    return spec.handler.rsplit(".", 1)[0]


def _loaded_after_import(spec: FunctionSpec, watched: tuple[str, ...], *, prefix: bool = False) -> list[str]:
    """Which of ``watched`` (with ``prefix``: which modules under them) importing the function's
    handler module loaded."""
    found = (
        f"(m for m in sys.modules if any(m == w or m.startswith(w + '.') for w in {watched!r}))"
        if prefix
        else f"(m for m in {watched!r} if m in sys.modules)"
    )
    code = (
        f"import importlib, json, sys\nimportlib.import_module({_module(spec)!r})\nprint(json.dumps(sorted{found}))\n"
    )
    done = _run(spec, code)
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("spec", HTTP_FUNCTIONS, ids=[spec.logical_id for spec in HTTP_FUNCTIONS])
def test_importing_an_http_function_defers_the_tracer_the_aws_sdk_and_the_clients(spec: FunctionSpec) -> None:
    assert _loaded_after_import(spec, DEFERRED_MODULES) == []


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(
            spec,
            marks=[pytest.mark.xfail(strict=True, reason="its own modules import psycopg")]
            if spec.logical_id in IMPORTING_THE_DRIVER
            else [],
        )
        for spec in HTTP_FUNCTIONS
    ],
    ids=[spec.logical_id for spec in HTTP_FUNCTIONS],
)
def test_importing_an_http_function_defers_the_database_driver(spec: FunctionSpec) -> None:
    assert _loaded_after_import(spec, (DRIVER,)) == []


@pytest.mark.parametrize("spec", WORKERS, ids=[spec.logical_id for spec in WORKERS])
def test_importing_a_worker_defers_its_tracer(spec: FunctionSpec) -> None:
    """Workers wrap their handler with ``traced_handler`` as the HTTP functions do: the X-Ray SDK
    is imported by the first invocation, which is still traced whole."""
    assert _loaded_after_import(spec, ("aws_xray_sdk",)) == []


def test_the_shared_layer_imports_the_driver_and_the_clients_on_first_use() -> None:
    """The layer's modules the HTTP functions load import cheaply, whatever the functions' own
    modules do: what reaches the database, a provider, a token or a secret imports its library
    inside the function that uses it."""
    used: set[str] = set()
    for spec in HTTP_FUNCTIONS:
        used |= set(_loaded_after_import(spec, ("mm_common",), prefix=True))
    assert {"mm_common.api", "mm_common.db", "mm_common.ai.generation"} <= used  # the check is not vacuous
    code = (
        "import importlib, json, sys\n"
        f"for name in {sorted(used)!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {(DRIVER, *DEFERRED_MODULES)!r} if m in sys.modules)))\n"
    )
    env = function_environment(TEMPLATE, None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_first_invocation_is_traced_and_counted_as_the_cold_start() -> None:
    """Deferring the Tracer keeps what the handler did: the first invocation creates it and runs
    inside ``capture_lambda_handler``, and the cold-start metric is published once."""
    (spec,) = [spec for spec in HTTP_FUNCTIONS if spec.logical_id == "SystemFunction"]
    code = f"""
import importlib, json, sys, types
module = importlib.import_module({_module(spec)!r})
before = "aws_xray_sdk" in sys.modules
context = types.SimpleNamespace(
    function_name="system", function_version="$LATEST", memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:system", aws_request_id="r-1",
)
event = {{
    "version": "2.0", "routeKey": "GET /api/openapi.json", "rawPath": "/api/openapi.json",
    "rawQueryString": "", "headers": {{"host": "api.example.com"}}, "isBase64Encoded": False,
    "requestContext": {{"http": {{"method": "GET", "path": "/api/openapi.json", "sourceIp": "203.0.113.9",
        "protocol": "HTTP/1.1", "userAgent": "test"}}, "requestId": "r-1", "stage": "$default"}},
}}
statuses = [getattr(module, {spec.handler.rsplit(".", 1)[1]!r})(event, context)["statusCode"] for _ in range(2)]
import aws_lambda_powertools.tracing.tracer as tracer_module
print(json.dumps({{"before": before, "after": "aws_xray_sdk" in sys.modules,
                  "traced": tracer_module.is_cold_start is False, "statuses": statuses}}))
"""
    done = _run(spec, code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    outcome = json.loads(lines[-1])
    assert outcome == {"before": False, "after": True, "traced": True, "statuses": [200, 200]}
    emitted = [json.loads(line) for line in lines[:-1] if line.startswith("{")]
    cold_starts = [blob for blob in emitted if "ColdStart" in blob]
    assert len(cold_starts) == 1, emitted
    assert cold_starts[0]["service"] == "system"


@pytest.mark.parametrize(
    ("spec", "variable"), REQUIRED, ids=[f"{spec.logical_id}-{variable}" for spec, variable in REQUIRED]
)
def test_a_function_missing_a_resource_setting_fails_at_import_naming_it(spec: FunctionSpec, variable: str) -> None:
    """A function that needs a bucket, queue or key it was not given fails its cold start, saying
    which variable is missing, instead of failing the first request that uses it."""
    env = function_environment(TEMPLATE, spec)
    assert env.get(variable), f"the template gives {spec.logical_id} no {variable}, yet it requires it"
    del env[variable]
    code = f"import importlib; importlib.import_module({_module(spec)!r})"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0, f"{_module(spec)} imported without {variable}"
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("RuntimeError: This function needs"), done.stderr
    assert variable in last_line


def test_every_function_that_reaches_a_resource_declares_its_settings() -> None:
    """Guards the test above against passing vacuously: the functions that use the buckets,
    queues and keys declare them."""
    declared = {spec.logical_id for spec, _ in REQUIRED}
    assert {"ProjectsFunction", "ChatsFunction", "ProjectCleanupFunction", "GenerationWorkerFunction"} <= declared
