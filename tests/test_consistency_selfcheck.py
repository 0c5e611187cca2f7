"""Module 6's self-checks: a stub is "not done", a wrong answer says what is wrong, a right one passes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from grading.selfcheck import module06
from mlops_kit.consistency import compare_schemas, split_violations, values_match


def test_exercise_1_wants_the_tolerance_rule_per_dtype(capsys) -> None:
    assert module06.exercise_1(lambda *args: None).status == "todo"
    assert module06.exercise_1(values_match).status == "pass"

    def no_missing_rule(training, serving, dtype, tolerance):
        return (
            np.abs(training.to_numpy(float) - serving.to_numpy(float))
            <= tolerance.atol + tolerance.rtol * np.abs(training.to_numpy(float))
            if dtype == "float"
            else values_match(training, serving, dtype, tolerance)
        )

    assert module06.exercise_1(no_missing_rule).status == "fail"
    assert "float" in capsys.readouterr().out

    def absolute_only(training, serving, dtype, tolerance):
        if dtype != "float":
            return values_match(training, serving, dtype, tolerance)
        left, right = training.to_numpy(float), serving.to_numpy(float)
        return (np.isnan(left) & np.isnan(right)) | (np.abs(left - right) <= tolerance.atol)

    assert module06.exercise_1(absolute_only).status == "fail"


def report(feature: str, dtype: str, examples: list[dict]) -> dict:
    return {
        "checks": [
            {
                "name": "feature_parity",
                "details": {"failing": [feature], "features": {feature: {"dtype": dtype, "examples": examples}}},
            }
        ]
    }


def test_exercise_2_wants_the_feature_the_bug_and_its_size(capsys) -> None:
    unit = report("distance_km", "float", [{"order_id": "a", "training": 2.0, "serving": 1.242742}])
    assert module06.exercise_2(None, unit).status == "todo"
    assert module06.exercise_2({"feature": "x"}, None).status == "todo"
    assert module06.exercise_2({"feature": "distance_km", "bug": "unit", "factor": 0.621371}, unit).status == "pass"
    assert module06.exercise_2({"feature": "distance_km", "bug": "unit", "factor": 1.6}, unit).status == "fail"
    assert module06.exercise_2({"feature": "hour", "bug": "unit", "factor": 0.621371}, unit).status == "fail"
    hour = report(
        "hour", "int", [{"order_id": "a", "training": 23, "serving": 1}, {"order_id": "b", "training": 5, "serving": 7}]
    )
    assert module06.exercise_2({"feature": "hour", "bug": "timezone", "offset_hours": 2}, hour).status == "pass"
    assert module06.exercise_2({"feature": "hour", "bug": "timezone", "offset_hours": -2}, hour).status == "fail"
    weather = report("weather", "category", [{"order_id": "a", "training": "storm", "serving": "clear"}])
    assert (
        module06.exercise_2({"feature": "weather", "bug": "category", "remap": {"storm": "clear"}}, weather).status
        == "pass"
    )
    assert module06.exercise_2({"feature": "weather", "bug": "unit", "factor": 1.0}, weather).status == "fail"
    assert "weather" in capsys.readouterr().out


def test_exercise_3_wants_every_kind_of_schema_difference_named(capsys) -> None:
    assert module06.exercise_3(lambda sources: None).status == "todo"
    assert module06.exercise_3(compare_schemas).status == "pass"

    def names_only(sources):
        (_, reference), *others = list(sources.items())
        return [f"{name} differs" for name, columns in others if [n for n, _ in columns] != [n for n, _ in reference]]

    assert module06.exercise_3(names_only).status == "fail"
    assert "Exercise 3" in capsys.readouterr().out


def test_exercise_4_wants_shared_ids_and_orders_from_the_past() -> None:
    stamps = pd.date_range("2025-01-01", periods=200, freq="h")
    frame = pd.DataFrame({"order_id": [f"O{i:04d}" for i in range(200)], "created_at": stamps})
    train, valid = frame.iloc[:150], frame.iloc[150:]
    assert module06.exercise_4(lambda *args: None, train, valid).status == "todo"
    assert module06.exercise_4(split_violations, train, valid).status == "pass"

    def strictly_older(train, valid, key, timestamp):
        found = split_violations(train, valid, key, timestamp)
        newest = train[timestamp].max()
        return {**found, "older_valid_ids": sorted(valid.loc[valid[timestamp] < newest, key])}

    assert module06.exercise_4(strictly_older, train, valid).status == "fail"
