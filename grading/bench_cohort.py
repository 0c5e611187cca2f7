"""Cohort benchmark (issue 12): this grader against nbgrader, and a realistic cohort, extrapolated.

1. Side by side, in the same run: ``nbgrader autograde`` (pinned, in a venv of its own under build/,
   ``grading.nbgrader_course``) of N solved module 1 notebooks, against ``python -m grading gradebook``
   of the same N learners (isolation as the machine gives it, the course's default; 2 workers).
   Runs alternate which grader goes first; medians over runs, per-learner seconds, throughput, ratio.
2. A cohort of ``learners`` x ``modules`` with the mix of ``grading.synthetic_cohort.MIX`` (solved,
   partial, broken, hostile, copycat, unsolved; some zipped), graded by ``grade_cohort`` with 2 workers;
   the gradebook is checked (``cohort_problems``) and the benchmark fails loudly if it is not sane.
3. One solved learner graded on all seven modules once: per-module grading seconds, from which the
   time for 100 learners x 7 modules is extrapolated (``EXTRAPOLATION``).

Run alone: ``python -m grading.bench_cohort --out build/bench-cohort.json [--learners 20 --modules 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from grading.paths import REPO_ROOT, SOLUTIONS_DIR, course_notebooks
from grading.synthetic_cohort import Learner, build_cohort, processes_with
from mlops_kit.course import MODULE_IDS, module_id
from mlops_kit.io import atomic_write_json

NBGRADER_FOLDER = REPO_ROOT / "build" / "nbgrader"
VARIANT = 3
WORKERS = 2
CELL_TIMEOUT = 300
TARGET_RATIO = 2.0
TARGET_COHORT_S = 30 * 60
EXTRAPOLATION = (
    "k = cohort_wall_s / (learners * sum(solved_module_s[m] for m in cohort modules)); "
    "extrapolated_s = k * 100 * sum(solved_module_s[m] for all 7 modules)"
)
"""k carries what the cohort measured (2 workers in parallel, the mix's re-runs of broken exercises, each
job's start-up) over one solved learner graded serially; it is assumed to hold for modules 4-7."""


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def our_gradebook_seconds(cohort: Path, out: Path, cold: bool = False) -> float:
    """Wall time of ``python -m grading gradebook`` (2 workers; ``--cold``: no fork server) of ``cohort``."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "grading", "gradebook", str(cohort), "--variant", str(VARIANT), "--out", str(out)]
    started = time.perf_counter()
    subprocess.run(
        [*command, "--workers", str(WORKERS), *(["--cold"] if cold else [])], check=True, capture_output=True
    )
    return time.perf_counter() - started


def _throughput(seconds: list[float], learners: int) -> dict[str, Any]:
    median = _median(seconds)
    return {
        "runs_s": [round(value, 3) for value in seconds],
        "median_s": median,
        "per_learner_s": round(median / learners, 3),
        "learners_per_min": round(60 * learners / median, 2),
    }


def side_by_side(work: Path, learners: int, runs: int) -> dict[str, Any]:
    """nbgrader's ``autograde`` against the course's ``gradebook``, module 1 solved, ``learners`` each."""
    from grading import nbgrader_course as nbg
    from mlops_kit.data import SHIPPED_DATA_DIR

    solution = SOLUTIONS_DIR / f"{module_id(1)}.ipynb"
    names = [f"learner{index + 1:03d}" for index in range(learners)]
    cohort = work / "side-by-side"
    for name in names:
        (cohort / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(solution, cohort / name / solution.name)
    result: dict[str, Any] = {"learners": learners, "runs": runs, "module": module_id(1)}
    log = NBGRADER_FOLDER / "bench.log"
    ours: list[float] = []
    cold: list[float] = []
    theirs: list[float] = []
    try:
        binary = nbg.ensure_nbgrader(NBGRADER_FOLDER, Path(sys.executable).parent / "uv")
    except (OSError, subprocess.CalledProcessError) as error:
        return {**result, "nbgrader": {"available": False, "why": f"nbgrader {nbg.NBGRADER_VERSION}: {error}"}}
    for run in range(runs):
        order = ("nbgrader", "ours", "ours-cold") if run % 2 == 0 else ("ours-cold", "ours", "nbgrader")
        for grader in order:
            print(f"side by side, run {run + 1}/{runs}: {grader}", flush=True)
            if grader == "ours":
                ours.append(our_gradebook_seconds(cohort, work / "side-by-side-grades"))
                continue
            if grader == "ours-cold":
                cold.append(our_gradebook_seconds(cohort, work / "side-by-side-cold", cold=True))
                continue
            nbg.build_course(NBGRADER_FOLDER, solution, SHIPPED_DATA_DIR, names, CELL_TIMEOUT)
            log.unlink(missing_ok=True)
            try:
                nbg.run_nbgrader(NBGRADER_FOLDER, binary, ["generate_assignment", nbg.ASSIGNMENT, "--force"], log, 900)
                started = time.perf_counter()
                nbg.run_nbgrader(NBGRADER_FOLDER, binary, ["autograde", nbg.ASSIGNMENT, "--force"], log, 3600)
                theirs.append(time.perf_counter() - started)
            except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
                why = f"nbgrader {nbg.NBGRADER_VERSION} failed: {error}; log tail: {tail}"
                measured = {"ours": _throughput(ours, learners)} if ours else {}
                return {**result, **measured, "nbgrader": {"available": False, "why": why}}
    scores = nbg.autograded_scores(NBGRADER_FOLDER, binary)
    ours_rows = _rows(work / "side-by-side-grades")
    result["ours"] = {**_throughput(ours, learners), "isolation": sorted({row["isolation"] for row in ours_rows})}
    result["ours_cold"] = {**_throughput(cold, learners), "what": "gradebook --cold: a new Python per run"}
    result["nbgrader"] = {
        "available": True,
        "version": nbg.NBGRADER_VERSION,
        **_throughput(theirs, learners),
        "scores": sorted(set(scores.values())),
        "max_points": nbg.max_points(),
        "checks": "9 points in 5 test cells run in the learner's kernel against the shipped ledger "
        "(see grading/nbgrader_course.py); no sandbox, serial",
    }
    result["ratio_throughput_ours_over_nbgrader"] = round(_median(theirs) / _median(ours), 2)
    result["goal"] = {"ratio": TARGET_RATIO, "met": result["ratio_throughput_ours_over_nbgrader"] >= TARGET_RATIO}
    if set(scores.values()) != {float(nbg.max_points())}:
        raise RuntimeError(f"nbgrader did not give the solved notebooks full points: {scores}")
    if any(
        sum(e["points"] for e in row["modules"].values()) != row_max(row)
        for row in ours_rows + _rows(work / "side-by-side-cold")
    ):
        raise RuntimeError("the course's grader did not give the solved notebooks full points")
    return result


def row_max(row: dict[str, Any]) -> int:
    """The points a learner's row could have had."""
    return sum(entry.get("max_points") or 0 for entry in row["modules"].values())


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(out.glob("*/row.json"))]


