"""Scorecards: JSON, Markdown and HTML say the same, and learner text cannot inject markup."""

from __future__ import annotations

import json
from pathlib import Path

from grading.scorecard import isolation_level, module_entry, scorecard, write_scorecard
from mlops_kit.course import module_id

FULL = {"namespaces": "mount, pid", "user": "unprivileged uid 200001"}


def _card(message: str = "all good", isolation: dict | None = None) -> dict:
    checks = [
        {"name": "a", "passed": True, "points": 2, "max_points": 2, "message": "fine", "exercise": 1},
        {"name": "b", "passed": False, "points": 0, "max_points": 3, "message": message, "exercise": 2},
    ]
    execution = {"status": "ok", "message": "every cell ran", "seconds": 1.0, "output_path": "x"}
    entry = module_entry(checks, execution, ["a note"], isolation or FULL, ["a flag"])
    return scorecard(3, "learner", {module_id(1): entry}, "test secret source")


def test_the_three_renderings_agree_and_escape_learner_text(tmp_path: Path) -> None:
    card = _card(message="<script>alert(1)</script> | pipe")
    json_path, markdown_path = write_scorecard(card, tmp_path)
    page = (tmp_path / "scorecard.html").read_text()
    assert json.loads(json_path.read_text()) == card and card["points"] == 2 and card["max_points"] == 5
    assert "<script>" not in page and "&lt;script&gt;" in page and "2 / 5 points" in page
    assert "a flag" in page and "a note" in page and "isolation: full" in page
    assert "\\| pipe" in markdown_path.read_text() and "Isolation: full" in markdown_path.read_text()


def test_isolation_is_partial_when_any_module_ran_without_namespaces_or_own_user() -> None:
    assert _card()["isolation"] == "full"
    weak = {"namespaces": "none (unavailable: not root)", "user": "same user as the grader"}
    level = isolation_level(_card(isolation=weak)["modules"])
    assert level.startswith("partial") and "not root" in level and "no separate user" in level


def test_gradescope_results_carry_every_check_and_the_same_total(tmp_path: Path) -> None:
    card = _card(message="3 rows left in quarantine")
    write_scorecard(card, tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["score"] == card["points"] == sum(test["score"] for test in results["tests"])
    assert sum(test["max_score"] for test in results["tests"]) == card["max_points"]
    by_name = {test["name"]: test for test in results["tests"]}
    assert set(by_name) == {f"{module_id(1)}: a", f"{module_id(1)}: b"}
    assert by_name[f"{module_id(1)}: b"]["status"] == "failed" and by_name[f"{module_id(1)}: b"]["score"] == 0
    assert "3 rows left in quarantine" in by_name[f"{module_id(1)}: b"]["output"]
    assert (
        "a flag" in by_name[f"{module_id(1)}: a"]["output"]
        and "notebook: ok" in by_name[f"{module_id(1)}: a"]["output"]
    )
