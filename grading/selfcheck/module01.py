"""Self-checks for module 1 (data validation & cleaning)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from grading.selfcheck import NotDone, self_check
from mlops_kit.course import IMPUTABLE_COLUMNS as IMPUTABLE
from mlops_kit.course import PREP_TIME_LIMIT_MIN
from mlops_kit.domain import RAW_COLUMNS, raw_column
from mlops_kit.validation.defects import FUTURE_TIMESTAMP

ANSWER_KEYS = ("most_quarantined_column", "duplicate_id_rows", "prep_time_fill_value")


@self_check("Exercise 1")
def exercise_1(future_check: Callable[[pd.Timestamp], Any]) -> str:
    """Does the pandera check fail orders created at or after the cut-off, and nothing else?"""
    import pandera.pandas as pa

    cutoff = pd.Timestamp("2025-07-01")
    check = future_check(cutoff)
    if check is None:
        raise NotDone("the function returns None; return a pandera Check (pa.Check(...)) for created_at")
    assert isinstance(check, pa.Check), f"return a pandera Check (pa.Check(...)), not {type(check).__name__}"
    assert check.error == FUTURE_TIMESTAMP, (
        f"give the check error={FUTURE_TIMESTAMP!r}: that code names the defect in the quarantine reasons "
        f"(got error={check.error!r})"
    )
    times = ["2025-06-30 23:59:59", "2025-07-01 00:00:00", "2026-03-02 10:00:00", None]
    orders = pd.DataFrame({"created_at": pd.to_datetime(times)})
    schema = pa.DataFrameSchema({"created_at": pa.Column("datetime64[ns]", checks=[check], nullable=True)})
    try:
        schema.validate(orders, lazy=True)
        failed: list[int] = []
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        raised = cases.loc[cases["index"].isna(), "failure_case"].tolist()
        assert not raised, f"the check raised instead of answering: {raised[0]}"
        failed = sorted(int(row) for row in cases["index"].dropna())
    expected = [1, 2]
    assert failed == expected, (
        f"for created_at 23:59:59 the day before the cut-off, exactly the cut-off, a year later and missing "
        f"your check failed rows {failed} (0-3); expected {expected} (the period end is exclusive; a missing time "
        "is not 'future': another rule handles it)"
    )
    return "future orders fail the check, including one exactly at the cut-off"


@self_check("Exercise 2")
def exercise_2(missing_policy: Mapping[str, Any]) -> str:
    """Is the missing-value policy the one the data's owners asked for?"""
    from mlops_kit.validation import Impute, Reject

    if not missing_policy:
        raise NotDone("MISSING_POLICY is empty, so every column rejects missing values")
    unknown = sorted(set(missing_policy) - {column.name for column in RAW_COLUMNS})
    assert not unknown, f"{unknown} are not raw order columns"
    for column in IMPUTABLE:
        action = missing_policy.get(column)
        assert isinstance(action, Impute), (
            f"{column}: the data's owners say a gap here leaves the order fine; should the row go? (got {action!r})"
        )
    assert missing_policy["prep_time_min"].strategy == "median", (
        "prep_time_min: a few extreme values pull some statistics far from a typical order; look at exercise 3's "
        "plot and pick the statistic they do not move"
    )
    assert raw_column("weather").kind == "category" and missing_policy["weather"].strategy == "most_frequent", (
        "weather is a category (see the column table): which strategy gives a value a category can take?"
    )
    for column, action in missing_policy.items():
        if column not in IMPUTABLE:
            assert isinstance(action, Reject), (
                f"{column}: the data's owners say a gap here means a broken record; can its row be kept?"
            )
    return "prep_time_min → median, weather → most frequent, everything else rejected"


@self_check("Exercise 3")
def exercise_3(outlier_rules: Sequence[Any], raw: pd.DataFrame) -> str:
    """Does the rule catch the mistyped preparation times and keep every plausible one?"""
    if not outlier_rules:
        raise NotDone("OUTLIER_RULES is empty")
    rules = [rule for rule in outlier_rules if rule.column == "prep_time_min"]
    assert rules, "write a rule for prep_time_min, the column with the data-entry errors"
    prep = pd.to_numeric(raw["prep_time_min"], errors="coerce").dropna()
    prep = prep[prep >= 0]
    flagged = pd.Series(False, index=prep.index)
    for rule in rules:
        if rule.lower is not None:
            flagged |= prep < rule.lower
        if rule.upper is not None:
            flagged |= prep > rule.upper
    plausible = prep <= 90
    wrongly = int((flagged & plausible).sum())
    missed = int((~flagged & (prep > PREP_TIME_LIMIT_MIN)).sum())
    assert wrongly == 0, (
        f"your rule flags {wrongly} preparation times that a busy kitchen can announce; where does the bulk of the "
        "plotted distribution end?"
    )
    assert missed == 0, (
        f"{missed} preparation times that no kitchen needs pass your rule; look for the gap between the bulk and "
        "the far-away values in the plot"
    )
    return f"{int(flagged.sum())} implausible preparation times flagged, no plausible one"


def _answers_from_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """What the validation report says, for comparison with the learner's answers."""
    failures: dict[str, int] = {}
    for check in report["checks"]:
        if check["defect"] == "missing_imputable":
            continue  # imputed rows stay clean
        failures[check["column"]] = failures.get(check["column"], 0) + int(check["failures"])
    top = max(failures.values(), default=0)
    fill = [entry["value"] for entry in report["imputed"] if entry["column"] == "prep_time_min"]
    return {
        "most_quarantined_column": {column for column, count in failures.items() if count == top},
        "duplicate_id_rows": sum(int(c["failures"]) for c in report["checks"] if c["defect"] == "duplicate_id"),
        "prep_time_fill_value": fill[0] if fill else None,
    }


@self_check("Exercise 4")
def exercise_4(answers: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """Do the answers match what the validation report says?"""
    if not answers or all(answers.get(key) is None for key in ANSWER_KEYS):
        raise NotDone("fill in ANSWERS from the report")
    missing = [key for key in ANSWER_KEYS if answers.get(key) is None]
    assert not missing, f"still unanswered: {missing}"
    truth = _answers_from_report(report)
    assert answers["most_quarantined_column"] in truth["most_quarantined_column"], (
        "most_quarantined_column: add up the failures per column in report['checks'], leaving out missing_imputable (those rows were kept)"
    )
    assert int(answers["duplicate_id_rows"]) == truth["duplicate_id_rows"], (
        "duplicate_id_rows: count the failures of the duplicate_id check"
    )
    assert (
        truth["prep_time_fill_value"] is not None
        and abs(float(answers["prep_time_fill_value"]) - float(truth["prep_time_fill_value"])) < 1e-6
    ), "prep_time_fill_value: look in report['imputed']"
    return "all three answers agree with the report"
