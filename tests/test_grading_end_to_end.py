"""Grading for real: papermill kernels, artifact tests in a separate process, scorecards.

Slow (each grade executes notebooks), so each scenario is graded once per session.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from grading_support import GRADED_VARIANT, graded_solutions_group

from grading.forkserver import SOCKET_ENV, ForkServer
from grading.grade import grade_submission
from grading.paths import NOTEBOOKS_DIR, SOLUTIONS_DIR, course_notebooks
from mlops_kit.course import module_id

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _warm_grading(fork_server: ForkServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """These gradings fork from the session's fork server, found as a cohort's jobs find theirs."""
    monkeypatch.setenv(SOCKET_ENV, str(fork_server.socket_path))


MODULE1 = module_id(1)


def _submission(tmp: Path, source: Path, only: str | None = None) -> Path:
    folder = tmp / "submission"
    folder.mkdir(parents=True)
    for notebook in course_notebooks(source):
        if only is None or notebook.stem == only:
            shutil.copy(notebook, folder / notebook.name)
    return folder


def _grade(
    tmp: Path,
    submission: Path,
    variant: int,
    timeout: float = 120,
    upstream: Path | None = None,
    warm: bool | ForkServer = True,
) -> dict[str, Any]:
    result = grade_submission(
        submission, variant, tmp / "out", cell_timeout=timeout, upstream_cache=upstream, warm=warm
    )
    assert json.loads(result.json_path.read_text()) == result.card
    assert result.markdown_path.read_text().startswith("# Scorecard")
    return result.card


def _edit_exercise(notebook_path: Path, cell_id: str, source: str) -> None:
    notebook = nbformat.read(notebook_path, as_version=4)
    cell = next(cell for cell in notebook.cells if cell.id == cell_id)
    cell.source = source
    nbformat.write(notebook, notebook_path)


@pytest.fixture
def solutions_card(graded_solutions: Callable[[int], Any]) -> dict[str, Any]:
    graded = graded_solutions(GRADED_VARIANT)
    assert json.loads((graded.out_dir / "scorecard.json").read_text()) == graded.card
    return graded.card


@pytest.mark.xdist_group(graded_solutions_group(GRADED_VARIANT))
def test_solutions_score_full_points(solutions_card: dict[str, Any]) -> None:
    modules = solutions_card["modules"]
    assert set(modules) == {path.stem for path in course_notebooks(SOLUTIONS_DIR)}
    for module, entry in modules.items():
        failed = [check for check in entry["checks"] if not check["passed"]]
        assert entry["execution"]["status"] == "ok", (module, entry["execution"])
        assert not failed and entry["points"] == entry["max_points"] > 0, (module, failed)


def test_unsolved_release_scores_zero_and_runs_to_the_end(
    tmp_path: Path, upstream_cache: Path, fork_server: ForkServer
) -> None:
    submission = _submission(tmp_path, NOTEBOOKS_DIR)
    card = _grade(tmp_path, submission, variant=7, upstream=upstream_cache, warm=fork_server)
    for module, entry in card["modules"].items():
        assert entry["execution"]["status"] == "ok", f"{module}: the unsolved notebook must run: {entry['execution']}"
        assert entry["points"] == 0 and entry["max_points"] > 0, (module, entry["checks"])
    executed = nbformat.read(tmp_path / "out" / "sandbox" / MODULE1 / f"executed_{MODULE1}.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.count("not done yet") >= 4


def test_answers_hard_coded_for_the_shipped_data_lose_points_on_another_variant(
    tmp_path: Path, fork_server: ForkServer
) -> None:
    reference = _grade(
        tmp_path / "v0", _submission(tmp_path / "v0", SOLUTIONS_DIR, MODULE1), variant=0, warm=fork_server
    )
    assert reference["modules"][MODULE1]["points"] == reference["modules"][MODULE1]["max_points"]
    answers = json.loads(
        (tmp_path / "v0" / "out" / "sandbox" / MODULE1 / "artifacts" / MODULE1 / "answers.json").read_text()
    )
    submission = _submission(tmp_path / "v7", SOLUTIONS_DIR, MODULE1)
    _edit_exercise(submission / f"{MODULE1}.ipynb", "m01-ex4", f"ANSWERS = {answers!r}")
    card = _grade(tmp_path / "v7", submission, variant=7, warm=fork_server)
    lost = [check["name"] for check in card["modules"][MODULE1]["checks"] if not check["passed"]]
    assert lost and all(name.startswith("answer_") for name in lost), lost


def test_editing_a_locked_cell_changes_nothing(tmp_path: Path, fork_server: ForkServer) -> None:
    submission = _submission(tmp_path, NOTEBOOKS_DIR, MODULE1)
    _edit_exercise(submission / f"{MODULE1}.ipynb", "m01-write", "print('I wrote my own artifacts')")
    entry = _grade(tmp_path, submission, variant=3, warm=fork_server)["modules"][MODULE1]
    assert any("m01-write" in note and "edited" in note for note in entry["notes"])
    assert entry["points"] == 0


def _module1_points_by_exercise(entry: dict[str, Any]) -> dict[int | None, tuple[int, int]]:
    """Exercise → (points, max points) of module 1's checks."""
    totals: dict[int | None, tuple[int, int]] = {}
    for check in entry["checks"]:
        points, maximum = totals.get(check["exercise"], (0, 0))
        totals[check["exercise"]] = (points + check["points"], maximum + check["max_points"])
    return totals


