"""Cold import of each HTTP function's handler module beside ``import fastapi, mangum`` (s).

    python bench/cold_start.py [--runs 7] [--top 8] [--bytecode]

Each sample is a fresh interpreter that imports the handler module the template names (as
Lambda's init phase does: the function's folder and the layer on the path, the function's
environment from infra/template.yaml with placeholder resource names) and reports how long the
import took; interpreter start-up is not counted. The median of the runs is compared with the
same measure of ``import fastapi, mangum``, the floor every HTTP function pays: the target is a
ratio of at most 1.5. ``--top`` lists the heaviest packages each module pulls in (from
``python -X importtime``), which is where to look when a ratio grows.

Two choices keep the comparison the one Lambda makes:

- Only the standard library is imported from bytecode; every other module, the baseline's
  FastAPI, pydantic and Starlette as much as the function's own code, is compiled from source at
  each import. That is what a cold start does with what ``sam build`` deploys: the runtime ships
  the standard library compiled, while the layer's packages are unpacked from wheels (which hold no
  bytecode) and the function's and the layer's own code is copied without ``__pycache__``, onto a
  read-only file system where nothing compiled is kept. Importing from the dev venv instead would
  read FastAPI's bytecode (pip compiles at install) but compile the function's code (its tree has
  none), so the baseline would be timed with less work than the functions it is the floor of, and
  the result would also change with whatever ``__pycache__`` earlier runs left in the work tree.
  The interpreters get a private ``PYTHONPYCACHEPREFIX`` holding bytecode for the standard library
  only. ``--bytecode`` compiles everything the subjects import into it instead: what a build that
  ships bytecode (``compileall --invalidation-mode unchecked-hash``) would give.
- A sample is the CPU time the import took (``time.process_time``), not the wall-clock time.
  With the files in the page cache an import is CPU work; on a shared machine (tests, a browser,
  other builds) the wall clock also counts the time the interpreter waited for a CPU, which falls
  unevenly on the samples: under such load the baseline's wall-clock samples spread from 0.18 s
  to 0.93 s (median 0.31 s), its CPU times from 0.17 s to 0.23 s (median 0.19 s). Every ratio is
  divided by the baseline, so its noise moved them all by a third from one run to the next.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from devstack.template import FunctionSpec, Resolver, Template  # noqa: E402

TARGET_RATIO = 1.5
BASELINE = "fastapi, mangum"
_TIMED_IMPORT = (
    "import time, importlib\n"
    "start = time.process_time()\n"
    "for name in {modules!r}: importlib.import_module(name)\n"
    "print(time.process_time() - start)\n"
)
_LOADED_FILES = (
    "import importlib, json, sys\n"
    "for name in {modules!r}: importlib.import_module(name)\n"
    "print(json.dumps(sorted({{getattr(m, '__file__', None) or '' for m in list(sys.modules.values())}})))\n"
)
_COMPILE = "import json, py_compile, sys\nfor path in json.loads(sys.stdin.read()): py_compile.compile(path)\n"


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


def _is_standard_library(path: str) -> bool:
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    resolved = Path(path).resolve()
    return resolved.is_relative_to(stdlib) and "site-packages" not in resolved.relative_to(stdlib).parts


def compile_into(prefix: Path, subjects: list[tuple[list[str], dict[str, str]]], *, everything: bool) -> int:
    """Compile into the bytecode cache ``prefix`` the modules the subjects import: those of the
    standard library, or with ``everything`` all of them. Returns how many."""
    paths: set[str] = set()
    for modules, env in subjects:
        done = subprocess.run(
            [sys.executable, "-c", _LOADED_FILES.format(modules=modules)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        paths |= {path for path in json.loads(done.stdout.strip().splitlines()[-1]) if path.endswith(".py")}
    chosen = sorted(path for path in paths if everything or _is_standard_library(path))
    compile_env = {**subjects[0][1], "PYTHONPYCACHEPREFIX": str(prefix)}
    subprocess.run([sys.executable, "-c", _COMPILE], input=json.dumps(chosen), env=compile_env, text=True, check=True)
    return len(chosen)


def import_seconds(modules: list[str], env: dict[str, str]) -> float:
    """CPU seconds a fresh interpreter spends importing ``modules``."""
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
    parser.add_argument(
        "--bytecode", action="store_true", help="import everything from bytecode, as if the build shipped it"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cold-start-pycache-") as prefix:
        report(Path(prefix), runs=args.runs, top=args.top, bytecode=args.bytecode)


def report(prefix: Path, *, runs: int, top: int, bytecode: bool) -> None:
    template = Template.load()
    baseline_env = function_environment(template, None)
    subjects = {BASELINE: (BASELINE.split(", "), baseline_env)}
    for spec in sorted((spec for spec in template.functions() if spec.routes), key=lambda s: s.logical_id):
        module = spec.handler.rsplit(".", 1)[0]
        subjects[f"{module} ({spec.logical_id})"] = ([module], function_environment(template, spec))
    compiled = compile_into(prefix, list(subjects.values()), everything=bytecode)
    for _, env in subjects.values():
        env["PYTHONPYCACHEPREFIX"] = str(prefix)
    samples: dict[str, list[float]] = {label: [] for label in subjects}
    failures: dict[str, str] = {}
    # Round-robin, so that load from elsewhere on the machine falls on every subject alike.
    for _ in range(runs):
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
    source = "everything from bytecode" if bytecode else "bytecode for the standard library only"
    print(f"CPU time, median of {runs} runs; {source} ({compiled} modules)")
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
        if top and label != BASELINE:
            first_party = {"mm_common", modules[0].split(".")[0]}
            for package, cost in heaviest_packages(modules, env, top, known | first_party):
                print(f"    {package:<42} {cost:9.3f}")
    print(f"worst ratio {worst:.2f} (target <= {TARGET_RATIO})")


if __name__ == "__main__":
    main()