def cohort_problems(learners: list[Learner], out: Path, modules: list[str]) -> list[str]:
    """What is wrong with a graded cohort's rows for the learners' kinds; empty when the gradebook is sane."""
    problems = []
    for learner in learners:
        row_path = out / learner.name / "row.json"
        if not row_path.is_file():
            problems.append(f"{learner.name}: no row")
            continue
        row = json.loads(row_path.read_text())
        card = json.loads((out / learner.name / "scorecard.json").read_text())
        for module in modules:
            entry = row["modules"].get(module) or {}
            points, maximum = entry.get("points"), entry.get("max_points") or 0
            expected = _expected(learner.kind, module)
            ok = {
                "full": points == maximum > 0 and not entry.get("flags"),
                "zero-flagged": points == 0 and bool(entry.get("flags")),
                "some": points is not None and 0 < points < maximum,
                "broken": points is not None
                and points < maximum
                and card["modules"][module].get("broken_exercises") == [1],
                "zero": points == 0,
            }[expected]
            if not ok:
                problems.append(f"{learner.name} ({learner.kind}) {module}: {points}/{maximum}, expected {expected}")
        if row["status"] != "ok":
            problems.append(f"{learner.name}: status {row['status']}")
        if learner.kind == "hostile":
            problems += _hostile_problems(learner, out, modules, row["isolation"])
    return problems


