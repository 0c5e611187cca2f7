"""``grade``: score one learner's submission on a data variant, from the artifacts it produces.

For each course notebook present in the submission: rebuild it on the released notebook
(locked cells restored), execute it in a fresh sandbox on variant N with papermill, then run
the module's artifact tests in a separate pytest process. Expected values come from the
generator's ledger for variant N, which lives outside the sandbox.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grading.checks import run_artifact_checks
from grading.execute import ExecutionOutcome, execute_notebook
from grading.notebook_io import NotebookError, read_notebook, write_notebook
from grading.paths import NOTEBOOKS_DIR, course_notebooks, module_id
from grading.scorecard import explain_failures, module_entry, scorecard, write_scorecard
from grading.steps.clear_outputs import clear_outputs
from grading.steps.restore_locked import restore_locked
from mlops_kit.course import DEFAULT_CELL_TIMEOUT_S
from mlops_kit.datagen import ensure_variant

DEFAULT_CELL_TIMEOUT = DEFAULT_CELL_TIMEOUT_S
# Settings that would send a graded notebook's results outside its sandbox (a shared MLflow
# server, say): graded kernels never see them, so grading reads only what the notebook wrote.
SANDBOX_UNSET_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextmanager
def sandbox_environment() -> Iterator[None]:
    """Hide ``SANDBOX_UNSET_ENV`` from kernels started inside the block; restore it afterwards."""
    saved = {name: os.environ.pop(name) for name in SANDBOX_UNSET_ENV if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


class GradingInputError(ValueError):
    """The submission cannot be graded as given (missing folder, no course notebook...)."""


@dataclass(frozen=True)
class GradeResult:
    """A written scorecard and the notebooks that could not be read."""

    card: dict[str, Any]
    json_path: Path
    markdown_path: Path
    unreadable: list[str]


def submitted_notebooks(submission: Path, released_dir: Path = NOTEBOOKS_DIR) -> dict[str, Path]:
    """Map module id → submitted notebook, for each released notebook the submission holds."""
    if not submission.is_dir():
        raise GradingInputError(f"submission folder not found: {submission}")
    released = {path.name for path in course_notebooks(released_dir)}
    present = {
        module_id(released_dir / name): submission / name for name in sorted(released) if (submission / name).exists()
    }
    if not present:
        expected = ", ".join(sorted(released)) or "(no released notebooks)"
        raise GradingInputError(f"{submission} holds none of the course notebooks; expected file names: {expected}")
    return present


def grade_submission(
    submission: Path,
    variant: int,
    out_dir: Path,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    released_dir: Path = NOTEBOOKS_DIR,
) -> GradeResult:
    """Grade every module present in ``submission`` and write the scorecard into ``out_dir``."""
    if variant < 0:
        raise GradingInputError(f"--variant must be 0 or more, got {variant}")
    submission, out_dir = submission.resolve(), out_dir.resolve()  # the kernel runs in the sandbox
    notebooks = submitted_notebooks(submission, released_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    modules: dict[str, dict[str, Any]] = {}
    unreadable: list[str] = []
    with tempfile.TemporaryDirectory(prefix="grading-variants-") as private, sandbox_environment():
        variant_dir = ensure_variant(variant, Path(private))
        for module, notebook_path in notebooks.items():
            entry, problem = grade_module(
                module, notebook_path, released_dir, variant_dir, variant, out_dir, cell_timeout
            )
            modules[module] = entry
            if problem:
                unreadable.append(problem)
    card = scorecard(variant, str(submission), modules)
    json_path, markdown_path = write_scorecard(card, out_dir)
    return GradeResult(card, json_path, markdown_path, unreadable)


def grade_module(
    module: str,
    notebook_path: Path,
    released_dir: Path,
    variant_dir: Path,
    variant: int,
    out_dir: Path,
    cell_timeout: float,
) -> tuple[dict[str, Any], str | None]:
    """Execute one module's notebook in a fresh sandbox and run its artifact checks.

    Returns the scorecard entry and, for a submitted file that is not a readable notebook,
    the error naming it (its checks then run against an empty sandbox and fail).
    """
    official = read_notebook(released_dir / notebook_path.name)
    sandbox = out_dir / "sandbox" / module
    shutil.rmtree(sandbox, ignore_errors=True)
    (sandbox / "artifacts").mkdir(parents=True)
    shutil.copytree(variant_dir / "data", sandbox / "data")
    notes: list[str] = []
    unreadable: str | None = None
    try:
        submitted = read_notebook(notebook_path)
    except NotebookError as error:
        unreadable = str(error)
        outcome = ExecutionOutcome("not_run", f"not graded: {error}", 0.0, "")
    else:
        merged, restore_report = restore_locked(official, submitted)
        notes = restore_report.messages()
        input_path = write_notebook(clear_outputs(merged), sandbox / notebook_path.name)
        outcome = execute_notebook(
            input_path,
            sandbox / f"executed_{notebook_path.name}",
            parameters={
                "DATA_DIR": str(sandbox / "data"),
                "ARTIFACTS_DIR": str(sandbox / "artifacts"),
                "VARIANT": variant,
            },
            cwd=sandbox,
            cell_timeout=cell_timeout,
        )
    checks = run_artifact_checks(module, sandbox / "artifacts", sandbox / "data", variant_dir, variant, sandbox)
    if not outcome.ok:
        checks = explain_failures(checks, f"notebook stopped: {outcome.message}")
    return module_entry(checks, outcome.to_dict(), notes), unreadable
