"""Artifact checks for module 2 (data & feature pipelines).

Expectations come from the graded variant's data and defect ledger: which rows are clean,
which months the reference period covers, what each feature's value is (recomputed here
from the raw text, independently of mlops_kit.features). Integrity and the engine's own
behaviour (manifest, run records, the repeat run's cache hits, the broken run's failure
and notification) are preconditions of every check, not sources of points: points come
only from what the learner's exercises decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from grading.artifact_tests.shared import expected_data_version, fail, require_manifest, rows_text
from grading.selfcheck.module02 import CACHE_QUESTIONS, answer_is_right
from mlops_kit.course import module_id
from mlops_kit.data import file_period, load_orders
from mlops_kit.datagen import DINNER_RUSH, LUNCH_RUSH, read_defect_ledger
from mlops_kit.domain import RAW_COLUMN_NAMES, TIMESTAMP_FORMAT
from mlops_kit.features import (
    FeatureDictionary,
    FeatureDictionaryError,
    feature_set_version,
    load_feature_dictionary,
)
from mlops_kit.pipeline import (
    DEFAULT_VALID_MONTHS,
    STAGE_NAMES,
    Cache,
    read_notifications,
)

MODULE = module_id(2)
SOURCE_FILE = "reference.csv"
RUN_NAMES = ("first", "repeat", "added_feature", "broken")
REQUIRED_FILES = (
    "train.parquet",
    "valid.parquet",
    "train_features.parquet",
    "valid_features.parquet",
    "feature_dictionary.json",
    "feature_dictionary_extended.json",
    "answers.json",
    "run_record.json",
    "notifications.log",
)


@dataclass(frozen=True)
class Module2Artifacts:
    """What the notebook left behind, already checked for integrity."""

    folder: Path
    manifest: dict[str, Any]
    runs: dict[str, dict[str, Any]]
    train: pd.DataFrame
    valid: pd.DataFrame
    train_features: pd.DataFrame
    valid_features: pd.DataFrame
    answers: dict[str, Any]

    def stage(self, run: str, name: str) -> dict[str, Any]:
        return next(entry for entry in self.runs[run]["stages"] if entry["name"] == name)


@dataclass(frozen=True)
class Truth:
    """What the graded variant's data and ledger say about the reference period."""

    raw: pd.DataFrame
    clean_rows: set[int]
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    features: pd.DataFrame
    dictionary: FeatureDictionary
    data_version: str

    @property
    def valid_months(self) -> list[pd.Period]:
        months = pd.period_range(self.period_start, self.period_end - pd.Timedelta(seconds=1), freq="M")
        return list(months[-DEFAULT_VALID_MONTHS:])


def _expected_features(raw: pd.DataFrame, clean_rows: set[int]) -> pd.DataFrame:
    """The shipped dictionary's features of the clean rows, from the raw text (datasheet definitions)."""
    rows = raw.loc[sorted(clean_rows)]
    created = pd.to_datetime(rows["created_at"], format=TIMESTAMP_FORMAT)
    prep = rows["prep_time_min"].astype(float)
    prep = prep.fillna(float(prep.dropna().median()))
    weather = rows["weather"]
    counts = weather.dropna().value_counts()
    weather = weather.fillna(sorted(counts.index[counts == counts.max()])[0])
    hour = created.dt.hour
    rush = pd.Series(False, index=rows.index)
    for first, end in (LUNCH_RUSH, DINNER_RUSH):
        rush |= (hour >= first) & (hour < end)
    return pd.DataFrame(
        {
            "distance_km": rows["distance_km"].astype(float),
            "prep_time_min": prep,
            "basket_size": rows["basket_size"].astype(float).astype("int64"),
            "hour": hour.astype("int64"),
            "weekday": created.dt.dayofweek.astype("int64"),
            "is_weekend": created.dt.dayofweek >= 5,
            "is_rush_hour": rush,
            "weather": weather.astype(str),
            "vehicle": rows["vehicle"].astype(str),
            "city_zone": rows["city_zone"].astype(str),
        },
        index=rows.index,
    )


@pytest.fixture(scope="session")
def truth(data_dir: Path, variant_dir: Path) -> Truth:
    raw = load_orders(data_dir, "reference")
    ledger = read_defect_ledger(variant_dir)
    ledger = ledger[ledger["file"] == SOURCE_FILE]
    defects = ledger[ledger["expected_action"] == "quarantine"]
    clean_rows = set(range(len(raw))) - set(defects["row"].astype(int))
    start, end = file_period(data_dir, "reference")
    features = _expected_features(raw, clean_rows)
    return Truth(raw, clean_rows, start, end, features, load_feature_dictionary(), expected_data_version(raw, ledger))