def _expected(kind: str, module: str) -> str:
    if kind == "copycat" and module == module_id(1):
        return "zero-flagged"
    return {"partial": "some", "broken": "broken", "unsolved": "zero"}.get(kind, "full")


def _hostile_problems(learner: Learner, out: Path, modules: list[str], isolation: str) -> list[str]:
    problems = [
        f"{learner.name}: wrote {target} outside its sandbox" for target in learner.targets if Path(target).exists()
    ]
    survivors = processes_with(learner.marker)
    if survivors:
        problems.append(f"{learner.name}: processes outlived grading: {survivors}")
    for module in modules:
        seen_path = out / learner.name / "sandbox" / module / "hostile.json"
        if not seen_path.is_file():
            problems.append(f"{learner.name} {module}: the hostile cell did not run")
        elif isolation == "full":
            seen = json.loads(seen_path.read_text())
            if seen["ledgers"] or seen["written"]:
                problems.append(f"{learner.name} {module}: saw ledgers or wrote outside: {seen}")
    return problems


def _clean_up_hostile(learners: list[Learner]) -> None:
    """Remove what a hostile learner managed to leave (only on failed containment), so a rerun starts clean."""
    import signal

    for learner in learners:
        for target in learner.targets:
            Path(target).unlink(missing_ok=True)
        for pid in processes_with(learner.marker) if learner.marker else []:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def seconds_by_kind(learners: list[Learner], out: Path) -> dict[str, float]:
    """Median notebook execution seconds per module run, by learner kind (from the scorecards)."""
    by_kind: dict[str, list[float]] = {}
    for learner in learners:
        card = json.loads((out / learner.name / "scorecard.json").read_text())
        for entry in card["modules"].values():
            by_kind.setdefault(learner.kind, []).append(float(entry["execution"].get("seconds") or 0))
    return {kind: _median(values) for kind, values in sorted(by_kind.items())}


def cohort_run(work: Path, learners: int, modules: list[str]) -> dict[str, Any]:
    """Build and grade the mixed cohort with ``grade_cohort`` (2 workers); wall time and sanity."""
    from grading.gradebook import grade_cohort

    built = build_cohort(work, learners, modules)
    out = work / "cohort-grades"
    started = time.perf_counter()
    grade_cohort(work / "cohort", VARIANT, out, CELL_TIMEOUT, WORKERS, progress=lambda line: print(line, flush=True))
    wall = time.perf_counter() - started
    problems = cohort_problems(built, out, modules)
    _clean_up_hostile(built)
    rows = _rows(out)
    return {
        "learners": learners,
        "modules": modules,
        "workers": WORKERS,
        "mix": {kind: sum(learner.kind == kind for learner in built) for kind in sorted({b.kind for b in built})},
        "zipped": sum(learner.submission.suffix == ".zip" for learner in built),
        "wall_s": round(wall, 3),
        "per_learner_module_s": round(wall / (learners * len(modules)), 3),
        "execution_s_by_kind": seconds_by_kind(built, out),
        "isolation": sorted({row["isolation"] for row in rows}),
        "sanity": {"ok": not problems, "problems": problems},
    }


def solved_module_seconds(work: Path) -> dict[str, float]:
    """One solved learner graded on every module once: grading seconds per module (run + checks).

    From the grader's progress lines: a module's run lasts from its "running" line to its status
    line; its checks, from the previous module's points line (or the last run's end) to its own.
    """
    from grading.grade import grade_submission

    submission = work / "solved-all"
    submission.mkdir(parents=True, exist_ok=True)
    for notebook in course_notebooks(SOLUTIONS_DIR):
        shutil.copy(notebook, submission / notebook.name)
    stamps: list[tuple[float, str]] = []
    grade_submission(
        submission,
        VARIANT,
        work / "solved-all-grades",
        CELL_TIMEOUT,
        progress=lambda line: stamps.append((time.perf_counter(), line)),
    )
    return module_seconds_from_progress(stamps)


