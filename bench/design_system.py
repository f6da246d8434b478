"""Design-system generation: p50/p95 of a warm document (engine + tokens + contrast + schema), and the
cold cost of the engine and its data in a fresh interpreter.

    python bench/design_system.py [--requests 200] [--runs 5]

Warm: ``generate_document`` in this process over eight descriptions in turn (after one warm-up
each), then the same with the files and the prompt section rendered; target p95 < 300 ms. The
engine reads its CSV files and builds its BM25 indexes on every call, so "warm" here means the
modules are imported and the files are in the page cache, not that any result is cached.

Cold: each sample is a fresh interpreter (CPU time, as in bench/cold_start.py: the standard library
from bytecode, everything else compiled from source, as a Lambda init finds a layer) timing, in
turn: importing mm_common.design (document, render); loading the engine (its two modules and its
reasoning rules); importing jsonschema and building the document validator; the first document
(the first reads of the other CSV files); and a second document, for comparison. Medians of ``--runs``.
Needs the pinned engine: ``npm ci --prefix layers/design_engine`` (or UIPRO_ASSETS_DIR set).
Always exits 0: the table says whether the target was met.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cold_start import compile_into
from harness import header, percentile, row

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER = REPO_ROOT / "layers" / "common"
LOCAL_ASSETS = REPO_ROOT / "layers" / "design_engine" / "node_modules" / "uipro-cli" / "assets"
TARGET_P95_MS = 300.0
DESCRIPTIONS = (
    "a vet clinic dashboard",
    "a fintech landing page",
    "a children's learning app",
    "an online bakery shop with delivery",
    "a SaaS analytics dashboard for marketing teams",
    "a portfolio for a wedding photographer",
    "a booking app for a yoga studio",
    "a cybersecurity monitoring console",
)
_COLD = """
import json, time
clock = time.process_time
t0 = clock()
from mm_common.design import document, render
from mm_common.design.engine import UiProMaxEngine
t1 = clock()
UiProMaxEngine().version
t2 = clock()
from mm_common.design import schema
schema.validator()
t3 = clock()
document.generate_document({first!r}, "Bench")
t4 = clock()
document.generate_document({second!r}, "Bench")
t5 = clock()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]))
"""
_COLD_STEPS = (
    "import mm_common.design",
    "engine modules + rules",
    "jsonschema + validator",
    "first document",
    "second document",
)


def assets() -> Path:
    named = os.environ.get("UIPRO_ASSETS_DIR")
    path = Path(named) if named else LOCAL_ASSETS
    if not (path / "scripts" / "design_system.py").is_file():
        raise SystemExit(f"uipro-cli is not installed at {path}: run `npm ci --prefix layers/design_engine`")
    return path


def warm(requests: int) -> None:
    sys.path.insert(0, str(LAYER))
    from mm_common.design.document import generate_document
    from mm_common.design.render import prompt_section, render_files

    for description in DESCRIPTIONS:
        generate_document(description, "Bench")
    results: dict[str, list[float]] = {"generate_document": [], "generate + render": []}
    began = time.perf_counter()
    for i in range(requests):
        start = time.perf_counter()
        document = generate_document(DESCRIPTIONS[i % len(DESCRIPTIONS)], "Bench")
        generated = time.perf_counter()
        render_files(document)
        prompt_section(document)
        done = time.perf_counter()
        results["generate_document"].append((generated - start) * 1000)
        results["generate + render"].append((done - start) * 1000)
    rate = requests / (time.perf_counter() - began)
    print(f"\nwarm, {requests} documents over {len(DESCRIPTIONS)} descriptions, one thread (ms)")
    print(header() + f"{'target p95':>12}  met")
    for name, samples in results.items():
        met = "yes" if percentile(samples, 95) < TARGET_P95_MS else "NO"
        print(row(name, samples, rate) + f"{'< ' + format(TARGET_P95_MS, '.0f'):>12}  {met}")


def cold(runs: int, engine_assets: Path) -> None:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update({"PYTHONPATH": str(LAYER), "UIPRO_ASSETS_DIR": str(engine_assets), "PYTHONDONTWRITEBYTECODE": "1"})
    code = _COLD.format(first=DESCRIPTIONS[0], second=DESCRIPTIONS[1])
    with tempfile.TemporaryDirectory(prefix="design-bench-pycache-") as prefix:
        modules = ["mm_common.design.document", "mm_common.design.render", "jsonschema", "csv"]
        compiled = compile_into(Path(prefix), [(modules, env)], everything=False)
        env["PYTHONPYCACHEPREFIX"] = prefix
        samples: list[list[float]] = []
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"the cold run failed:\n{done.stderr}")
            samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\ncold, fresh interpreters: CPU time, median of {runs} runs (standard library from bytecode: {compiled})")
    print(f"{'step':<28}{'median ms':>11}{'min':>9}{'max':>9}")
    for index, step in enumerate(_COLD_STEPS):
        values = [sample[index] * 1000 for sample in samples]
        print(f"{step:<28}{statistics.median(values):>11.1f}{min(values):>9.1f}{max(values):>9.1f}")
    totals = [sum(sample[:4]) * 1000 for sample in samples]
    print(f"{'cold total (first four)':<28}{statistics.median(totals):>11.1f}{min(totals):>9.1f}{max(totals):>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="warm documents")
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters for the cold measure (median)")
    args = parser.parse_args()
    engine_assets = assets()
    os.environ["UIPRO_ASSETS_DIR"] = str(engine_assets)
    cold(args.runs, engine_assets)
    warm(args.requests)


if __name__ == "__main__":
    main()
