"""``gradebook``: grade a cohort (one sub-folder per learner) into one CSV, written atomically.

Each learner is graded in a worker process; one learner's broken submission becomes a row
with its error, never a crash. The CSV is rebuilt from the scorecards on every run, one row
per learner folder, so re-running gives the same file and never loses or duplicates a row.
"""

from __future__ import annotations

import csv
import io
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from grading.grade import GradingInputError, grade_submission
from grading.paths import NOTEBOOKS_DIR, course_notebooks, module_id
from grading.secret import GradingSecret
from mlops_kit.io import atomic_write_text


def learner_folders(cohort: Path) -> list[Path]:
    """Each sub-folder of the cohort is one learner's submission, in name order."""
    if not cohort.is_dir():
        raise GradingInputError(f"cohort folder not found: {cohort}")
    folders = sorted(path for path in cohort.iterdir() if path.is_dir() and not path.name.startswith("."))
    if not folders:
        raise GradingInputError(f"{cohort} has no learner sub-folders")
    return folders


def _grade_one(
    learner: Path, variant: int, out_dir: Path, cell_timeout: float, secret: GradingSecret | None
) -> dict[str, Any]:
    """Grade one learner; turn any failure into a row instead of an exception."""
    try:
        result = grade_submission(learner, variant, out_dir, cell_timeout, secret=secret)
    except Exception as error:  # one learner must never stop the cohort
        return {"learner": learner.name, "status": f"error: {error}", "modules": {}}
    status = "ok" if not result.unreadable else "error: " + "; ".join(result.unreadable)
    return {"learner": learner.name, "status": status, "modules": result.card["modules"]}


def gradebook_csv(rows: list[dict[str, Any]], modules: list[str]) -> str:
    """Render gradebook rows: learner, points per module, total, max, status."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["learner", *modules, "total", "max_points", "status"])
    for row in sorted(rows, key=lambda row: row["learner"]):
        points = [row["modules"].get(module, {}).get("points", 0) for module in modules]
        maximum = sum(entry.get("max_points", 0) for entry in row["modules"].values())
        writer.writerow([row["learner"], *points, sum(points), maximum, row["status"]])
    return buffer.getvalue()


def grade_cohort(
    cohort: Path,
    variant: int,
    out_dir: Path,
    cell_timeout: float = 120.0,
    workers: int = 2,
    secret: GradingSecret | None = None,
) -> Path:
    """Grade every learner of ``cohort`` into ``out_dir/<learner>/`` and write ``gradebook.csv``."""
    learners = learner_folders(cohort)
    modules = [module_id(path) for path in course_notebooks(NOTEBOOKS_DIR)]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [
            pool.submit(_grade_one, learner, variant, out_dir / learner.name, cell_timeout, secret)
            for learner in learners
        ]
        rows = [future.result() for future in futures]
    return atomic_write_text(out_dir / "gradebook.csv", gradebook_csv(rows, modules))
