"""Cohort grading: zip submissions, resumable and idempotent gradebooks, Dask = local."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grading.forkserver import MODULE_IMPORTS
from grading.grade import grade_submission
from grading.gradebook import (
    GRADED_DATA_FOLDER,
    GradingInputError,
    grade_cohort,
    learner_submissions,
    submitted_modules,
    unpack_zip,
)
from grading.paths import NOTEBOOKS_DIR, SOLUTIONS_DIR
from grading.secret import SECRET_ENV, GradingSecret
from grading.synthetic_cohort import zip_submission
from mlops_kit.course import module_id
from mlops_kit.datagen import DATA_FOLDER, LEDGER_FOLDER, ensure_variant, generate_variant, secret_fingerprint

MODULE1 = "01_data_validation.ipynb"
SECRET = GradingSecret("gradebook-test-secret", "test")


@pytest.mark.parametrize("entry", ["../escape.ipynb", "/etc/escape", "a/../../escape", "C:\\escape"])
def test_zip_entries_that_escape_are_refused(tmp_path: Path, entry: str) -> None:
    archive = zip_submission(tmp_path / "mallory.zip", {MODULE1: b"{}", entry: b"x"})
    with pytest.raises(GradingInputError, match="refused entry"):
        unpack_zip(archive, tmp_path / "out")
    assert not (tmp_path / "escape.ipynb").exists() and not (tmp_path / "out" / MODULE1).exists()


def test_a_zip_link_entry_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        info = zipfile.ZipInfo("evil")
        info.external_attr = 0o120777 << 16
        bundle.writestr(info, "/etc/passwd")
    with pytest.raises(GradingInputError, match="refused entry 'evil'"):
        unpack_zip(archive, tmp_path / "out")


def test_a_zip_with_one_top_folder_is_looked_into(tmp_path: Path) -> None:
    archive = zip_submission(tmp_path / "alice.zip", {f"alice/{MODULE1}": (NOTEBOOKS_DIR / MODULE1).read_bytes()})
    folder = unpack_zip(archive, tmp_path / "out")
    assert (folder / MODULE1).read_bytes() == (NOTEBOOKS_DIR / MODULE1).read_bytes()


def test_learners_are_folders_and_zips_each_once(tmp_path: Path) -> None:
    (tmp_path / "alice").mkdir()
    zip_submission(tmp_path / "bob.zip", {MODULE1: b"{}"})
    (tmp_path / "notes.txt").write_text("not a learner")
    assert list(learner_submissions(tmp_path)) == ["alice", "bob"]
    zip_submission(tmp_path / "alice.zip", {MODULE1: b"{}"})
    with pytest.raises(GradingInputError, match="alice is in the cohort twice"):
        learner_submissions(tmp_path)


def _cohort(root: Path) -> Path:
    cohort = root / "cohort"
    (cohort / "alice").mkdir(parents=True)
    shutil.copy(SOLUTIONS_DIR / MODULE1, cohort / "alice" / MODULE1)
    zip_submission(cohort / "bob.zip", {f"bob/{MODULE1}": (NOTEBOOKS_DIR / MODULE1).read_bytes()})
    zip_submission(cohort / "mallory.zip", {MODULE1: b"{}", "../../escape": b"x"})
    return cohort


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The cohort graded locally once: (cohort, CSV text)."""
    root = tmp_path_factory.mktemp("local")
    cohort = _cohort(root)
    lines: list[str] = []
    path = grade_cohort(cohort, 5, root / "grades", workers=2, secret=SECRET, progress=lines.append)
    assert any(line.startswith("[3/3]") for line in lines), lines
    return cohort, path.read_text()


@pytest.mark.slow
def test_a_cohort_of_folders_and_zips_is_graded(local: tuple[Path, str]) -> None:
    rows = {row["learner"]: row for row in csv.DictReader(local[1].splitlines())}
    assert list(rows) == ["alice", "bob", "mallory"]
    assert rows["alice"]["total"] == rows["alice"]["max_points"] != "0" and rows["alice"]["status"] == "ok"
    assert rows["bob"]["total"] == "0" and rows["bob"]["status"] == "ok"
    assert rows["mallory"]["total"] == "0" and "refused entry" in rows["mallory"]["status"]
    assert not (local[0].parent / "escape").exists()


@pytest.mark.slow
def test_the_cohort_data_is_generated_once_without_its_ledger(local: tuple[Path, str], tmp_path: Path) -> None:
    shared = sorted((local[0].parent / "grades" / GRADED_DATA_FOLDER).iterdir())
    assert [path.name for path in shared] == [f"v5-{secret_fingerprint(SECRET.value)}-data"]
    assert not (shared[0] / LEDGER_FOLDER).exists()
    expected = generate_variant(5, tmp_path / "expected", SECRET.value, ledger=False) / DATA_FOLDER
    files = sorted(path.relative_to(expected) for path in expected.rglob("*") if path.is_file())
    assert files == sorted(
        p.relative_to(shared[0] / DATA_FOLDER) for p in (shared[0] / DATA_FOLDER).rglob("*") if p.is_file()
    )
    assert all((expected / name).read_bytes() == (shared[0] / DATA_FOLDER / name).read_bytes() for name in files)


