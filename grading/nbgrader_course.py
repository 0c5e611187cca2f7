"""nbgrader, side by side: a venv of its own under build/, a minimal course folder, ``autograde`` timed.

nbgrader is installed with uv into ``<folder>/venv`` (never into the course's ``.venv``; the folder is
reused when present) and pinned (``NBGRADER_VERSION``) so that the comparison is against one known
grader. It gets its own Jupyter folders (``JUPYTER_PATH``, config, data, runtime) holding one kernel
spec: a copy of the course kernel's, so both graders execute the notebook with the same Python and
packages (nbgrader's own Python only runs nbgrader).

The course folder holds module 1's solution turned into an nbgrader assignment (``nbgrader_notebook``):
its parameters point at the shipped data, its exercises are solution cells (the course's solution
markers are nbgrader's), every other code cell is a
locked read-only cell, and five autograded test cells (9 points) check, from the shipped variant's
ledger, what module 1's artifact tests check in spirit: future timestamps and outliers quarantined as
such and no other row, no gap left in clean data and missing required values quarantined, exactly the
defective rows quarantined, and the answer on duplicate ids. As nbgrader does, the tests run inside the
learner's kernel.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell

from grading.notebook_io import read_notebook, write_notebook
from grading.paths import KERNEL_NAME
from grading.steps.reference_use import exercise_number

NBGRADER_VERSION = "0.9.6"
"""The newest nbgrader on PyPI when this benchmark was written (it supports Python 3.11 and Jupyter 7)."""
ASSIGNMENT = "m01"
SCHEMA_VERSION = 3  # nbgrader's cell metadata schema in 0.9.x

LOAD_CELL = """\
# nbgrader benchmark: what the tests below compare (the shipped variant's ledger, the artifacts left)
from pathlib import Path as _Path
import pandas as _pd
from mlops_kit.course import module_id as _module_id
from mlops_kit.datagen import read_defect_ledger as _read_ledger
_defects = _read_ledger(_Path(DATA_DIR).parent)
_defects = _defects[_defects["file"] == "reference.csv"]
_folder = _Path(ARTIFACTS_DIR) / _module_id(1)
_read = lambda name: _pd.read_csv(_folder / name, dtype=str, keep_default_na=False, na_values=[""])
_clean, _quarantine = _read("clean.csv"), _read("quarantine.csv")
_reasons = {int(r): set(str(t).split(";")) for r, t in zip(_quarantine["source_row"], _quarantine["reasons"])}
_flagged = lambda code: {row for row, why in _reasons.items() if code in why}
_rows = lambda column, value: set(_defects.loc[_defects[column] == value, "row"].astype(int))
"""

TEST_CELLS = (  # (grade id, points, source)
    ("test-future", 2, 'assert _flagged("future_timestamp:created_at") == _rows("defect", "future_timestamp")'),
    ("test-outliers", 2, 'assert _flagged("outlier:prep_time_min") == _rows("defect", "outlier")'),
    (
        "test-missing",
        2,
        'assert not _clean.drop(columns=["source_row"]).isna().any().any()\n'
        'assert all(any(r.startswith("missing_required:") for r in _reasons.get(row, ())) '
        'for row in _rows("defect", "missing_required"))',
    ),
    ("test-quarantine", 2, 'assert set(_reasons) == _rows("expected_action", "quarantine")'),
    (
        "test-duplicates",
        1,
        'import json as _json\n_answers = _json.loads((_folder / "answers.json").read_text())\n'
        'assert int(_answers["duplicate_id_rows"]) == len(_rows("defect", "duplicate_id"))',
    ),
)


def _metadata(grade_id: str, *, solution: bool = False, points: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "grade": points is not None,
        "solution": solution,
        "locked": not solution,
        "grade_id": grade_id,
        "schema_version": SCHEMA_VERSION,
    }
    if points is not None:
        entry["points"] = points
    return entry


def nbgrader_notebook(solution: nbformat.NotebookNode, data_dir: Path) -> nbformat.NotebookNode:
    """Module 1's solution as an nbgrader source notebook (pure: ``solution`` is not changed).

    The parameters cell points at ``data_dir`` (variant 0) and a relative ``artifacts`` folder; exercise
    cells become solution cells (the course's ``# BEGIN SOLUTION`` markers are nbgrader's too); other code cells
    are locked; the load cell and ``TEST_CELLS`` are appended.
    """
    notebook = copy.deepcopy(solution)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = f'DATA_DIR = "{data_dir}"\nARTIFACTS_DIR = "artifacts"\nVARIANT = 0'
        if exercise_number(cell) is not None:
            cell.metadata["nbgrader"] = _metadata(cell.id, solution=True)
        else:
            cell.metadata["nbgrader"] = _metadata(cell.id)
    load = new_code_cell(LOAD_CELL, id="nbgrader-load")
    load.metadata["nbgrader"] = _metadata(load.id)
    notebook.cells.append(load)
    for grade_id, points, source in TEST_CELLS:
        test = new_code_cell(source, id=grade_id)
        test.metadata["nbgrader"] = _metadata(grade_id, points=points)
        notebook.cells.append(test)
    return notebook


def max_points() -> int:
    """What a solved notebook scores in the nbgrader course."""
    return sum(points for _, points, _ in TEST_CELLS)


def course_config(root: Path, cell_timeout: int) -> str:
    """The nbgrader_config.py of the benchmark course."""
    return (
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        'c.CourseDirectory.course_id = "mlops-bench"\n'
        f"c.Execute.timeout = {int(cell_timeout)}\n"
    )


def kernel_spec() -> dict[str, Any]:
    """The course kernel's spec (the same Python and arguments the course's grader starts)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    return {"argv": spec.argv, "display_name": spec.display_name, "language": spec.language, "env": spec.env}


