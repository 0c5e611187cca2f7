"""The course's order pipeline, the time split, the published feature set and ensure_feature_set.

Runs on a small data folder cut from the shipped reference file (every 8th order, all six
months), so each pipeline run takes a fraction of a second.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from grading.selfcheck.module02 import CACHE_QUESTIONS, answer_is_right
from mlops_kit.course import module_id
from mlops_kit.data import SHIPPED_DATA_DIR, file_period, load_manifest, load_orders
from mlops_kit.domain import RAW_COLUMN_NAMES
from mlops_kit.features import feature_set_version, load_feature_dictionary, parse_feature_dictionary
from mlops_kit.manifest import write_manifest
from mlops_kit.pipeline import (
    FeatureSetError,
    SplitLeakageError,
    StageFailed,
    build_features,
    check_split,
    ensure_feature_set,
    features_stage,
    ingest_orders,
    load_feature_set,
    orders_pipeline,
    publish_feature_set,
    time_split,
    valid_period_start,
    write_feature_set_manifest,
)
from mlops_kit.pipeline.feature_set import MODULE_ID
from mlops_kit.validation import reference_rules, validate


def write_data(folder: Path, orders: pd.DataFrame, variant: int = 0) -> Path:
    """A data folder holding ``orders`` as reference.csv, with the shipped file's period."""
    folder.mkdir(parents=True, exist_ok=True)
    orders.to_csv(folder / "reference.csv", index=False, lineterminator="\n")
    period = load_manifest(SHIPPED_DATA_DIR)["files"]["reference.csv"]
    write_manifest(
        folder,
        {
            "reference.csv": {
                "rows": len(orders),
                "period_start": period["period_start"],
                "period_end": period["period_end"],
            }
        },
        dataset="orders",
        variant=variant,
    )
    return folder


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    orders = load_orders(SHIPPED_DATA_DIR).iloc[::8].reset_index(drop=True)
    return write_data(tmp_path_factory.mktemp("orders") / "data", orders)


def statuses(result: Any) -> dict[str, str]:
    return result.statuses()


# --- the reference pipeline ---------------------------------------------------------------------


def test_reference_pipeline_matches_module1_and_the_dictionary(small_data: Path, tmp_path: Path) -> None:
    result = orders_pipeline(small_data).run(tmp_path)
    assert result.ok and statuses(result) == dict.fromkeys(["ingest", "validate", "features", "split"], "ran")
    raw = load_orders(small_data)
    expected = validate(raw, reference_rules(file_period(small_data, "reference")[1]))
    assert result.facts["data_version"] == expected.data_version
    assert result.facts["feature_set_version"] == feature_set_version(load_feature_dictionary())
    table = result.output("features")
    dictionary = load_feature_dictionary()
    assert list(table.columns[: len(RAW_COLUMN_NAMES)]) == list(RAW_COLUMN_NAMES)
    assert set(dictionary.feature_names) <= set(table.columns)
    assert table.index.equals(expected.clean.index)
    split = result.output("split")
    assert len(split["train"]) + len(split["valid"]) == len(expected.clean)
    assert sorted(split["valid"]["created_at"].dt.to_period("M").astype(str).unique()) == ["2025-05", "2025-06"]
    assert result.stage("validate")["rows_in"] == len(raw) and result.stage("validate")["rows_out"] == len(
        expected.clean
    )


def test_ingest_refuses_data_that_changed_since_the_declaration(small_data: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="declare the pipeline again"):
        ingest_orders(str(small_data), "reference.csv", "0" * 64)
    data = Path(shutil.copytree(small_data, tmp_path / "data"))
    pipeline = orders_pipeline(data)
    write_data(data, load_orders(data).iloc[:-1])  # the file changes after the pipeline was declared
    result = pipeline.run(tmp_path / "work", on_failure=lambda failure: None)
    assert statuses(result)["ingest"] == "failed" and "declare the pipeline again" in result.stage("ingest")["error"]


# --- exercise 3's answer key, checked by experiment -------------------------------------------------


def ingest_v1(data_dir: str, file: str, sha256: str) -> Any:
    return ingest_orders(data_dir, file, sha256)


def ingest_v2(data_dir: str, file: str, sha256: str) -> Any:
    # the same function with a comment added
    return ingest_orders(data_dir, file, sha256)