def test_graded_data_of_another_variant_is_refused(tmp_path: Path) -> None:
    other = ensure_variant(6, tmp_path / "shared", SECRET.value, ledger=False)
    (tmp_path / "learner").mkdir()
    shutil.copy(SOLUTIONS_DIR / MODULE1, tmp_path / "learner" / MODULE1)
    with pytest.raises(GradingInputError, match="does not hold variant 5's data"):
        grade_submission(tmp_path / "learner", 5, tmp_path / "out", secret=SECRET, warm=False, graded_data=other)
    with_ledger = ensure_variant(5, tmp_path / "shared", SECRET.value)
    with pytest.raises(GradingInputError, match="does not hold variant 5's data"):
        grade_submission(tmp_path / "learner", 5, tmp_path / "out", secret=SECRET, warm=False, graded_data=with_ledger)


@pytest.mark.slow
def test_rerunning_grades_nothing_and_gives_the_same_bytes(local: tuple[Path, str], tmp_path: Path) -> None:
    cohort, first = local
    out = tmp_path / "grades"
    shutil.copytree(cohort.parent / "grades", out)
    lines: list[str] = []
    assert grade_cohort(cohort, 5, out, secret=SECRET, progress=lines.append).read_text() == first
    assert lines == ["gradebook: 3/3 learners already graded, 0 to grade"]


def _finished_rows(gradebook: Path) -> int:
    """Learner rows in the gradebook CSV so far (0 before it exists)."""
    return max(0, len(gradebook.read_text().splitlines()) - 1) if gradebook.exists() else 0


@pytest.mark.slow
def test_killed_with_sigkill_the_rerun_completes_without_loss_or_duplicates(
    local: tuple[Path, str], tmp_path: Path
) -> None:
    cohort, expected = local
    out = tmp_path / "grades"
    command = [sys.executable, "-m", "grading", "gradebook", str(cohort), "--variant", "5", "--out", str(out)]
    env = {**os.environ, SECRET_ENV: SECRET.value}
    process = subprocess.Popen(command + ["--workers", "1"], env=env, start_new_session=True)
    deadline = time.monotonic() + 600
    # the gradebook is rewritten (atomically) after each learner's row.json: wait for the CSV itself
    while time.monotonic() < deadline and _finished_rows(out / "gradebook.csv") < 1:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the gradebook and every grading process under it
    process.wait()
    partial = (out / "gradebook.csv").read_text()
    rows = list(csv.reader(partial.splitlines()))
    assert rows[0][0] == "learner" and 1 <= len(rows) - 1 < 3, "a valid CSV with the rows finished so far"
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert "learners already graded" in rerun.stderr and (out / "gradebook.csv").read_text() == expected


@pytest.mark.slow
def test_grading_on_a_dask_cluster_gives_the_local_gradebook(local: tuple[Path, str], tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    cohort, expected = local
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        path = grade_cohort(cohort, 5, tmp_path / "grades", secret=SECRET, dask_address=cluster.scheduler_address)
    assert path.read_text() == expected


def test_a_changed_submission_or_secret_is_graded_again(tmp_path: Path) -> None:
    from grading.gradebook import submission_key

    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / MODULE1).write_text("one")
    key = submission_key(tmp_path / "alice", 1, SECRET)
    assert key == submission_key(tmp_path / "alice", 1, SECRET)
    assert key != submission_key(tmp_path / "alice", 2, SECRET)
    assert key != submission_key(tmp_path / "alice", 1, GradingSecret("other", "test"))
    (tmp_path / "alice" / MODULE1).write_text("two")
    assert key != submission_key(tmp_path / "alice", 1, SECRET)


def test_the_fork_server_imports_for_the_modules_the_cohort_submitted(tmp_path: Path) -> None:
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / f"{module_id(1)}.ipynb").write_text("{}")
    (folder / "notes.txt").write_text("not a notebook")
    with zipfile.ZipFile(tmp_path / "bob.zip", "w") as archive:
        archive.writestr(f"bob/{module_id(5)}.ipynb", "{}")
    (tmp_path / "broken.zip").write_text("not a zip")
    paths = [folder, tmp_path / "bob.zip", tmp_path / "broken.zip"]
    assert submitted_modules(paths) == {module_id(1), module_id(5)}
    assert MODULE_IMPORTS[module_id(5)] and module_id(1) not in MODULE_IMPORTS