@pytest.mark.parametrize(
    ("cell", "source", "status_word"),
    [
        ("m01-ex3", "import os\nos._exit(1)", "kernel died"),
        ("m01-ex2", "import sys\nsys.exit(0)", "sys.exit"),
        ("m01-ex2", "import time\ntime.sleep(120)", "5 s per-cell limit"),
        ("m01-ex2", 'MISSING_POLICY = {"prep_time_min": Impute("mean")}', "raised"),
    ],
    ids=["dead-kernel", "sys-exit", "timeout", "invalid-choice"],
)
def test_a_broken_exercise_costs_only_its_own_points(
    tmp_path: Path, cell: str, source: str, status_word: str, fork_server: ForkServer
) -> None:
    submission = _submission(tmp_path, SOLUTIONS_DIR, MODULE1)
    _edit_exercise(submission / f"{MODULE1}.ipynb", cell, source)
    timeout = 5 if "sleep" in source else 120
    entry = _grade(tmp_path, submission, variant=5, timeout=timeout, warm=fork_server)["modules"][MODULE1]
    broken = int(cell[-1])
    assert entry["broken_exercises"][0] == broken  # later exercises that need its result may follow it
    note = next(note for note in entry["notes"] if note.startswith(f"Exercise {broken} (cell {cell}) broke the run"))
    assert status_word in note and f"executed_{MODULE1}.ipynb" in note
    assert (tmp_path / "out" / f"executed_{MODULE1}.ipynb").is_file(), "the learner's own run is kept"
    totals = _module1_points_by_exercise(entry)
    assert totals[broken][0] == 0 < totals[broken][1]
    earlier = [exercise for exercise in totals if exercise is not None and exercise < broken]
    assert earlier and all(totals[exercise][0] == totals[exercise][1] for exercise in earlier), totals
    assert all(status_word in c["message"] for c in entry["checks"] if c["exercise"] == broken and not c["passed"])


def test_a_crash_outside_any_exercise_stops_the_module(tmp_path: Path, fork_server: ForkServer) -> None:
    submission = _submission(tmp_path, NOTEBOOKS_DIR, MODULE1)
    notebook = nbformat.read(submission / f"{MODULE1}.ipynb", as_version=4)
    notebook.cells.insert(3, nbformat.v4.new_code_cell("import os\nos._exit(1)", id="learner-crash"))
    nbformat.write(notebook, submission / f"{MODULE1}.ipynb")
    entry = _grade(tmp_path, submission, variant=5, warm=fork_server)["modules"][MODULE1]
    assert entry["execution"]["status"] == "dead_kernel" and entry["points"] == 0
    assert "cell 4 (learner-crash)" in entry["execution"]["message"], "numbered as in the learner's notebook"
    assert all("kernel died" in check["message"] for check in entry["checks"])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grading", *args], capture_output=True, text=True, timeout=300)


