"""The cohort benchmark's parts that must not rot: the nbgrader course builder, the mix, the extrapolation.

nbgrader itself (installed from the package index) runs only in ``make bench`` (grading/bench_cohort.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grading.bench_cohort import cohort_run, extrapolate, module_seconds_from_progress
from grading.nbgrader_course import (
    ASSIGNMENT,
    LOAD_CELL,
    TEST_CELLS,
    build_course,
    jupyter_env,
    max_points,
    nbgrader_notebook,
)
from grading.notebook_io import read_notebook
from grading.paths import REPO_ROOT, SOLUTIONS_DIR
from grading.steps.reference_use import exercise_number
from mlops_kit.course import MODULE_IDS, module_id
from mlops_kit.data import SHIPPED_DATA_DIR

MODULE1 = module_id(1)
SOLUTION = SOLUTIONS_DIR / f"{MODULE1}.ipynb"


def test_the_solution_becomes_an_nbgrader_assignment() -> None:
    solution = read_notebook(SOLUTION)
    before = json.dumps(solution, sort_keys=True)
    notebook = nbgrader_notebook(solution, SHIPPED_DATA_DIR)
    assert json.dumps(solution, sort_keys=True) == before, "the solution is not changed"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert f'DATA_DIR = "{SHIPPED_DATA_DIR}"' in code[0].source and 'ARTIFACTS_DIR = "artifacts"' in code[0].source
    marks = {cell.id: cell.metadata["nbgrader"] for cell in code}
    assert len({mark["grade_id"] for mark in marks.values()}) == len(code), "grade ids are unique"
    exercises = [cell for cell in code if exercise_number(cell) is not None]
    assert exercises and all(marks[cell.id]["solution"] and not marks[cell.id]["locked"] for cell in exercises)
    assert all("BEGIN SOLUTION" in cell.source and "END SOLUTION" in cell.source for cell in exercises)
    others = [cell for cell in code if exercise_number(cell) is None]
    assert all(marks[cell.id]["locked"] and not marks[cell.id]["solution"] for cell in others)
    graded = [mark for mark in marks.values() if mark["grade"]]
    assert [mark["grade_id"] for mark in graded] == [grade_id for grade_id, _, _ in TEST_CELLS]
    assert sum(mark["points"] for mark in graded) == max_points() == 9


def _module1_artifacts(folder: Path, answers_shift: int = 0) -> None:
    """Module 1's artifacts on the shipped data, written by the reference rules (what a solved notebook leaves)."""
    from grading.selfcheck.module01 import _answers_from_report
    from mlops_kit.data import file_period, load_orders
    from mlops_kit.io import atomic_write_json
    from mlops_kit.validation import reference_rules, validate, write_validation_artifacts

    cutoff = file_period(SHIPPED_DATA_DIR, "reference")[1]
    result = validate(load_orders(SHIPPED_DATA_DIR, "reference"), reference_rules(cutoff), source="reference.csv")
    write_validation_artifacts(result, folder / MODULE1)
    answers = _answers_from_report(result.report)
    answers["duplicate_id_rows"] = int(answers["duplicate_id_rows"]) + answers_shift
    atomic_write_json(folder / MODULE1 / "answers.json", answers)


def _run_tests(artifacts: Path) -> list[str]:
    """The nbgrader test cells run as nbgrader would (one namespace); the grade ids that failed."""
    namespace = {"DATA_DIR": str(SHIPPED_DATA_DIR), "ARTIFACTS_DIR": str(artifacts)}
    exec(LOAD_CELL, namespace)
    failed = []
    for grade_id, _, source in TEST_CELLS:
        try:
            exec(source, namespace)
        except AssertionError:
            failed.append(grade_id)
    return failed


def test_the_nbgrader_tests_pass_on_a_right_answer_and_fail_on_a_wrong_one(tmp_path: Path) -> None:
    _module1_artifacts(tmp_path / "right")
    assert _run_tests(tmp_path / "right") == []
    _module1_artifacts(tmp_path / "wrong", answers_shift=1)
    assert _run_tests(tmp_path / "wrong") == ["test-duplicates"]


def test_the_nbgrader_course_has_its_own_jupyter_folders(tmp_path: Path) -> None:
    root = build_course(tmp_path, SOLUTION, SHIPPED_DATA_DIR, ["a", "b"], 300)
    assert (root / "source" / ASSIGNMENT / SOLUTION.name).is_file()
    assert all((root / "submitted" / name / ASSIGNMENT / SOLUTION.name).is_file() for name in ("a", "b"))
    assert f"CourseDirectory.root = {str(root)!r}" in (root / "nbgrader_config.py").read_text()
    spec = json.loads((tmp_path / "jupyter" / "data" / "kernels" / "mlops-course" / "kernel.json").read_text())
    assert spec["argv"][0].startswith(str(REPO_ROOT)), "the kernel is the course's Python"
    env = jupyter_env(tmp_path)
    folders = ("JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR")
    assert "VIRTUAL_ENV" not in env and all(env[key].startswith(str(tmp_path)) for key in folders)
    assert env["PATH"].startswith(str(tmp_path / "venv" / "bin"))


def test_module_seconds_and_the_extrapolation_follow_the_stated_formula() -> None:
    lines = [
        (0.0, f"[1/2] {MODULE1}: running the notebook in its sandbox"),
        (4.0, f"[1/2] {MODULE1}: ok (3.9 s)"),
        (4.0, "[2/2] 02_x: running the notebook in its sandbox"),
        (10.0, "[2/2] 02_x: ok (5.9 s)"),
        (11.0, f"{MODULE1}: 11 / 11 points"),
        (13.0, "02_x: 15 / 15 points"),
    ]
    assert module_seconds_from_progress(lines) == {MODULE1: 5.0, "02_x": 8.0}
    solved = dict.fromkeys(MODULE_IDS, 10.0)
    estimate = extrapolate({"wall_s": 100.0, "learners": 20, "modules": [MODULE1]}, solved)
    assert estimate["k"] == 0.5  # 100 s / (20 learners x 10 s)
    assert estimate["extrapolated_s"] == 0.5 * 100 * 10.0 * len(MODULE_IDS)


@pytest.mark.slow
def test_a_tiny_mixed_cohort_is_graded_and_sane(tmp_path: Path) -> None:
    result = cohort_run(tmp_path, 2, [MODULE1])
    assert result["sanity"] == {"ok": True, "problems": []}
    assert result["mix"] == {"hostile": 1, "solved": 1} and result["wall_s"] > 0