def jupyter_env(folder: Path) -> dict[str, str]:
    """nbgrader's environment: Jupyter folders of its own, nothing of the course's venv on the path."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR")
    }
    env["PATH"] = f"{folder / 'venv' / 'bin'}:{env.get('PATH', '')}"
    jupyter = folder / "jupyter"
    env.update(
        JUPYTER_PATH=str(jupyter / "data"),
        JUPYTER_DATA_DIR=str(jupyter / "data"),
        JUPYTER_CONFIG_DIR=str(jupyter / "config"),
        JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    return env


def ensure_nbgrader(folder: Path, uv: Path) -> Path:
    """nbgrader ``NBGRADER_VERSION`` in ``folder/venv`` (created with ``uv``, reused when present); its binary."""
    binary = folder / "venv" / "bin" / "nbgrader"
    python = folder / "venv" / "bin" / "python"
    if binary.is_file() and _installed_version(binary, folder) == NBGRADER_VERSION:
        return binary
    shutil.rmtree(folder / "venv", ignore_errors=True)
    python_version = f"{sys.version_info.major}.{sys.version_info.minor}"  # the course's Python, not nbgrader's pick
    subprocess.run([str(uv), "venv", "--quiet", "--python", python_version, str(folder / "venv")], check=True)
    subprocess.run(
        [str(uv), "pip", "install", "--quiet", "--python", str(python), f"nbgrader=={NBGRADER_VERSION}"], check=True
    )
    return binary


def _installed_version(binary: Path, folder: Path) -> str:
    done = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, env=jupyter_env(folder), check=False
    )
    return done.stdout.strip().split()[-1] if done.returncode == 0 and done.stdout.strip() else ""


def build_course(folder: Path, solution_path: Path, data_dir: Path, learners: list[str], cell_timeout: int) -> Path:
    """A fresh nbgrader course in ``folder/course``: config, source, the kernel spec, ``learners``' submissions.

    Each learner hands in the solved source notebook (as a solved learner of the course's cohort does).
    """
    root = folder / "course"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(course_config(root, cell_timeout))
    kernel_dir = folder / "jupyter" / "data" / "kernels" / KERNEL_NAME
    kernel_dir.mkdir(parents=True, exist_ok=True)
    (kernel_dir / "kernel.json").write_text(json.dumps(kernel_spec(), indent=1))
    notebook = nbgrader_notebook(read_notebook(solution_path), data_dir)
    source = write_notebook(notebook, root / "source" / ASSIGNMENT / solution_path.name)
    for learner in learners:
        target = root / "submitted" / learner / ASSIGNMENT / solution_path.name
        target.parent.mkdir(parents=True)
        shutil.copy(source, target)
    return root


def run_nbgrader(folder: Path, binary: Path, arguments: list[str], log: Path, timeout: float) -> None:
    """``nbgrader ARGUMENTS`` in the course folder; CalledProcessError (log kept) when it fails."""
    with open(log, "a", encoding="utf-8") as sink:
        subprocess.run(
            [str(binary), *arguments],
            cwd=folder / "course",
            env=jupyter_env(folder),
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=True,
        )


def autograded_scores(folder: Path, binary: Path) -> dict[str, float]:
    """Learner → points nbgrader gave for the assignment (read from its gradebook with its own Python)."""
    python = binary.parent / "python"
    code = (
        "import json\nfrom nbgrader.api import Gradebook\n"
        f"with Gradebook('sqlite:///{folder / 'course' / 'gradebook.db'}') as gb:\n"
        f"    print(json.dumps({{s.student.id: s.score for s in gb.assignment_submissions({ASSIGNMENT!r})}}))\n"
    )
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, env=jupyter_env(folder), check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