def _corrected_copy(small_data: Path, target: Path) -> Path:
    """The data with one clean order's basket size fixed."""
    orders = load_orders(small_data)
    clean = validate(orders, reference_rules(file_period(small_data, "reference")[1])).clean
    row = clean.index[0]
    orders.loc[row, "basket_size"] = str(int(orders.loc[row, "basket_size"]) % 20 + 1)
    return write_data(target, orders)


def test_cache_question_answers_are_what_the_engine_does(small_data: Path, tmp_path: Path) -> None:
    def with_ingest(pipeline: Any, func: Any) -> Any:
        return pipeline.replace(pipeline.stage("ingest").replace(func=func))

    work = tmp_path / "work"
    baseline = with_ingest(orders_pipeline(small_data), ingest_v1)
    assert set(statuses(baseline.run(work)).values()) == {"ran"}
    dictionary = load_feature_dictionary()
    reworded = dictionary.to_dict()
    reworded["features"][0]["description"] = "Road distance, reworded."
    moved = Path(shutil.copytree(small_data, tmp_path / "elsewhere" / "data"))
    changed = {
        "valid_months": baseline.with_params("split", valid_months=3),
        "description": baseline.replace(features_stage(parse_feature_dictionary(reworded))),
        "new_data": with_ingest(
            orders_pipeline(_corrected_copy(small_data, tmp_path / "corrected" / "data")), ingest_v1
        ),
        "moved_folder": with_ingest(orders_pipeline(moved), ingest_v1),
        "ingest_comment": with_ingest(orders_pipeline(small_data), ingest_v2),
    }
    assert set(changed) == set(CACHE_QUESTIONS)
    for key, pipeline in changed.items():
        ran = sorted(name for name, status in statuses(pipeline.run(work)).items() if status == "ran")
        assert answer_is_right(key, ran), f"{key}: the engine re-ran {ran}, the stored answer says otherwise"


# --- the time split -------------------------------------------------------------------------------


def orders_at(*times: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"order_id": [f"O{n:07d}" for n in range(len(times))], "created_at": pd.to_datetime(list(times))},
        index=pd.Index(range(100, 100 + len(times)), name="source_row"),
    )


def test_time_split_takes_the_newest_calendar_months() -> None:
    orders = orders_at("2025-01-31 23:59:59", "2025-02-01 00:00:00", "2025-03-15 12:00:00", "2025-03-31 23:00:00")
    assert valid_period_start(orders["created_at"], 2) == pd.Timestamp("2025-02-01")
    split = time_split(orders, valid_months=2)
    assert list(split["train"].index) == [100] and list(split["valid"].index) == [101, 102, 103]
    assert list(time_split(orders, valid_months=1)["valid"].index) == [102, 103]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="valid_months"):
            time_split(orders, valid_months=bad)  # type: ignore[arg-type]


def test_check_split_refuses_leaks() -> None:
    orders = orders_at("2025-01-10 10:00:00", "2025-02-10 10:00:00", "2025-03-10 10:00:00")
    check_split(orders.iloc[:2], orders.iloc[2:])
    shared = orders.copy()
    shared.loc[102, "order_id"] = shared.loc[100, "order_id"]
    with pytest.raises(SplitLeakageError, match="1 order_id values are in both train and valid \\(e.g. O0000000\\)"):
        check_split(shared.iloc[:2], shared.iloc[2:])
    with pytest.raises(SplitLeakageError, match="train reaches 2025-03-10 10:00:00, after valid starts"):
        check_split(orders.iloc[[0, 2]], orders.iloc[[1]])
    with pytest.raises(SplitLeakageError, match="the valid split lacks the columns \\['created_at'\\]"):
        check_split(orders, orders.drop(columns="created_at"))


def leaky_split(features: pd.DataFrame, valid_months: int) -> dict[str, pd.DataFrame]:
    """A random-looking split that forgets check_split."""
    return {"train": features.iloc[::2], "valid": features.iloc[1::2]}


# --- publishing and ensure_feature_set ------------------------------------------------------------------


