"""Self-checks for module 6 (training/serving consistency). Feedback only: grades come from artifacts."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from grading.selfcheck import NotDone, self_check

BUGS = ("unit", "timezone", "category")


@self_check("Exercise 1")
def exercise_1(same_value: Callable[..., Any]) -> str:
    """Does the rule match floats within atol + rtol·|training|, missing with missing, everything else exactly?"""
    from mlops_kit.consistency import Tolerance

    float_tolerance, exact = Tolerance(atol=1e-6, rtol=1e-6), Tolerance()
    probe = same_value(pd.Series([1.0]), pd.Series([1.0]), "float", float_tolerance)
    if probe is None:
        raise NotDone("same_value returns None; return one True/False per row")
    cases = [
        (
            "float",
            float_tolerance,
            [10.0, 10.0, 1e6, 1e6, np.nan, np.nan, 0.0],
            [10.0000005, 10.0001, 1e6 + 0.5, 1e6 + 3, np.nan, 1.0, 0.0],
            [True, False, True, False, True, False, True],
        ),
        ("int", exact, [3, 4, 23], [3, 5, 23], [True, False, True]),
        ("bool", exact, [True, False], [True, True], [True, False]),
        ("category", exact, ["rain", "storm", "bike"], ["rain", "Storm", "bike"], [True, False, True]),
    ]
    for dtype, tolerance, training, serving, expected in cases:
        got = np.asarray(same_value(pd.Series(training), pd.Series(serving), dtype, tolerance), dtype=bool).tolist()
        assert len(got) == len(expected), f"{dtype}: return one answer per row ({len(expected)}), got {len(got)}"
        wrong = [f"{a!r} vs {b!r} → {g}" for a, b, g, e in zip(training, serving, got, expected, strict=True) if g != e]
        assert not wrong, f"{dtype} ({tolerance}): wrong for {wrong}"
    return "floats within atol + rtol·|training|, missing = missing, everything else exact"


def _truth_from_report(report: Mapping[str, Any]) -> dict[str, Any]:
    parity = next(check for check in report["checks"] if check["name"] == "feature_parity")
    failing = parity["details"]["failing"]
    if len(failing) != 1:
        raise AssertionError(f"the report should name one skewed feature; it names {failing}")
    feature = failing[0]
    stats = parity["details"]["features"][feature]
    examples = stats["examples"]
    if stats["dtype"] == "float":
        ratios = [row["serving"] / row["training"] for row in examples if row["training"]]
        return {"feature": feature, "bug": "unit", "factor": float(np.median(ratios))}
    if stats["dtype"] == "int":
        offsets = {(row["serving"] - row["training"]) % 24 for row in examples}
        (offset,) = offsets
        return {"feature": feature, "bug": "timezone", "offset_hours": offset}
    return {"feature": feature, "bug": "category", "remap": {row["training"]: row["serving"] for row in examples}}


@self_check("Exercise 2")
def exercise_2(diagnosis: Any, report: Mapping[str, Any] | None) -> str:
    """Does the diagnosis name the feature the report shows, the kind of bug and its size?"""
    if report is None:
        raise NotDone("no 'before' report yet: exercise 1 first")
    if diagnosis is None:
        raise NotDone("DIAGNOSIS is None; read the report and describe the skew")
    assert isinstance(diagnosis, Mapping), f"DIAGNOSIS is a dict, not {type(diagnosis).__name__}"
    truth = _truth_from_report(report)
    assert diagnosis.get("feature") == truth["feature"], (
        f"feature {diagnosis.get('feature')!r} is not the one whose values differ: read details['failing']"
    )
    assert diagnosis.get("bug") in BUGS, f"bug is one of {BUGS}, got {diagnosis.get('bug')!r}"
    assert diagnosis["bug"] == truth["bug"], (
        f"the examples of {truth['feature']!r} do not look like a {diagnosis['bug']} bug: compare training and serving values"
    )
    if truth["bug"] == "unit":
        factor = diagnosis.get("factor")
        assert isinstance(factor, (int, float)) and math.isclose(factor, truth["factor"], rel_tol=1e-4), (
            "factor: serving value / training value"
        )
    elif truth["bug"] == "timezone":
        offset = diagnosis.get("offset_hours")
        assert isinstance(offset, int) and -12 <= offset <= 12, "offset_hours: a whole number of hours in -12..12"
        assert offset % 24 == truth["offset_hours"], "offset_hours: serving hour − training hour (modulo 24)"
    else:
        assert diagnosis.get("remap") == truth["remap"], "remap: {training value: the value the service used}"
    return f"{truth['feature']}: {truth['bug']} bug"


@self_check("Exercise 3")
def exercise_3(compare_sources: Callable[[Mapping[str, Any]], Any]) -> str:
    """Does the comparison find nothing in equal schemas and name every kind of difference?"""
    dictionary = [("created_at", "datetime"), ("distance_km", "number"), ("basket_size", "integer")]
    answer = compare_sources({"dictionary": dictionary, "signature": list(dictionary)})
    if answer is None:
        raise NotDone("compare_sources returns None; return a list of problems")
    assert list(answer) == [], f"equal schemas have no problems, got {answer}"
    broken = {
        "missing": [("created_at", "datetime"), ("distance_km", "number")],
        "reordered": [("distance_km", "number"), ("created_at", "datetime"), ("basket_size", "integer")],
        "retyped": [("created_at", "datetime"), ("distance_km", "string"), ("basket_size", "integer")],
        "extra": [*dictionary, ("tip", "number")],
    }
    for kind, columns in broken.items():
        problems = list(compare_sources({"dictionary": dictionary, "openapi": columns}))
        assert problems, f"a source with a {kind} field differs from the dictionary, but no problem was found"
        assert all("openapi" in str(problem) for problem in problems), "name the source in every problem"
    named = " ".join(map(str, compare_sources({"dictionary": dictionary, "openapi": broken["retyped"]})))
    assert "distance_km" in named, "name the field whose type differs"
    return "missing, extra, reordered and retyped fields are all found and named"


def _expected_leaks(train: pd.DataFrame, valid: pd.DataFrame) -> tuple[list[str], list[str]]:
    shared = sorted(set(train["order_id"]).intersection(valid["order_id"]))
    newest = train["created_at"].max()
    older = sorted(valid.loc[valid["created_at"] <= newest, "order_id"])
    return shared, older


@self_check("Exercise 4")
def exercise_4(find_split_leaks: Callable[..., Any], train: pd.DataFrame, valid: pd.DataFrame) -> str:
    """Does the check find every shared id and every validation order that is not newer than training?"""
    found = find_split_leaks(train, valid, "order_id", "created_at")
    if found is None:
        raise NotDone("find_split_leaks returns None; return the dict of shared_ids and older_valid_ids")
    assert set(found) >= {"shared_ids", "older_valid_ids"}, f"return both keys, got {sorted(found)}"
    assert list(found["shared_ids"]) == [] and list(found["older_valid_ids"]) == [], (
        f"module 2's split is clean, yet the check flags {len(found['shared_ids'])} shared and "
        f"{len(found['older_valid_ids'])} older rows"
    )
    mixed = pd.concat([train.tail(30), valid.head(30)])
    leaky_train = pd.concat([train.head(50), mixed.iloc[::2]])
    newest = leaky_train.loc[[leaky_train["created_at"].idxmax()]]
    tie = newest.assign(order_id=newest["order_id"].astype(str) + "-same-instant")
    leaky_valid = pd.concat([mixed.iloc[1::2], train.head(5), tie])
    shared, older = _expected_leaks(leaky_train, leaky_valid)
    found = find_split_leaks(leaky_train, leaky_valid, "order_id", "created_at")
    assert sorted(found["shared_ids"]) == shared, f"shared ids: expected {len(shared)}, got {len(found['shared_ids'])}"
    assert sorted(found["older_valid_ids"]) == older, (
        f"validation orders not newer than the newest training order: expected {len(older)}, "
        f"got {len(found['older_valid_ids'])} (is an order at the same instant 'newer'?)"
    )
    return "shared ids and orders from the past are found on a leaky split, none on module 2's"
