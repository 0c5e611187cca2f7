"""Module 1's self-check for exercise 1 (a pandera check of the learner's own): right, wrong and not done."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest

from grading.selfcheck import module01
from mlops_kit.validation.rules import future_timestamp_check


def test_the_reference_check_passes_and_none_is_not_done_yet(capsys) -> None:
    assert module01.exercise_1(future_timestamp_check).status == "pass"
    assert module01.exercise_1(lambda cutoff: None).status == "todo"
    assert "not done yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("factory", "hint"),
    [
        (lambda cutoff: pa.Check(lambda s: s <= cutoff, error="future_timestamp"), "exclusive"),
        (lambda cutoff: pa.Check(lambda s: s < cutoff, error="future"), "error='future_timestamp'"),
        (lambda cutoff: pa.Check(lambda s: s < cutoff, error="future_timestamp", ignore_na=False), "missing time"),
        (lambda cutoff: pa.Check(lambda s: s.days < 1, error="future_timestamp"), "raised"),
        (lambda cutoff: lambda s: s < cutoff, "pandera Check"),
    ],
)
def test_wrong_checks_fail_with_a_hint_that_names_the_problem(factory, hint: str, capsys) -> None:
    assert module01.exercise_1(factory).status == "fail"
    assert hint in capsys.readouterr().out


def test_the_check_really_runs_on_datetimes() -> None:
    schema = pa.DataFrameSchema(
        {"created_at": pa.Column("datetime64[ns]", checks=[future_timestamp_check(pd.Timestamp("2025-07-01"))])}
    )
    with pytest.raises(pa.errors.SchemaErrors):
        schema.validate(pd.DataFrame({"created_at": pd.to_datetime(["2025-07-02 00:00:00"])}), lazy=True)
