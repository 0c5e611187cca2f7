"""The learner's workspace: created from the release, never overwritten, told about newer releases."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading.grade import submitted_notebooks
from grading.mlflow_ui import main as mlflow_ui_main
from grading.notebook_io import read_notebook, write_notebook
from grading.paths import SOLUTIONS_DIR, course_notebooks
from grading.release import release, stale_notebooks
from grading.steps.cell_roles import is_exercise
from grading.workspace import RELEASE_RECORD, main, read_release_record, sync_workspace
from mlops_kit.course import module_id

MODULE1 = "01_data_validation.ipynb"
MY_ANSWER = "# my own work, not the stub\nMY_ANSWER = 42"


def _course_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A released notebooks/ folder and a workspace/ next to it, as in the repository."""
    notebooks = tmp_path / "notebooks"
    release(SOLUTIONS_DIR, notebooks)
    return notebooks, tmp_path / "workspace"


def _edit_first_exercise(path: Path) -> str:
    notebook = read_notebook(path)
    exercise = next(cell for cell in notebook.cells if is_exercise(cell))
    exercise.source = MY_ANSWER
    write_notebook(notebook, path)
    return exercise.id


def test_first_sync_copies_every_released_notebook_and_records_the_release(tmp_path: Path) -> None:
    notebooks, workspace = _course_copy(tmp_path)
    report = sync_workspace(workspace, notebooks)
    names = [path.name for path in course_notebooks(notebooks)]
    assert report.copied == names and not report.changed_upstream
    for name in names:
        assert (workspace / name).read_bytes() == (notebooks / name).read_bytes()
    assert set(read_release_record(workspace)) == set(names)


def test_release_and_staleness_check_leave_the_learners_edit_intact(tmp_path: Path) -> None:
    notebooks, workspace = _course_copy(tmp_path)
    sync_workspace(workspace, notebooks)
    cell_id = _edit_first_exercise(workspace / MODULE1)
    edited = (workspace / MODULE1).read_bytes()

    release(SOLUTIONS_DIR, notebooks)
    assert stale_notebooks(SOLUTIONS_DIR, notebooks) == []
    report = sync_workspace(workspace, notebooks)  # what `make lab` does next

    assert (workspace / MODULE1).read_bytes() == edited
    cell = next(cell for cell in read_notebook(workspace / MODULE1).cells if cell.id == cell_id)
    assert cell.source == MY_ANSWER
    assert MODULE1 in report.kept and not report.copied


def test_a_new_release_of_a_notebook_is_announced_and_the_learners_copy_kept(tmp_path: Path) -> None:
    notebooks, workspace = _course_copy(tmp_path)
    sync_workspace(workspace, notebooks)
    _edit_first_exercise(workspace / MODULE1)
    mine = (workspace / MODULE1).read_bytes()
    new_release = read_notebook(notebooks / MODULE1)
    new_release.cells[0].source += "\n\nA paragraph added in a later release."
    write_notebook(new_release, notebooks / MODULE1)

    report = sync_workspace(workspace, notebooks)
    assert report.changed_upstream == [MODULE1]
    assert (workspace / MODULE1).read_bytes() == mine
    message = " ".join(report.lines(workspace, notebooks))
    assert "kept" in message and str(notebooks / MODULE1) in message

    (workspace / MODULE1).rename(workspace / "my_01.ipynb")  # the learner asks for the new version
    again = sync_workspace(workspace, notebooks)
    assert again.copied == [MODULE1] and not again.changed_upstream
    assert (workspace / MODULE1).read_bytes() == (notebooks / MODULE1).read_bytes()


def test_a_notebook_the_learner_deleted_comes_back_and_others_stay(tmp_path: Path) -> None:
    notebooks, workspace = _course_copy(tmp_path)
    sync_workspace(workspace, notebooks)
    _edit_first_exercise(workspace / MODULE1)
    mine = (workspace / MODULE1).read_bytes()
    second = course_notebooks(notebooks)[1].name
    (workspace / second).unlink()
    (workspace / RELEASE_RECORD).write_text("not json")  # a damaged record costs only the notice

    report = sync_workspace(workspace, notebooks)
    assert report.copied == [second] and (workspace / MODULE1).read_bytes() == mine


def test_the_workspace_is_a_gradeable_submission(tmp_path: Path) -> None:
    notebooks, workspace = _course_copy(tmp_path)
    sync_workspace(workspace, notebooks)
    (workspace / "artifacts" / module_id(1)).mkdir(parents=True)
    found = submitted_notebooks(workspace, notebooks)
    assert sorted(found) == [path.stem for path in course_notebooks(notebooks)]


def test_command_line_reports_and_refuses_an_empty_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notebooks, workspace = _course_copy(tmp_path)
    assert main(["--workspace", str(workspace), "--notebooks", str(notebooks)]) == 0
    assert f"new in your workspace: {workspace / MODULE1}" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--workspace", str(tmp_path / "w2"), "--notebooks", str(empty)]) == 2
    assert "no released notebooks" in capsys.readouterr().err


def test_mlflow_ui_refuses_a_missing_database_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "artifacts" / "mlflow.db"
    assert mlflow_ui_main(["--db", str(db)]) == 2
    error = capsys.readouterr().err
    assert str(db) in error and "module 3" in error
    assert not db.exists() and not db.parent.exists()
