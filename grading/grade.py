"""``grade``: score one learner's submission on a data variant, from the artifacts it produces.

For each course notebook present in the submission: rebuild it on the released notebook
(locked cells restored), execute it in a fresh sandbox on variant N with papermill, then run
the module's artifact tests in a separate pytest process. The graded data come from a seed
that mixes the instructor's secret into the variant label (``grading.secret``); kernels get
the data only. The ledger with the expected values is generated after every kernel of the
submission has ended, so it exists nowhere while learner code runs.
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
from grading.secret import SECRET_ENV, GradingSecret, resolve_secret
from grading.steps.clear_outputs import clear_outputs
from grading.steps.restore_locked import restore_locked
from mlops_kit.datagen import DATA_FOLDER, ensure_variant, generate_variant

DEFAULT_CELL_TIMEOUT = 120.0
# Settings that would send a graded notebook's results outside its sandbox (a shared MLflow
# server, say): graded kernels never see them, so grading reads only what the notebook wrote.
# The grading secret is never handed to a kernel either.
SANDBOX_UNSET_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", SECRET_ENV)


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


@dataclass
class ModuleRun:
    """One module's execution: its sandbox, how the run ended, restore notes, unreadable input."""

    module: str
    sandbox: Path
    outcome: ExecutionOutcome
    notes: list[str]
    unreadable: str | None


def grade_submission(
    submission: Path,
    variant: int,
    out_dir: Path,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    released_dir: Path = NOTEBOOKS_DIR,
    secret: GradingSecret | None = None,
) -> GradeResult:
    """Grade every module present in ``submission`` and write the scorecard into ``out_dir``."""
    if variant < 0:
        raise GradingInputError(f"--variant must be 0 or more, got {variant}")
    secret = secret or resolve_secret()
    submission, out_dir = submission.resolve(), out_dir.resolve()  # the kernel runs in the sandbox
    notebooks = submitted_notebooks(submission, released_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grading-variants-") as private, sandbox_environment():
        data_only = generate_variant(variant, Path(private) / "data-only", secret.value, ledger=False)
        runs = [
            run_module(module, path, released_dir, data_only / DATA_FOLDER, variant, out_dir, cell_timeout)
            for module, path in notebooks.items()
        ]
        variant_dir = ensure_variant(variant, Path(private), secret.value)  # the ledger: only now
        modules = {run.module: check_module(run, variant_dir, variant) for run in runs}
    card = scorecard(variant, str(submission), modules, secret.source)
    json_path, markdown_path = write_scorecard(card, out_dir)
    return GradeResult(card, json_path, markdown_path, [run.unreadable for run in runs if run.unreadable])


def run_module(
    module: str,
    notebook_path: Path,
    released_dir: Path,
    data_dir: Path,
    variant: int,
    out_dir: Path,
    cell_timeout: float,
) -> ModuleRun:
    """Execute one module's notebook in a fresh sandbox holding a copy of the graded data.

    A submitted file that is not a readable notebook is not run; its error names it.
    """
    official = read_notebook(released_dir / notebook_path.name)
    sandbox = out_dir / "sandbox" / module
    shutil.rmtree(sandbox, ignore_errors=True)
    (sandbox / "artifacts").mkdir(parents=True)
    shutil.copytree(data_dir, sandbox / "data")
    try:
        submitted = read_notebook(notebook_path)
    except NotebookError as error:
        outcome = ExecutionOutcome("not_run", f"not graded: {error}", 0.0, "")
        return ModuleRun(module, sandbox, outcome, [], str(error))
    merged, restore_report = restore_locked(official, submitted)
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
    return ModuleRun(module, sandbox, outcome, restore_report.messages(), None)


def check_module(run: ModuleRun, variant_dir: Path, variant: int) -> dict[str, Any]:
    """Run the module's artifact tests on what the notebook left; its scorecard entry.

    The tests read the grader's own copy of the data, never the sandbox's (which the notebook could edit).
    """
    checks = run_artifact_checks(
        run.module, run.sandbox / "artifacts", variant_dir / DATA_FOLDER, variant_dir, variant, run.sandbox
    )
    if not run.outcome.ok:
        checks = explain_failures(checks, f"notebook stopped: {run.outcome.message}")
    return module_entry(checks, run.outcome.to_dict(), run.notes)