def _read_run(folder: Path, manifest: dict[str, Any], name: str, run_id: Any) -> dict[str, Any]:
    relpath = f"runs/{run_id}.json"
    if relpath not in manifest["files"]:
        fail(f"the {name} run ({run_id}) has no record {relpath} in the manifest; run the notebook top to bottom")
    record = json.loads((folder / relpath).read_text(encoding="utf-8"))
    names = [entry["name"] for entry in record.get("stages", [])]
    if names != list(STAGE_NAMES):
        fail(f"the {name} run ({run_id}) has the stages {names}, expected {list(STAGE_NAMES)}")
    return record


def _check_engine(folder: Path, runs: dict[str, dict[str, Any]]) -> None:
    """Preconditions: the lineage of the first run, the repeat's cache hits, the broken run's failure."""
    for entry in runs["first"]["stages"]:
        if entry["status"] != "ran" or not entry["cache_key"] or not entry["output_hash"] or entry["rows_out"] is None:
            fail(
                f"first run, stage {entry['name']}: expected it to run and record its key, output hash and rows, got {entry['status']}"
            )
        if (
            set(entry["inputs"]) != set(STAGE_NAMES[: STAGE_NAMES.index(entry["name"])][-1:])
            or None in entry["inputs"].values()
        ):
            fail(f"first run, stage {entry['name']}: the run record lacks the hash of its input ({entry['inputs']})")
    for first, repeat in zip(runs["first"]["stages"], runs["repeat"]["stages"], strict=False):
        if (
            repeat["status"] != "cached"
            or repeat["cache_key"] != first["cache_key"]
            or repeat["output_hash"] != first["output_hash"]
        ):
            fail(
                f"the repeat run should be all cache hits with the first run's keys; stage {repeat['name']} was {repeat['status']}"
            )
    broken = {entry["name"]: entry["status"] for entry in runs["broken"]["stages"]}
    if broken != {"ingest": "cached", "validate": "cached", "features": "failed", "split": "skipped"}:
        fail(f"the broken run should fail at features and skip split, its statuses are {broken}")
    notified = [note for note in read_notifications(folder) if note.get("run_id") == runs["broken"]["run_id"]]
    if not any(note.get("stage") == "features" for note in notified):
        fail("notifications.log has no notification for the broken run's features stage")


@pytest.fixture(scope="session")
def artifacts(artifacts_dir: Path, variant: int, truth: Truth) -> Module2Artifacts:
    """Load the artifacts; fail every check with one clear message if they are incomplete or of other data."""
    manifest = require_manifest(artifacts_dir, MODULE, variant, REQUIRED_FILES)
    folder = artifacts_dir / MODULE
    run_ids = manifest.get("runs") or {}
    if set(run_ids) != set(RUN_NAMES):
        fail(f"the manifest names the runs {sorted(run_ids)}, expected {list(RUN_NAMES)}")
    runs = {name: _read_run(folder, manifest, name, run_ids[name]) for name in RUN_NAMES}
    _check_engine(folder, runs)
    if manifest.get("published_run") != runs["first"]["run_id"]:
        fail(f"the published feature set comes from run {manifest.get('published_run')}, not from the first run")
    facts = runs["first"]["facts"]
    if facts.get("data_version") != truth.data_version:
        fail(
            f"the first run validated data of version {facts.get('data_version')}, but the graded data's clean rows "
            f"have version {truth.data_version}: these run records come from other data"
        )
    for key in ("data_version", "feature_set_version"):
        if manifest.get(key) != facts.get(key):
            fail(f"manifest {key} {manifest.get(key)} differs from the first run's {facts.get(key)}")
    frames = {name: pd.read_parquet(folder / name) for name in REQUIRED_FILES if name.endswith(".parquet")}
    answers = json.loads((folder / "answers.json").read_text(encoding="utf-8"))
    return Module2Artifacts(
        folder,
        manifest,
        runs,
        frames["train.parquet"],
        frames["valid.parquet"],
        frames["train_features.parquet"],
        frames["valid_features.parquet"],
        answers if isinstance(answers, dict) else {},
    )


# --- exercise 1: the split stage ----------------------------------------------------------


def _both_splits(artifacts: Module2Artifacts) -> None:
    assert len(artifacts.valid), "valid.parquet is empty: the split put every order in train"
    assert len(artifacts.train), "train.parquet is empty: the split put every order in valid"


