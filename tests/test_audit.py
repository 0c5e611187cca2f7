"""The ML Test Score audit on the solved course's artifacts and on a partial learner's.

The artifacts are the reference solutions' own, graded on ``GRADED_VARIANT`` once per session (shared with the
end-to-end grading tests): each module's folder is taken from its sandbox, the MLflow database from
module 3's. Expected values come from the rubric file and the folders present, never from a score
written here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from grading_support import GRADED_VARIANT, graded_solutions_group

from grading.audit import POINTS, audit, load_rubric, write_audit
from grading.cli import main
from grading.paths import REPO_ROOT
from grading.site import module_titles
from mlops_kit.course import MODULE_IDS, module_id

pytestmark = pytest.mark.xdist_group(graded_solutions_group(GRADED_VARIANT))


def _assemble(graded: Any, target: Path, modules: list[str]) -> Path:
    """A learner's artifacts folder holding only ``modules`` (as each notebook left them in its sandbox)."""
    target.mkdir(parents=True)
    for mid in modules:
        shutil.copytree(graded.sandbox / mid / "artifacts" / mid, target / mid)
    registry = module_id(3)
    if registry in modules:
        shutil.copy(graded.sandbox / registry / "artifacts" / "mlflow.db", target / "mlflow.db")
    return target


@pytest.fixture(scope="module")
def solved(graded_solutions: Callable[[int], Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _assemble(graded_solutions(GRADED_VARIANT), tmp_path_factory.mktemp("audit") / "solved", list(MODULE_IDS))


@pytest.fixture(scope="module")
def partial(graded_solutions: Callable[[int], Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _assemble(
        graded_solutions(GRADED_VARIANT), tmp_path_factory.mktemp("audit") / "partial", [module_id(1), module_id(2)]
    )


def test_the_rubric_has_28_tests_7_per_section_each_mapped_or_explained() -> None:
    rubric = load_rubric()
    tests = rubric["tests"]
    assert len(tests) == 28 and len({t["id"] for t in tests}) == 28
    assert Counter(t["section"] for t in tests) == dict.fromkeys(rubric["sections"], 7)
    titles = module_titles()
    for test in tests:
        if "module" in test:
            assert test["module"] in titles, f"{test['id']}: module {test['module']} is not in the README's table"
        else:
            assert len(test["not_covered"].split()) >= 10, f"{test['id']}: say what a team would do"
    assert {t["module"] for t in tests if "module" in t} == set(titles), "every module demonstrates a test"


def _expected_points(test: dict[str, Any], present: set[int]) -> float:
    return POINTS[test["kind"]] if "module" in test and test["module"] in present else 0.0


def test_solved_course_every_mapped_test_of_a_present_module_is_demonstrated(solved: Path, tmp_path: Path) -> None:
    report = write_audit(solved, tmp_path / "out")
    rubric = load_rubric()
    present = set(range(1, len(MODULE_IDS) + 1))
    by_id = {t["id"]: t for t in report["tests"]}
    for test in rubric["tests"]:
        result = by_id[test["id"]]
        assert result["points"] == _expected_points(test, present), f"{test['id']}: {result['message']}"
        if "module" not in test:
            assert result["status"] == "not covered" and test["not_covered"] in result["message"]
        elif test["module"] in present:
            assert result["status"] == "demonstrated" and result["evidence"], f"{test['id']}: {result['message']}"
            assert all(e.startswith(module_id(test["module"])) or e.startswith("mlflow.db") for e in result["evidence"])
    for section in rubric["sections"]:
        assert report["sections"][section] == sum(t["points"] for t in report["tests"] if t["section"] == section)
    assert report["final_score"] == min(report["sections"].values())
    assert json.loads((tmp_path / "out" / "audit.json").read_text()) == report
    page = (tmp_path / "out" / "audit.html").read_text()
    assert "Data 1" in page and "<script" not in page
    assert (tmp_path / "out" / "audit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_partial_learner_says_which_tests_the_missing_modules_leave_uncovered(partial: Path, solved: Path) -> None:
    report = audit(partial)
    rubric = load_rubric()
    titles = module_titles()
    missing = {n for n in titles if n > 2}
    expected = {
        f"module {n}: {titles[n]}": [t["id"] for t in rubric["tests"] if t.get("module") == n]
        for n in sorted(missing)
        if any(t.get("module") == n for t in rubric["tests"])
    }
    assert report["uncovered_by_missing_modules"] == expected
    by_id = {t["id"]: t for t in report["tests"]}
    for test in rubric["tests"]:
        assert by_id[test["id"]]["points"] == _expected_points(test, {1, 2}), by_id[test["id"]]["message"]
    assert report["sections"]["infrastructure"] == 0 and report["final_score"] == 0
    solved_by_id = {t["id"]: t for t in audit(solved)["tests"]}
    early = [t["id"] for t in rubric["tests"] if t.get("module") in (1, 2)]
    assert early and all(solved_by_id[i]["points"] == by_id[i]["points"] for i in early), "modules 1-2 score alike"


def _rewrite_manifest_entry(folder: Path, name: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / name).read_bytes()
    manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_evidence_is_read_not_just_listed(solved: Path, tmp_path: Path) -> None:
    learner = tmp_path / "learner"
    shutil.copytree(solved, learner)
    folder = learner / module_id(1)
    report = json.loads((folder / "report.json").read_text())
    report.pop("checks")
    (folder / "report.json").write_text(json.dumps(report))
    data1 = next(t for t in audit(learner)["tests"] if t["id"] == "Data 1")
    assert data1["status"] == "evidence missing" and "changed after its manifest" in data1["message"]
    _rewrite_manifest_entry(folder, "report.json")  # a consistent manifest does not make up for the missing key
    data1 = next(t for t in audit(learner)["tests"] if t["id"] == "Data 1")
    assert data1["points"] == 0 and "no checks" in data1["message"], data1["message"]


def test_cli_audit_writes_its_outputs_and_rejects_a_missing_folder(
    partial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = [sys.executable, "-m", "grading", "audit"]
    done = subprocess.run(
        [*command, str(partial), "--out", str(tmp_path / "a")], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "ML Test Score: 0" in done.stdout and f"module 3: {module_titles()[3]} is missing" in done.stdout
    assert {p.name for p in (tmp_path / "a").iterdir()} == {"audit.json", "audit.html", "audit.png"}
    assert main(["audit", str(tmp_path / "nothing"), "--out", str(tmp_path / "b")]) == 2
    assert "no artifacts folder" in capsys.readouterr().err