def test_publish_refuses_a_failed_run_and_a_leaking_split(small_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / MODULE_ID
    good = orders_pipeline(small_data).run(folder)
    publish_feature_set(good, folder)
    published = {path.name: path.read_bytes() for path in folder.glob("*.parquet")}

    def crash(validate: pd.DataFrame, dictionary: Any, computations: Any = None) -> Any:
        build_features(validate, dictionary, computations)
        raise OSError("disk full")

    failed = orders_pipeline(small_data).replace(features_stage().replace(func=crash)).run(folder)
    with pytest.raises(StageFailed, match="stage 'features' failed: OSError: disk full"):
        publish_feature_set(failed, folder)
    leaking = orders_pipeline(small_data, split=leaky_split).run(folder)
    assert leaking.ok
    with pytest.raises(SplitLeakageError):
        publish_feature_set(leaking, folder)
    assert {path.name: path.read_bytes() for path in folder.glob("*.parquet")} == published, "last good files untouched"
    assert not list(folder.glob(".*.tmp"))


def test_ensure_builds_without_module1_artifacts_then_loads(small_data: Path, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    built = ensure_feature_set(artifacts, small_data, 0)
    assert built.origin == "built" and not (artifacts / module_id(1)).exists()
    assert tuple(built.train.columns) == RAW_COLUMN_NAMES and built.train.index.name == "source_row"
    assert list(built.train_features.columns) == built.dictionary.feature_names
    assert built.train_features.index.equals(built.train.index) and built.valid_features.index.equals(built.valid.index)
    assert built.feature_set_version == feature_set_version(load_feature_dictionary())
    assert (
        built.data_version
        == validate(load_orders(small_data), reference_rules(pd.Timestamp("2025-07-01"))).data_version
    )
    assert built.label == "is_late" and built.train["created_at"].max() < built.valid["created_at"].min()
    assert built.manifest["module1_data_version_agrees"] is None
    loaded = ensure_feature_set(artifacts, small_data, 0)
    assert (
        loaded.origin == "loaded"
        and loaded.train.equals(built.train)
        and loaded.valid_features.equals(built.valid_features)
    )


def test_ensure_rebuilds_what_it_cannot_trust(small_data: Path, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    ensure_feature_set(artifacts, small_data, 0)
    folder = artifacts / MODULE_ID
    (folder / "valid.parquet").write_bytes(b"damaged")
    with pytest.raises(FeatureSetError, match="file corrupted or changed"):
        load_feature_set(artifacts, small_data, 0)
    repaired = ensure_feature_set(artifacts, small_data, 0)
    assert repaired.origin == "built" and len(repaired.valid)
    shutil.rmtree(folder)
    with pytest.raises(FeatureSetError, match="missing or changed"):
        load_feature_set(artifacts, small_data, 0)
    assert ensure_feature_set(artifacts, small_data, 0).origin == "built"


def test_ensure_rejects_a_stale_or_foreign_feature_set(small_data: Path, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    result = orders_pipeline(small_data).run(artifacts / MODULE_ID)
    published = publish_feature_set(result, artifacts / MODULE_ID)
    write_feature_set_manifest(artifacts, 3, published)
    with pytest.raises(FeatureSetError, match="for data variant 3, not 0"):
        load_feature_set(artifacts, small_data, 0)
    write_feature_set_manifest(artifacts, 0, {**published, "feature_set_version": "0" * 16})
    with pytest.raises(FeatureSetError, match="built with other feature definitions or code"):
        load_feature_set(artifacts, small_data, 0)
    assert ensure_feature_set(artifacts, small_data, 0).origin == "built"
    with pytest.raises(FeatureSetError, match="holds data variant 0, but variant 5 was asked for"):
        ensure_feature_set(artifacts, small_data, 5)


def test_an_empty_split_is_rebuilt_for_later_modules(small_data: Path, tmp_path: Path) -> None:
    """A learner's unfinished split (everything in train) must not reach module 3."""

    def everything_in_train(features: pd.DataFrame, valid_months: int) -> dict[str, pd.DataFrame]:
        return {"train": features, "valid": features.iloc[:0]}

    artifacts = tmp_path / "artifacts"
    result = orders_pipeline(small_data, split=everything_in_train).run(artifacts / MODULE_ID)
    write_feature_set_manifest(artifacts, 0, publish_feature_set(result, artifacts / MODULE_ID))
    with pytest.raises(FeatureSetError, match="empty"):
        load_feature_set(artifacts, small_data, 0)
    fs = ensure_feature_set(artifacts, small_data, 0)
    assert fs.origin == "built" and len(fs.valid) > 0