def test_cli_grades_with_relative_paths(tmp_path: Path) -> None:
    _submission(tmp_path, SOLUTIONS_DIR, MODULE1)
    completed = subprocess.run(
        [sys.executable, "-m", "grading", "grade", "submission", "--variant", "2", "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    card = json.loads((tmp_path / "out" / "scorecard.json").read_text())
    assert card["modules"][MODULE1]["points"] == card["modules"][MODULE1]["max_points"] > 0


def test_cli_rejects_a_missing_submission(tmp_path: Path) -> None:
    completed = _cli("grade", str(tmp_path / "nobody"), "--variant", "1", "--out", str(tmp_path / "out"))
    assert completed.returncode == 2 and "submission folder not found" in completed.stderr


def test_cli_names_an_invalid_notebook_and_still_writes_the_scorecard(tmp_path: Path) -> None:
    submission = tmp_path / "learner"
    submission.mkdir()
    (submission / f"{MODULE1}.ipynb").write_text('{"cells": [', encoding="utf-8")
    completed = _cli("grade", str(submission), "--variant", "1", "--out", str(tmp_path / "out"))
    assert completed.returncode == 2
    assert f"{MODULE1}.ipynb" in completed.stderr and "invalid notebook JSON" in completed.stderr
    card = json.loads((tmp_path / "out" / "scorecard.json").read_text())
    assert card["modules"][MODULE1]["points"] == 0 and card["modules"][MODULE1]["max_points"] > 0


def test_cli_rejects_a_folder_without_course_notebooks(tmp_path: Path) -> None:
    (tmp_path / "learner").mkdir()
    (tmp_path / "learner" / "notes.txt").write_text("hello")
    completed = _cli("grade", str(tmp_path / "learner"), "--variant", "0", "--out", str(tmp_path / "out"))
    assert completed.returncode == 2 and "none of the course notebooks" in completed.stderr


def test_gradebook_grades_a_cohort_and_rerunning_changes_nothing(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    shutil.copytree(_submission(tmp_path / "a", SOLUTIONS_DIR, MODULE1), cohort / "alice")
    shutil.copytree(_submission(tmp_path / "b", NOTEBOOKS_DIR, MODULE1), cohort / "bob")
    (cohort / "carol").mkdir()
    (cohort / "carol" / f"{MODULE1}.ipynb").write_text("not a notebook")
    completed = _cli("gradebook", str(cohort), "--variant", "4", "--out", str(tmp_path / "grades"))
    assert completed.returncode == 0, completed.stderr
    first = (tmp_path / "grades" / "gradebook.csv").read_text()
    rows = list(csv.reader(first.splitlines()))
    header, body = rows[0], {row[0]: row for row in rows[1:]}
    assert header[0] == "learner" and header[-4:] == ["total", "max_points", "status", "flags"]
    assert list(body) == ["alice", "bob", "carol"]
    total, maximum = header.index("total"), header.index("max_points")
    status = header.index("status")
    assert body["alice"][total] == body["alice"][maximum] != "0" and body["alice"][status] == "ok"
    assert body["bob"][total] == "0" and body["bob"][status] == "ok"
    assert body["carol"][total] == "0" and "invalid notebook JSON" in body["carol"][status]
    assert _cli("gradebook", str(cohort), "--variant", "4", "--out", str(tmp_path / "grades")).returncode == 0
    assert (tmp_path / "grades" / "gradebook.csv").read_text() == first


def test_run_executes_the_chosen_modules_in_course_order_into_a_build_folder(tmp_path: Path) -> None:
    """``run --module`` executes only the modules named, in course order (every module runs in nbval)."""
    chosen = [module_id(2), module_id(1)]
    args = ["run", str(SOLUTIONS_DIR), "--out", str(tmp_path / "run"), "--variant", "2"]
    completed = _cli(*args, "--module", "2", "--module", f"{module_id(1)}.ipynb")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    from mlops_kit.artifacts import read_module_manifest

    executed = sorted(path.stem for path in (tmp_path / "run").glob("*.ipynb"))
    assert executed == sorted(chosen)
    assert completed.stdout.index(f"[1/2] {module_id(1)}") < completed.stdout.index(f"[2/2] {module_id(2)}")
    for module in chosen:
        manifest = read_module_manifest(tmp_path / "run" / "artifacts", module)
        assert manifest["variant"] == 2 and manifest["module"] == module
    refused = _cli("run", str(SOLUTIONS_DIR), "--out", str(tmp_path / "none"), "--module", "99")
    assert refused.returncode != 0 and "99" in refused.stderr and not (tmp_path / "none").exists()


def test_release_check_reports_fresh_notebooks() -> None:
    completed = _cli("release", "--check")
    assert completed.returncode == 0, completed.stderr


def test_graded_kernels_see_neither_a_shared_tracking_server_nor_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from grading.sandbox import sandbox_env
    from grading.secret import SECRET_ENV

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://class-server/mlflow")
    monkeypatch.setenv(SECRET_ENV, "instructor-only")
    env = sandbox_env(Path("/sandbox/home"))
    assert "MLFLOW_TRACKING_URI" not in env and SECRET_ENV not in env
    assert "instructor-only" not in json.dumps(env) and env["OPENBLAS_NUM_THREADS"] == "1"
