"""Cold import of each HTTP function's handler module beside ``import fastapi, mangum`` (s).

    python bench/cold_start.py [--runs 7] [--top 8]

Each sample is a fresh interpreter that imports the handler module the template names (as
Lambda's init phase does: the function's folder and the layer on the path, the function's
environment from infra/template.yaml with placeholder resource names) and reports how long the
import took; interpreter start-up is not counted. The median of the runs is compared with the
same measure of ``import fastapi, mangum``, the floor every HTTP function pays: the target is a
ratio of at most 1.5. ``--top`` lists the heaviest packages each module pulls in (from
``python -X importtime``), which is where to look when a ratio grows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from devstack.template import FunctionSpec, Resolver, Template  # noqa: E402

TARGET_RATIO = 1.5
BASELINE = "fastapi, mangum"
_TIMED_IMPORT = (
    "import time, importlib\n"
    "start = time.perf_counter()\n"
    "for name in {modules!r}: importlib.import_module(name)\n"
    "print(time.perf_counter() - start)\n"
)


# Values for the template's parameters that have no default (a deployment supplies them).
_DEPLOYMENT_PARAMETERS = {
    "AppUrl": "https://app.example.com",
    "DbHost": "db.example.com",
    "DbSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
    "MailFrom": "no-reply@example.com",
}
_PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "moreminimore",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


def function_environment(template: Template, spec: FunctionSpec | None) -> dict[str, str]:
    """What a Lambda execution environment of this function would have: the code on the path and
    its template variables (parameters at their defaults, resources as placeholder names)."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "SYSTEMROOT") if name in os.environ}
    paths = [str(path) for path in template.layer_dirs()]
    if spec is not None:
        resolver = Resolver(
            template,
            parameters=_DEPLOYMENT_PARAMETERS,
            ref=lambda name: f"{name.lower()}-placeholder",
            get_att=lambda name, attribute: f"{name.lower()}-{attribute.lower()}-placeholder",
            pseudo=_PSEUDO,
        )
        paths.insert(0, str(spec.code_dir))
        env.update({name: str(value) for name, value in resolver.resolve(spec.environment).items()})
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def import_seconds(modules: list[str], env: dict[str, str]) -> float:
    code = _TIMED_IMPORT.format(modules=modules)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"importing {', '.join(modules)} failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def loaded_modules(modules: list[str], env: dict[str, str]) -> set[str]:
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({name!r})\n" for name in modules)
    code += "print('\\n'.join(sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def heaviest_packages(modules: list[str], env: dict[str, str], top: int, known: set[str]) -> list[tuple[str, float]]:
    """Top-level packages, beyond those in ``known``, by cumulative import time (s) as
    ``-X importtime`` reports them."""
    code = "import importlib\n" + "".join(f"importlib.import_module({name!r})\n" for name in modules)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True, check=False
    )
    packages: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0]
        if package not in known and package not in modules:
            packages[package] = max(packages.get(package, 0.0), int(cumulative) / 1e6)
    return sorted(packages.items(), key=lambda item: item[1], reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per module (median)")
    parser.add_argument("--top", type=int, default=0, help="also list the N heaviest packages per module")
    args = parser.parse_args()

    template = Template.load()
    baseline_env = function_environment(template, None)
    subjects = {BASELINE: (BASELINE.split(", "), baseline_env)}
    for spec in sorted((spec for spec in template.functions() if spec.routes), key=lambda s: s.logical_id):
        module = spec.handler.rsplit(".", 1)[0]
        subjects[f"{module} ({spec.logical_id})"] = ([module], function_environment(template, spec))
    samples: dict[str, list[float]] = {label: [] for label in subjects}
    failures: dict[str, str] = {}
    # Round-robin, so that load from elsewhere on the machine falls on every subject alike.
    for _ in range(args.runs):
        for label, (modules, env) in subjects.items():
            if label not in failures:
                try:
                    samples[label].append(import_seconds(modules, env))
                except RuntimeError as error:
                    failures[label] = str(error).strip().splitlines()[-1]
    if BASELINE in failures:
        raise SystemExit(f"the baseline import failed: {failures[BASELINE]}")

    baseline = statistics.median(samples[BASELINE])
    known = loaded_modules(BASELINE.split(", "), baseline_env)
    print(f"{'import':<46} {'median s':>9} {'ratio':>6}")
    worst = 0.0
    for label, (modules, env) in subjects.items():
        if label in failures:
            print(f"{label:<46} import failed: {failures[label]}")
            continue
        seconds = statistics.median(samples[label])
        ratio = seconds / baseline
        worst = max(worst, ratio)
        flag = "" if ratio <= TARGET_RATIO else f"  over {TARGET_RATIO}x"
        print(f"{label:<46} {seconds:9.3f} {ratio:6.2f}{flag}")
        if args.top and label != BASELINE:
            first_party = {"mm_common", modules[0].split(".")[0]}
            for package, cost in heaviest_packages(modules, env, args.top, known | first_party):
                print(f"    {package:<42} {cost:9.3f}")
    print(f"worst ratio {worst:.2f} (target <= {TARGET_RATIO})")


if __name__ == "__main__":
    main()