@pytest.mark.points(2)
def test_split_is_time_based(artifacts: Module2Artifacts, truth: Truth) -> None:
    """Exercise 1: valid holds exactly the newest two months of orders, train the older ones."""
    _both_splits(artifacts)
    valid_months = set(truth.valid_months)
    train_month = artifacts.train["created_at"].dt.to_period("M")
    valid_month = artifacts.valid["created_at"].dt.to_period("M")
    wrong_valid = artifacts.valid.index[~valid_month.isin(valid_months)]
    wrong_train = artifacts.train.index[train_month.isin(valid_months)]
    shown = ", ".join(str(month) for month in sorted(valid_months))
    assert not len(wrong_valid), (
        f"{len(wrong_valid)} valid orders are not from the newest months ({shown}): rows {rows_text(wrong_valid)}"
    )
    assert not len(wrong_train), (
        f"{len(wrong_train)} train orders are from the validation months ({shown}): rows {rows_text(wrong_train)}"
    )
    assert artifacts.train["created_at"].max() < artifacts.valid["created_at"].min(), (
        "some train order is newer than a valid order"
    )


@pytest.mark.points(2)
def test_split_keeps_every_clean_order_once(artifacts: Module2Artifacts, truth: Truth) -> None:
    """Exercise 1: train + valid are exactly the orders module 1's reference validation keeps, none in both."""
    _both_splits(artifacts)
    train_rows, valid_rows = set(artifacts.train.index), set(artifacts.valid.index)
    both = train_rows & valid_rows
    assert not both, f"{len(both)} source rows are in both splits (rows {rows_text(both)})"
    shared = set(artifacts.train["order_id"]) & set(artifacts.valid["order_id"])
    assert not shared, f"{len(shared)} order ids are in both splits (e.g. {rows_text(shared, 3)})"
    lost = truth.clean_rows - train_rows - valid_rows
    extra = (train_rows | valid_rows) - truth.clean_rows
    assert not lost, f"{len(lost)} clean orders are in neither split (source rows {rows_text(lost)})"
    assert not extra, f"{len(extra)} rows in the splits are not clean orders (source rows {rows_text(extra)})"
    total = len(artifacts.train) + len(artifacts.valid)
    assert total == len(truth.clean_rows), (
        f"the splits hold {total} rows for {len(truth.clean_rows)} clean orders: some appear twice"
    )
    assert tuple(artifacts.train.columns) == RAW_COLUMN_NAMES == tuple(artifacts.valid.columns), (
        "the splits lost order columns"
    )


@pytest.mark.points(1)
def test_split_features_match_recomputation(artifacts: Module2Artifacts, truth: Truth) -> None:
    """Exercise 1: both splits carry every feature unchanged (recomputed from the raw data)."""
    _both_splits(artifacts)
    for name, rows, features in (
        ("train", artifacts.train, artifacts.train_features),
        ("valid", artifacts.valid, artifacts.valid_features),
    ):
        assert list(features.columns) == truth.dictionary.feature_names, (
            f"{name}_features.parquet has the columns {list(features.columns)}, expected {truth.dictionary.feature_names}"
        )
        assert features.index.equals(rows.index), f"{name}_features.parquet and {name}.parquet hold different rows"
        known = features.index.intersection(truth.features.index)
        assert len(known) == len(features), f"{name}_features.parquet has rows that are not clean orders"
        expected = truth.features.loc[known]
        for column in truth.dictionary.feature_names:
            got, want = features.loc[known, column], expected[column]
            if pd.api.types.is_float_dtype(want.dtype):
                differ = ~np.isclose(got.astype(float), want, rtol=0, atol=1e-9)
            else:
                differ = got.astype(str).to_numpy() != want.astype(str).to_numpy()
            rows = known[np.asarray(differ)]
            assert not len(rows), (
                f"{name}: feature {column} differs from its definition at source rows {rows_text(rows)} "
                f"(e.g. {got.loc[rows[0]]!r}, expected {want.loc[rows[0]]!r})"
            )


# --- exercise 2: add a feature ---------------------------------------------------------------


def _added(artifacts: Module2Artifacts, truth: Truth) -> tuple[FeatureDictionary, list[str]]:
    try:
        extended = load_feature_dictionary(artifacts.folder / "feature_dictionary_extended.json")
    except FeatureDictionaryError as error:
        fail(f"the extended feature dictionary is not valid: {error}")
    shipped = truth.dictionary.to_dict()["features"]
    assert extended.to_dict()["features"][: len(shipped)] == shipped, (
        "the extended dictionary must keep every shipped feature unchanged and add yours at the end"
    )
    added = extended.feature_names[len(shipped) :]
    assert added, "no feature was added to the dictionary (NEW_FEATURE is still None)"
    return extended, added


