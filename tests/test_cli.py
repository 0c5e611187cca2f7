"""`python -m grading`: bad arguments get a clear message and exit code 2, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading.cli import main
from mlops_kit.course import module_id


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["grade", "solutions", "--variant", "1", "--out", "x", "--timeout", "0"], "must be more than 0 seconds"),
        (["grade", "solutions", "--variant", "1", "--out", "x", "--timeout", "soon"], "not a number of seconds"),
        (["grade", "solutions", "--variant", "one", "--out", "x"], "invalid int value"),
        (["grade", "solutions", "--out", "x"], "--variant"),
        (["launch"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["grade", "{tmp}/nobody", "--variant", "1", "--out", "{tmp}/out"], "submission folder not found"),
        (["grade", "{tmp}", "--variant", "-1", "--out", "{tmp}/out"], "--variant must be 0 or more"),
        (["gradebook", "{tmp}/none", "--variant", "1", "--out", "{tmp}/out"], "cohort folder not found"),
        (["gradebook", "{tmp}", "--variant", "1", "--out", "{tmp}/out"], "has no learner sub-folders"),
        (["run", "{tmp}", "--out", "{tmp}/out"], "no course notebooks"),
    ],
)
def test_bad_inputs_exit_2_naming_the_problem(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out" / "scorecard.json").exists()


def test_module_selection_by_id_number_or_file_name() -> None:
    from grading.grade import GradingInputError, select_modules

    notebooks = {module_id(1): Path("a"), module_id(2): Path("b")}
    assert list(select_modules(notebooks, ())) == list(notebooks)
    for wanted in ("2", "02", module_id(2), module_id(2) + ".ipynb"):
        assert list(select_modules(notebooks, (wanted,))) == [module_id(2)]
    with pytest.raises(GradingInputError, match="--module 7 matches none"):
        select_modules(notebooks, ("7",))
