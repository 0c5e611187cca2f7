"""``make bench``: how fast the course runs, as JSON (medians over several runs).

Measures: papermill execution of each module notebook, kernel start-up, import time of the
heavy packages (each in a fresh interpreter), the grading sandbox's own cost, grading time per module
(sandboxed), validation of the
reference period, module 5's logging overhead per request and module 6's parity check against a
live service (grading/bench_live.py), module 7's router overhead at 16 connections
(grading/bench_router.py), and peak memory. Targets from the issues are reported next to the numbers.
``cohort`` is grading/bench_cohort.py: nbgrader's autograde side by side, a mixed cohort of 20 x 3,
the extrapolation to 100 learners x 7 modules. ``--serving`` adds the model service against
``mlflow models serve`` (grading/bench_serving.py);
``--serving-only`` runs just that (``make bench BENCH_ARGS=--serving-only``).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grading.bench_cohort import cohort_benchmark
from grading.bench_live import live_runs
from grading.bench_router import router_overhead_benchmark
from grading.forkserver import ForkServer
from grading.paths import SOLUTIONS_DIR, course_notebooks
from mlops_kit.course import MODULE_IDS
from mlops_kit.io import atomic_write_json

HEAVY_IMPORTS = (
    "pandas",
    "sklearn",
    "pandera.pandas",
    "mlflow",
    "evidently",
    "papermill",
    "mlops_kit",
    "mlops_kit.validation",
)
GRADING_RATIO_GOAL = 1.3  # issues 8 and 12: grading a module takes at most 1.3x its execution
TARGET_SECONDS = dict(zip(MODULE_IDS, (10.0, 15.0, 15.0, 15.0, 20.0, 15.0, 30.0), strict=True))
VALIDATION_TARGET_SECONDS = 1.5
"""Module 1's validate on the shipped reference period (about 9,000 rows): about 0.2 s on 2 cores."""
PARITY_TARGET_SECONDS = 2.0
"""Module 6's feature and prediction parity over the shipped reference period, HTTP excluded."""


def timed_runs(action: Callable[[], Any], runs: int) -> dict[str, Any]:
    """Run ``action`` ``runs`` times; return the median and every run's wall time in seconds."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        seconds.append(round(time.perf_counter() - started, 3))
    return {"median_s": round(statistics.median(seconds), 3), "runs_s": seconds}


def import_seconds(module: str) -> float:
    """Wall time of ``import module`` in a fresh interpreter (start-up excluded)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(completed.stdout.strip().splitlines()[-1])


def kernel_startup() -> None:
    """Start the course kernel, wait until it answers, shut it down."""
    from jupyter_client.manager import start_new_kernel

    from grading.paths import KERNEL_NAME

    manager, client = start_new_kernel(kernel_name=KERNEL_NAME)
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def notebook_runs(notebook: Path, runs: int, work: Path) -> dict[str, Any]:
    """papermill execution of one module notebook, each run in a fresh artifacts folder.

    From module 3 on, the folder starts with the reference upstream (``grading.upstream``, built once),
    as it does in a course-order run and in grading: the time is the module's own work.
    """
    from grading.execute import execute_notebook
    from grading.upstream import FIRST_SEEDED_MODULE, module_number, reference_upstream, seed_sandbox
    from mlops_kit.data import SHIPPED_DATA_DIR

    number = module_number(notebook.stem)
    upstream = None
    if number >= FIRST_SEEDED_MODULE:
        upstream = reference_upstream(SHIPPED_DATA_DIR, 0, work.parent.parent / "upstream")

    def once() -> None:
        artifacts = work / "artifacts"
        shutil.rmtree(artifacts, ignore_errors=True)
        artifacts.mkdir(parents=True)
        if upstream is not None:
            seed_sandbox(upstream, artifacts, number)
        outcome = execute_notebook(
            notebook,
            work / notebook.name,
            {"DATA_DIR": str(SHIPPED_DATA_DIR), "ARTIFACTS_DIR": str(artifacts), "VARIANT": 0},
            cwd=notebook.parent,
            cell_timeout=300,
        )
        if not outcome.ok:
            raise RuntimeError(f"{notebook.name}: {outcome.message}")

    return timed_runs(once, runs)