@pytest.mark.points(2)
def test_added_feature_changes_version(artifacts: Module2Artifacts, truth: Truth) -> None:
    """Exercise 2: the added feature gave a new feature-set version, recorded by the run that computed it."""
    _, added = _added(artifacts, truth)
    reference = feature_set_version(truth.dictionary)
    record = artifacts.stage("added_feature", "features")
    version = record["facts"].get("feature_set_version")
    assert record["status"] == "ran" and version, (
        f"the features stage of the add-a-feature run {record['status']} ({record.get('error') or 'no version recorded'})"
    )
    assert version != reference, f"with {added} added, the feature-set version is still the reference {reference}"


@pytest.mark.points(1)
def test_added_feature_computed(artifacts: Module2Artifacts, truth: Truth) -> None:
    """Exercise 2: the new feature is computed for every clean order, varies, and is not a copy of another feature."""
    extended, added = _added(artifacts, truth)
    record = artifacts.stage("added_feature", "features")
    assert record["status"] == "ran", (
        f"the features stage of the add-a-feature run {record['status']}: {record.get('error')}"
    )
    cache = Cache(artifacts.folder / "cache")
    entry = cache.lookup("features", record["cache_key"])
    assert entry is not None, (
        f"the cache has no output for the add-a-feature run's features stage ({record['cache_key']})"
    )
    table = cache.load(entry)
    for name in added:
        assert name in table.columns, f"the features output has no column {name}"
        values = table[name]
        assert set(values.index) == truth.clean_rows, f"{name} is not computed for exactly the clean orders"
        assert not values.isna().any(), f"{name} is missing for {int(values.isna().sum())} orders"
        assert values.nunique() > 1, f"{name} has the same value for every order: it tells the model nothing"
        copies = [
            other
            for other in truth.dictionary.feature_names
            if truth.features[other].astype(str).equals(values.loc[truth.features.index].astype(str))
        ]
        assert not copies, f"{name} repeats the existing feature {copies[0]}"
        assert extended.feature(name).version >= 1


@pytest.mark.points(2)
def test_added_feature_reruns_only_what_depends_on_it(artifacts: Module2Artifacts, truth: Truth) -> None:
    """Exercise 2: with the new feature, ingest and validate were cache hits; features and split ran again."""
    _added(artifacts, truth)
    statuses = {entry["name"]: entry["status"] for entry in artifacts.runs["added_feature"]["stages"]}
    expected = {"ingest": "cached", "validate": "cached", "features": "ran", "split": "ran"}
    assert statuses == expected, f"the add-a-feature run's stages were {statuses}, expected {expected}"
    first_validate = artifacts.stage("first", "validate")["output_hash"]
    assert artifacts.stage("added_feature", "features")["inputs"].get("validate") == first_validate, (
        "the add-a-feature run's features stage did not read the first run's validated rows"
    )


# --- exercise 3: cache invalidation --------------------------------------------------------------


def _check_answer(artifacts: Module2Artifacts, key: str) -> None:
    answer = artifacts.answers.get(key)
    assert answer is not None, f"answers.json has no answer for {key!r}"
    if isinstance(answer, str):
        answer = [answer]
    assert isinstance(answer, list), f"{key}: answer with a list of stage names, got {answer!r}"
    assert answer_is_right(key, answer), (
        f"{key} ({CACHE_QUESTIONS[key]['change']}): you answered {sorted(answer)}; hint: {CACHE_QUESTIONS[key]['hint']}"
    )


@pytest.mark.points(1)
def test_answer_valid_months(artifacts: Module2Artifacts) -> None:
    """Exercise 3: changing a split parameter re-runs the split only."""
    _check_answer(artifacts, "valid_months")


@pytest.mark.points(1)
def test_answer_description(artifacts: Module2Artifacts) -> None:
    """Exercise 3: a reworded description re-runs features, whose unchanged output keeps split cached."""
    _check_answer(artifacts, "description")


@pytest.mark.points(1)
def test_answer_new_data(artifacts: Module2Artifacts) -> None:
    """Exercise 3: corrected data re-runs every stage."""
    _check_answer(artifacts, "new_data")


@pytest.mark.points(1)
def test_answer_moved_folder(artifacts: Module2Artifacts) -> None:
    """Exercise 3: moving the data folder re-runs nothing (the path is context, not a parameter)."""
    _check_answer(artifacts, "moved_folder")


@pytest.mark.points(1)
def test_answer_ingest_comment(artifacts: Module2Artifacts) -> None:
    """Exercise 3: a comment in ingest re-runs ingest only (same output, downstream cached)."""
    _check_answer(artifacts, "ingest_comment")
