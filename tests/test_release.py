"""Release: solutions → learner notebooks (stubs, cleared outputs, locked cells), and staleness."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grading.notebook_io import NotebookError, read_notebook
from grading.paths import NOTEBOOKS_DIR, SOLUTIONS_DIR, course_notebooks
from grading.release import release, release_notebook, stale_notebooks
from grading.steps.cell_roles import is_exercise, is_locked, lock_intact
from grading.steps.mark_cells import EXERCISE_MARKER, LOCKED_MARKER, without_marker
from grading.steps.restore_locked import restore_locked
from grading.steps.strip_solutions import SolutionMarkerError, strip_source


def _notebook(*sources: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Title", id="title")]
    for number, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source, id=f"c{number}")
        cell.outputs = [nbformat.v4.new_output("stream", text="out")]
        cell.execution_count = number + 1
        notebook.cells.append(cell)
    return notebook


def test_strip_replaces_region_and_uncomments_stub_lines() -> None:
    source = "def f(x):\n    # BEGIN SOLUTION\n    return x + 1\n    # END SOLUTION\n    # STUB: return None\nprint(1)"
    assert strip_source(source) == "def f(x):\n    # YOUR CODE HERE\n    return None\nprint(1)"


def test_strip_without_stub_lines_leaves_a_comment() -> None:
    assert strip_source("# BEGIN SOLUTION\nx = 1\n# END SOLUTION") == "# YOUR CODE HERE"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("# BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n# END SOLUTION", "without a matching begin"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "nested"),
    ],
)
def test_unbalanced_markers_are_named(source: str, problem: str) -> None:
    with pytest.raises(SolutionMarkerError, match=problem):
        strip_source(source, where="cell 3")


def test_release_locks_instructor_cells_and_keeps_exercises_editable() -> None:
    released = release_notebook(_notebook("import os", "# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n# STUB: x = None"))
    title, setup, exercise = released.cells
    assert is_locked(title) and is_locked(setup) and lock_intact(setup) and setup.metadata["editable"] is False
    assert is_exercise(exercise) and not is_locked(exercise)
    assert exercise.source == f"{EXERCISE_MARKER}\n# YOUR CODE HERE\nx = None"
    assert setup.source == f"{LOCKED_MARKER}\nimport os" and title.source == "# Title"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in released.cells[1:])


def test_release_marks_exercise_headings_once_and_marking_is_idempotent() -> None:
    solution = _notebook("import os", "# BEGIN SOLUTION\nx = 1\n# END SOLUTION")
    solution.cells.insert(1, nbformat.v4.new_markdown_cell("## Exercise 1 — do it", id="ex1-md"))
    once = release_notebook(solution)
    twice = release_notebook(once)
    assert once.cells[1].source == "## ✏️ Exercise 1 — do it"
    assert [cell.source for cell in twice.cells[2:]] == [cell.source for cell in once.cells[2:]]


def test_release_refuses_a_stub_that_is_not_python() -> None:
    with pytest.raises(SolutionMarkerError, match="not valid Python"):
        release_notebook(_notebook("x = {\n# BEGIN SOLUTION\n'a': 1\n# END SOLUTION\n# STUB: ]"))


def test_learner_notebooks_are_not_stale() -> None:
    """notebooks/ must be exactly what `python -m grading release` produces from solutions/."""
    assert course_notebooks(SOLUTIONS_DIR), "no solution notebooks found"
    assert stale_notebooks() == [], "notebooks/ is stale: run `python -m grading release` and commit"


def test_release_removes_orphans_and_reports_staleness(tmp_path: Path) -> None:
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    nbformat.write(_notebook("x = 1"), solutions / "01_demo.ipynb")
    notebooks.mkdir()
    (notebooks / "09_gone.ipynb").write_text("{}")
    assert set(stale_notebooks(solutions, notebooks)) == {"01_demo.ipynb", "09_gone.ipynb"}
    release(solutions, notebooks)
    assert stale_notebooks(solutions, notebooks) == []
    assert [path.name for path in course_notebooks(notebooks)] == ["01_demo.ipynb"]


def test_solutions_follow_the_notebook_contract() -> None:
    for path in course_notebooks(SOLUTIONS_DIR):
        notebook = read_notebook(path)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), (
            f"{path.name}: first code cell must be tagged parameters"
        )
        for name in ("DATA_DIR", "ARTIFACTS_DIR", "VARIANT"):
            assert f"{name} = " in code[0].source, f"{path.name}: parameters cell must define {name}"
        assert notebook.metadata["kernelspec"]["name"] == "mlops-course"
        assert any(is_exercise(cell) for cell in code), f"{path.name} has no exercise"
        ids = [cell.id for cell in notebook.cells]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate cell ids"
        assert all(cell.outputs for cell in code if "selfcheck." in cell.source), f"{path.name}: commit it executed"


def test_restore_puts_back_edited_and_deleted_locked_cells() -> None:
    official = release_notebook(_notebook("check = 'official'", "# BEGIN SOLUTION\nx = 1\n# END SOLUTION", "write = 1"))
    submission = nbformat.reads(nbformat.writes(official), as_version=4)
    submission.cells[1].source = "check = 'tampered'"
    submission.cells[2].source = "x = 42"
    del submission.cells[3]
    submission.cells.append(nbformat.v4.new_code_cell("helper = 2", id="learner-extra"))
    merged, report = restore_locked(official, submission)
    # the deleted locked cell returns right after its released predecessor; learner cells keep their place
    sources = [without_marker(cell.source) for cell in merged.cells[1:]]
    assert sources == ["check = 'official'", "x = 42", "write = 1", "helper = 2"]
    assert report.restored == ["c0"] and report.reinserted == ["c2"]
    assert any("edited" in line for line in report.messages())


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json {", "invalid notebook JSON"),
        ('{"a": 1}', "without a 'cells' list"),
        ('{"cells": "x"}', "not a valid notebook"),
    ],
)
def test_bad_notebook_files_are_named(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "01_data_validation.ipynb"
    path.write_text(content)
    with pytest.raises(NotebookError, match=problem) as error:
        read_notebook(path)
    assert str(path) in str(error.value)


def test_released_notebooks_have_no_outputs() -> None:
    for path in course_notebooks(NOTEBOOKS_DIR):
        notebook = read_notebook(path)
        assert all(not cell.get("outputs") for cell in notebook.cells), f"{path.name} has outputs"


@pytest.mark.parametrize("solution", course_notebooks(SOLUTIONS_DIR), ids=lambda path: path.stem)
def test_grading_a_solution_reports_no_edited_locked_cells(solution: Path) -> None:
    """The release adds markers to locked cells; a solution without them has edited nothing."""
    official = release_notebook(read_notebook(solution))
    _, report = restore_locked(official, read_notebook(solution))
    assert report.restored == [] and report.reinserted == []