def grading_runs(notebook: Path, runs: int, work: Path, warm: bool | ForkServer = False) -> dict[str, Any]:
    """Grading one module of the solutions (sandbox, execution, artifact tests) on variant 1.

    ``warm``: a running fork server (as a cohort's job has it); ``False``: every run a new Python,
    as a learner's one-module ``make grade`` runs.
    """
    from grading.grade import grade_submission

    submission = work / "submission"
    submission.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebook, submission / notebook.name)

    def once() -> None:
        card = grade_submission(submission, 1, work / "out", cell_timeout=300, warm=warm).card
        entry = card["modules"][notebook.stem]
        if entry["points"] != entry["max_points"]:
            raise RuntimeError(f"{notebook.stem} did not score full points while benchmarking")

    return timed_runs(once, runs)


def sandbox_runs(runs: int, work: Path) -> dict[str, Any]:
    """Cost of the grading sandbox itself: entering it to run ``python -c pass``, against running that directly."""
    from grading.sandbox import run_sandboxed, sandbox_env

    (work / "home").mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-c", "pass"]
    isolation: dict[str, Any] = {}

    def sandboxed() -> None:
        isolation.update(run_sandboxed(command, work, sandbox_env(work / "home"), timeout=60).isolation)

    return {
        "sandboxed": timed_runs(sandboxed, runs),
        "direct": timed_runs(lambda: subprocess.run(command, check=True), runs),
        "isolation": isolation,
    }


def validation_runs(runs: int) -> dict[str, Any]:
    """In-process validation of the shipped reference period with the reference rules."""
    from mlops_kit.data import SHIPPED_DATA_DIR, file_period, load_orders
    from mlops_kit.validation import reference_rules, validate

    raw = load_orders(SHIPPED_DATA_DIR, "reference")
    rules = reference_rules(file_period(SHIPPED_DATA_DIR, "reference")[1])
    return {"rows": len(raw), **timed_runs(lambda: validate(raw, rules), runs)}


def parity_runs(runs: int) -> dict[str, Any]:
    """Feature and prediction parity of the shipped reference period (both sides computed once, outside the timing)."""
    import numpy as np

    from mlops_kit.consistency import feature_parity, prediction_parity
    from mlops_kit.data import SHIPPED_DATA_DIR, file_period, load_orders
    from mlops_kit.features import compute_features, load_feature_dictionary
    from mlops_kit.serving.skew import planted_skew, skew_features
    from mlops_kit.validation import reference_rules, validate

    dictionary = load_feature_dictionary()
    rules = reference_rules(file_period(SHIPPED_DATA_DIR, "reference")[1])
    orders = validate(load_orders(SHIPPED_DATA_DIR, "reference"), rules).clean.reset_index(drop=True)
    key, probability = dictionary.key.name, dictionary.prediction.name
    computed = compute_features(orders, dictionary)
    training = computed.assign(**{key: orders[key].to_numpy()})
    serving = skew_features(computed, planted_skew(SHIPPED_DATA_DIR)).assign(**{key: orders[key].to_numpy()})
    dtypes = {feature.name: feature.dtype for feature in dictionary.features}
    scores = np.random.default_rng(0).random(len(orders))
    offline = training[[key]].assign(**{probability: scores})
    online = training[[key]].assign(**{probability: scores + 1e-9})

    def both() -> None:
        feature_parity(training, serving, key, dtypes)
        prediction_parity(offline, online, key, probability, 0.5)

    return {"rows": len(orders), **timed_runs(both, runs)}


def site_runs(runs: int, work: Path) -> dict[str, Any]:
    """``make site`` from nothing: pages written, MkDocs + mkdocs-jupyter build, into ``work``."""
    from grading.site import build_site

    return timed_runs(lambda: build_site(work / "site", work / "src"), runs)


