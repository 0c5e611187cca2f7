"""Self-checks for module 2 (data & feature pipelines)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from grading.selfcheck import NotDone, self_check
from mlops_kit.pipeline import STAGE_NAMES

QUIZ_SALT = "mlops-course/module02/cache-quiz/v1"


def answer_digest(key: str, stages: Iterable[str]) -> str:
    """Salted sha256 of an answer to cache question ``key``: the set of stages that run again."""
    return hashlib.sha256(f"{QUIZ_SALT}|{key}|{','.join(sorted(set(stages)))}".encode()).hexdigest()


CACHE_QUESTIONS: dict[str, dict[str, str]] = {
    "valid_months": {
        "change": "VALID_MONTHS goes from 2 to 3.",
        "answer": "52e07ae7037c9c5cc12bf26af900e17ce9030865ed72ccb633796dea8d29620d",
        "hint": "a parameter is part of its own stage's cache key; which stages ever see this one?",
    },
    "description": {
        "change": "The description of distance_km in the feature dictionary is reworded.",
        "answer": "f2d8d352d526a2ac69706dc01b440d51db60cd32b8d1266b636e157bcbd52e58",
        "hint": "the dictionary is a parameter of one stage; after that stage runs, does its output change? "
        "Downstream keys are built from output hashes, not from upstream keys",
    },
    "new_data": {
        "change": "reference.csv is replaced by a corrected file in which one clean order's basket size is fixed.",
        "answer": "6965de7448d92ff3e064f0a2913fbb3ca5bb71198d3d794667f97f422376d066",
        "hint": "which stage's key holds something about the file's content? Then follow the corrected row: "
        "does each stage's output change?",
    },
    "moved_folder": {
        "change": "The data folder moves to another disk; DATA_DIR points there, the files are identical.",
        "answer": "c09e5aa85d5c3eb38c3fb9edd1b138d667aeab89655242acd950f9c8a6b86edf",
        "hint": "is where the data lives a parameter (in a key) or context (handed to the function only)?",
    },
    "ingest_comment": {
        "change": "A comment is added inside the ingest stage's function.",
        "answer": "bbff537a98bd28b7ccea95b38b6942b9a776e0fd536714c506beaff7a90eee09",
        "hint": "a code version hashes the source, comments included; and what does that stage then produce?",
    },
}
"""Exercise 3: each change, the salted digest of the stages that run again (never the stages), a hint."""


def answer_is_right(key: str, stages: Iterable[str]) -> bool:
    """True when ``stages`` are exactly the stages that run again after change ``key``."""
    return answer_digest(key, stages) == CACHE_QUESTIONS[key]["answer"]


def _boundary_orders() -> pd.DataFrame:
    """A small feature table over four months, with orders on both sides of a month boundary."""
    times = [
        "2025-01-03 12:00:00",
        "2025-01-20 19:30:00",
        "2025-02-02 11:15:00",
        "2025-02-27 20:00:00",
        "2025-03-05 12:40:00",
        "2025-03-31 23:59:59",
        "2025-04-01 00:00:00",
        "2025-04-18 18:45:00",
    ]
    return pd.DataFrame(
        {
            "order_id": [f"O{number:07d}" for number in range(101, 101 + len(times))],
            "created_at": pd.to_datetime(times),
            "distance_km": [1.5, 2.0, 3.5, 4.0, 5.5, 6.0, 7.5, 8.0],
            "is_late": pd.array([0, 1, 0, 1, 0, 1, 0, 1], dtype="Int64"),
            "hour": [12, 19, 11, 20, 12, 23, 0, 18],
        },
        index=pd.Index(range(40, 40 + len(times)), name="source_row"),
    )


def _split(
    split_func: Callable[..., Any], features: pd.DataFrame, valid_months: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    result = split_func(features=features.copy(), valid_months=valid_months)
    if result is None:
        raise NotDone("split_orders returns None; return {'train': ..., 'valid': ...}")
    assert isinstance(result, Mapping) and set(result) == {"train", "valid"}, (
        f"return a dict with exactly the keys 'train' and 'valid', got {type(result).__name__} "
        f"{sorted(result) if isinstance(result, Mapping) else ''}"
    )
    train, valid = result["train"], result["valid"]
    assert isinstance(train, pd.DataFrame) and isinstance(valid, pd.DataFrame), "train and valid must be DataFrames"
    return train, valid


@self_check("Exercise 1")
def exercise_1(split_func: Callable[..., Any]) -> str:
    """Does the split put the newest months in valid, keep rows intact, and refuse a leaking split?"""
    from mlops_kit.pipeline import SplitLeakageError

    features = _boundary_orders()
    train, valid = _split(split_func, features, valid_months=1)
    if valid.empty and len(train) == len(features):
        raise NotDone("valid is empty: the split still puts every order in train")
    for name, part in (("train", train), ("valid", valid)):
        assert list(part.columns) == list(features.columns), f"{name}: keep every column of the feature table, in order"
        unknown = set(part.index) - set(features.index)
        assert not unknown, f"{name}: keep the index (the source row); rows {sorted(unknown)[:3]} are new"
        assert part.sort_index().equals(features.loc[sorted(part.index)]), (
            f"{name}: the rows must be the feature table's rows, unchanged"
        )
    expected_valid = list(features.index[features["created_at"] >= "2025-04-01"])
    assert sorted(valid.index) == expected_valid, (
        f"with valid_months=1, valid should hold the {len(expected_valid)} April orders (one at exactly 2025-04-01 00:00:00), "
        f"got rows {sorted(valid.index)}"
    )
    assert sorted(train.index) == sorted(set(features.index) - set(expected_valid)), (
        "every order not in valid belongs to train (none lost, none in both)"
    )
    train2, valid2 = _split(split_func, features, valid_months=2)
    assert sorted(valid2.index) == list(features.index[features["created_at"] >= "2025-03-01"]), (
        "with valid_months=2, valid should hold March and April: count months back from the newest order's month"
    )
    assert len(train2) + len(valid2) == len(features), "with valid_months=2 some orders were lost or duplicated"
    leaking = features.copy()
    leaking.loc[leaking.index[-1], "order_id"] = leaking["order_id"].iloc[0]
    try:
        split_func(features=leaking, valid_months=1)
    except SplitLeakageError:
        pass
    else:
        raise AssertionError(
            "an order id in both January and April went into both splits without an error; "
            "call check_split(train, valid) before returning"
        )
    return "the newest months go to valid (midnight of the first valid day included), rows intact, leaks refused"


@self_check("Exercise 2")
def exercise_2(
    dictionary: Any, new_feature: Mapping[str, Any] | None, computations: Mapping[str, Any], orders: pd.DataFrame
) -> str:
    """Is the new feature a valid dictionary entry whose computation gives informative values?"""
    from mlops_kit.features import FeatureDictionaryError, compute_features, feature_set_version

    if not new_feature:
        raise NotDone("NEW_FEATURE is None: write a dictionary entry and the function that computes it")
    try:
        extended = dictionary.with_feature(new_feature)
        features = compute_features(orders, extended, computations)
    except FeatureDictionaryError as error:
        raise AssertionError(f"the feature dictionary rejects it: {error}") from None
    name = str(new_feature["name"])
    values = features[name]
    assert not values.isna().any(), (
        f"{name} is missing for {int(values.isna().sum())} orders; compute a value for every order"
    )
    assert values.nunique() > 1, (
        f"{name} has the same value for all {len(values)} orders: a constant tells the model nothing"
    )
    duplicates = [other for other in dictionary.feature_names if features[other].astype(str).equals(values.astype(str))]
    assert not duplicates, f"{name} repeats the feature {duplicates[0]}; add information the model does not have yet"
    assert feature_set_version(extended, computations) != feature_set_version(dictionary), (
        "the feature-set version did not change"
    )
    return f"{name} ({new_feature['dtype']}) is computed for {len(values):,} orders and changes the feature-set version"


def _stage_set(value: Any, key: str) -> set[str]:
    if isinstance(value, str):
        value = [value]
    assert isinstance(value, (list, tuple, set)), f"{key}: answer with a list of stage names, got {value!r}"
    unknown = sorted(str(name) for name in value if name not in STAGE_NAMES)
    assert not unknown, f"{key}: {unknown} are not stages; the stages are {', '.join(STAGE_NAMES)}"
    return set(value)


@self_check("Exercise 3")
def exercise_3(answers: Mapping[str, Any]) -> str:
    """Does each answer name exactly the stages that run again after the change?"""
    if not answers or all(answers.get(key) is None for key in CACHE_QUESTIONS):
        raise NotDone("fill in ANSWERS: for each change, the list of stages that run again")
    missing = [key for key in CACHE_QUESTIONS if answers.get(key) is None]
    assert not missing, f"still unanswered: {missing}"
    wrong = [key for key in CACHE_QUESTIONS if not answer_is_right(key, _stage_set(answers[key], key))]
    assert not wrong, (
        f"{len(wrong)} of {len(CACHE_QUESTIONS)} answers are off. {wrong[0]}: {CACHE_QUESTIONS[wrong[0]]['hint']}"
    )
    return f"all {len(CACHE_QUESTIONS)} answers name exactly the stages that run again"