def module_seconds_from_progress(stamps: list[tuple[float, str]]) -> dict[str, float]:
    """Per-module seconds from ``grade_submission``'s timestamped progress lines (see solved_module_seconds)."""
    seconds: dict[str, float] = {}
    started: dict[str, float] = {}
    last = None
    for stamp, line in stamps:
        if line.startswith("[") and "running the notebook" in line:
            started[line.split("] ", 1)[1].split(":")[0]] = stamp
        elif line.startswith("["):
            module = line.split("] ", 1)[1].split(":")[0]
            seconds[module] = stamp - started[module]
            last = stamp
        elif last is not None and "points" in line:
            module = line.split(":")[0]
            seconds[module] += stamp - last
            last = stamp
    return {module: round(value, 3) for module, value in seconds.items()}


def extrapolate(cohort: dict[str, Any], solved_s: dict[str, float]) -> dict[str, Any]:
    """Time for 100 learners x 7 modules from the cohort's wall time and the solved per-module seconds."""
    covered = sum(solved_s[module] for module in cohort["modules"])
    k = cohort["wall_s"] / (cohort["learners"] * covered)
    estimate = k * 100 * sum(solved_s[module] for module in MODULE_IDS)
    return {
        "formula": EXTRAPOLATION,
        "k": round(k, 3),
        "solved_module_s": solved_s,
        "learners": 100,
        "modules": len(MODULE_IDS),
        "extrapolated_s": round(estimate, 1),
        "extrapolated_min": round(estimate / 60, 1),
        "goal_s": TARGET_COHORT_S,
        "met": estimate < TARGET_COHORT_S,
    }


def cohort_benchmark(
    learners: int = 20, modules: int = 3, runs: int = 1, side_learners: int = 10, nbgrader: bool = True
) -> dict[str, Any]:
    """Every cohort measurement, JSON-ready; RuntimeError (after printing the result) if the gradebook is not sane."""
    from grading.execute import use_course_kernel

    use_course_kernel()
    stems = [module_id(number) for number in range(1, modules + 1)]
    load = os.getloadavg()
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load_avg_1_5_15_at_start": load}}
    with tempfile.TemporaryDirectory(prefix="course-bench-cohort-") as scratch:
        work = Path(scratch)
        if nbgrader:
            result["side_by_side"] = side_by_side(work / "side", side_learners, runs)
        result["cohort"] = cohort_run(work / "cohort", learners, stems)
        result["extrapolation"] = extrapolate(result["cohort"], solved_module_seconds(work / "solved"))
    result["machine"]["load_avg_1_5_15_at_end"] = os.getloadavg()
    if not result["cohort"]["sanity"]["ok"]:
        print(json.dumps(result, indent=2), file=sys.stderr)
        raise RuntimeError(f"the cohort's gradebook is not sane: {result['cohort']['sanity']['problems']}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.bench_cohort", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build/bench-cohort.json"))
    parser.add_argument("--learners", type=int, default=20, help="learners in the mixed cohort")
    parser.add_argument("--modules", type=int, default=3, choices=range(1, len(MODULE_IDS) + 1), metavar="N")
    parser.add_argument("--runs", type=int, default=1, help="runs of the side-by-side comparison (median)")
    parser.add_argument("--side-learners", type=int, default=10, help="learners in the side-by-side comparison")
    parser.add_argument("--no-nbgrader", action="store_true", help="skip the side-by-side comparison (no network)")
    args = parser.parse_args(argv)
    if min(args.learners, args.runs, args.side_learners) < 1:
        parser.error("--learners, --runs and --side-learners must be at least 1")
    result = cohort_benchmark(args.learners, args.modules, args.runs, args.side_learners, not args.no_nbgrader)
    atomic_write_json(args.out, result)
    print(json.dumps({key: result[key] for key in ("side_by_side", "extrapolation") if key in result}, indent=2))
    print(f"cohort benchmark written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