def benchmark(runs: int) -> dict[str, Any]:
    """Every measurement, as a JSON-ready dict."""
    from grading.execute import use_course_kernel

    use_course_kernel()
    notebooks = course_notebooks(SOLUTIONS_DIR)
    result: dict[str, Any] = {
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": runs,
        "imports_s": {
            name: round(statistics.median(import_seconds(name) for _ in range(runs)), 3) for name in HEAVY_IMPORTS
        },
        "kernel_startup": timed_runs(kernel_startup, runs),
        "validation_reference": validation_runs(runs),
        "parity_reference": parity_runs(runs),
        "notebooks": {},
        "grading": {},
        "grading_warm": {},
    }
    with tempfile.TemporaryDirectory(prefix="course-bench-") as scratch:
        result["sandbox"] = sandbox_runs(runs, Path(scratch) / "sandbox")
        result["site_build"] = site_runs(runs, Path(scratch) / "site")
        result.update(live_runs(runs, Path(scratch) / "live"))  # modules 5-6: prediction log, parity with HTTP
        result["router_overhead"] = router_overhead_benchmark(Path(scratch) / "router", rounds=max(runs, 5))
        with ForkServer.start() as server:
            server.wait_ready()
            for notebook in notebooks:
                print(f"benchmarking {notebook.name}", flush=True)
                work = Path(scratch) / notebook.stem
                result["notebooks"][notebook.stem] = notebook_runs(notebook, runs, work / "run")
                result["grading"][notebook.stem] = grading_runs(notebook, runs, work / "grade")
                result["grading_warm"][notebook.stem] = grading_runs(notebook, runs, work / "grade-warm", server)
    result["grading_over_execution"] = {
        stem: {
            "cold": round(result["grading"][stem]["median_s"] / entry["median_s"], 2),
            "warm": round(result["grading_warm"][stem]["median_s"] / entry["median_s"], 2),
            "goal": GRADING_RATIO_GOAL,
            "met_warm": result["grading_warm"][stem]["median_s"] / entry["median_s"] <= GRADING_RATIO_GOAL,
        }
        for stem, entry in result["notebooks"].items()
    }
    result["cohort"] = cohort_benchmark()
    result["targets_s"] = {
        stem: {
            "target": TARGET_SECONDS[stem],
            "median": entry["median_s"],
            "met": entry["median_s"] < TARGET_SECONDS[stem],
        }
        for stem, entry in result["notebooks"].items()
        if stem in TARGET_SECONDS
    }
    validation = result["validation_reference"]["median_s"]
    result["targets_s"]["validation_reference"] = {
        "target": VALIDATION_TARGET_SECONDS,
        "median": validation,
        "met": validation < VALIDATION_TARGET_SECONDS,
    }
    parity = result["parity_reference"]["median_s"]
    result["targets_s"]["parity_reference"] = {
        "target": PARITY_TARGET_SECONDS,
        "median": parity,
        "met": parity < PARITY_TARGET_SECONDS,
    }
    result["router_overhead_ms"] = result["router_overhead"]["goal"]
    for name in ("prediction_log", "parity_live"):
        entry = result[name]
        value = entry["overhead_p50_ms"] if name == "prediction_log" else entry["besides_http_s"]
        goal = entry["goal_ms"] if name == "prediction_log" else entry["goal_s"]
        result["targets_s"][name] = {"target": goal, "median": value, "met": entry["met"]}
    result["peak_rss_mb"] = {
        "grader_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "largest_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build/bench.json"))
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median reported)")
    parser.add_argument(
        "--serving", action="store_true", help="also benchmark the model service against mlflow models serve (slow)"
    )
    parser.add_argument("--serving-only", action="store_true", help="only the serving benchmark")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    result = {} if args.serving_only else benchmark(args.runs)
    if args.serving or args.serving_only:
        from grading.bench_serving import serving_benchmark

        result["serving"] = serving_benchmark(start_runs=args.runs)
        result["imports_s"] = {
            **result.get("imports_s", {}),
            "mlops_kit.serving.app": round(
                statistics.median(import_seconds("mlops_kit.serving.app") for _ in range(args.runs)), 3
            ),
        }
    atomic_write_json(args.out, result)
    shown = ("targets_s", "router_overhead_ms", "kernel_startup", "sandbox", "peak_rss_mb", "serving", "cohort")
    print(json.dumps({key: result[key] for key in shown if key in result}, indent=2))
    print(f"benchmark written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
