"""Reference-solution detection: an exercise answered with the course's own answer earns nothing."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell

from grading.grade import withhold_reference_points
from grading.notebook_io import read_notebook
from grading.paths import NOTEBOOKS_DIR, SOLUTIONS_DIR, course_notebooks
from grading.steps.reference_use import ReferenceUse, find_reference_use
from grading.steps.restore_locked import restore_locked
from mlops_kit.course import module_id

MODULE1 = module_id(1)


def _merged(stem: str, edits: dict[str, str], added: str | None = None):
    """The released notebook as grading rebuilds it, with exercise cells replaced by ``edits``."""
    submission = read_notebook(SOLUTIONS_DIR / f"{stem}.ipynb")
    for cell in submission.cells:
        if cell.get("id") in edits:
            cell.source = edits[cell.id]
    if added is not None:
        submission.cells.insert(3, new_code_cell(added, id="learner-added"))
    merged, _ = restore_locked(read_notebook(NOTEBOOKS_DIR / f"{stem}.ipynb"), submission)
    return merged


@pytest.mark.parametrize("notebook", course_notebooks(SOLUTIONS_DIR), ids=lambda path: path.stem)
def test_the_solutions_themselves_are_not_flagged(notebook) -> None:
    assert find_reference_use(notebook.stem, _merged(notebook.stem, {})) == []


@pytest.mark.parametrize(
    "source",
    [
        "from mlops_kit.validation import reference_rules\nOUTLIER_RULES = list(reference_rules(CUTOFF).outliers)",
        "import mlops_kit.validation.rules as r\nOUTLIER_RULES = list(r.reference_rules(CUTOFF).outliers)",
        "from mlops_kit.validation import rules as hidden\nfn = hidden.reference_rules\nOUTLIER_RULES = fn(CUTOFF)",
        "import importlib\nOUTLIER_RULES = importlib.import_module('mlops_kit.validation').reference_rules(CUTOFF)",
        "m = __import__('mlops_kit.validation.rules', fromlist=['x'])\nOUTLIER_RULES = m.reference_rules(CUTOFF)",
        "import mlops_kit.validation as v\nOUTLIER_RULES = getattr(v, 'reference_rules')(CUTOFF)",
        "import mlops_kit.validation as v\nOUTLIER_RULES = getattr(v, 'reference_' + 'rules')(CUTOFF)",
        "import mlops_kit.validation as v\nOUTLIER_RULES = v.__dict__['reference_rules'](CUTOFF)",
        "exec('from mlops_kit.validation import reference_rules')",
        "from mlops_kit.validation.rules import REFERENCE_PREP_TIME_LIMIT_MIN as LIMIT\nOUTLIER_RULES = LIMIT",
        "from mlops_kit.pipeline import validate_orders\nOUTLIER_RULES = []",
        "%run -m mlops_kit.validation.rules",
    ],
    ids=[
        "import",
        "alias",
        "assigned",
        "importlib",
        "dunder-import",
        "getattr",
        "computed-getattr",
        "dict",
        "exec",
        "constant",
        "built-on-reference",
        "magic",
    ],
)
def test_every_spelling_of_the_reference_solution_is_flagged_on_its_exercise(source: str) -> None:
    uses = find_reference_use(MODULE1, _merged(MODULE1, {"m01-ex3": source}))
    assert [use.exercise for use in uses] == [3], uses
    assert "exercise 3 (cell m01-ex3)" in uses[0].message() and "earns nothing" in uses[0].message()


def test_a_self_check_answer_key_is_flagged() -> None:
    uses = find_reference_use(
        MODULE1, _merged(MODULE1, {"m01-ex4": "ANSWERS = selfcheck._answers_from_report(report)"})
    )
    assert [use.exercise for use in uses] == [4] and "grading.selfcheck" in uses[0].what


def test_a_reference_fetched_in_an_added_cell_taints_every_exercise() -> None:
    merged = _merged(
        MODULE1,
        {"m01-ex3": "OUTLIER_RULES = list(rr(CUTOFF).outliers)"},
        added="import mlops_kit.validation as mv\nrr = mv.reference_rules",
    )
    uses = find_reference_use(MODULE1, merged)
    assert {use.exercise for use in uses} == {None, 3}


def test_another_modules_reference_is_allowed() -> None:
    source = "from mlops_kit.validation import reference_rules\nRULES = reference_rules"
    assert find_reference_use(module_id(3), _merged(module_id(3), {"m03-ex1": source})) == []


def test_withheld_points_hit_the_flagged_exercise_and_whole_module_checks_only() -> None:
    checks = [
        {"name": "a", "passed": True, "points": 2, "max_points": 2, "message": "ok", "exercise": 1},
        {"name": "b", "passed": True, "points": 3, "max_points": 3, "message": "ok", "exercise": 3},
        {"name": "c", "passed": True, "points": 1, "max_points": 1, "message": "ok", "exercise": None},
    ]
    result = withhold_reference_points(checks, [ReferenceUse("m01-ex3", 3, "x")])
    assert [check["points"] for check in result] == [2, 0, 0]
    assert "reference solution" in result[1]["message"] and result[0] == checks[0]
    assert withhold_reference_points(checks, []) == checks
