"""Module 6's checks on hand-made frames: tolerance per dtype, the join by key, prediction parity,
schema, environment and leakage verdicts, the report files, and the planted skew of every kind."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops_kit.consistency import (
    Check,
    ConsistencyReport,
    ParityError,
    Tolerance,
    compare_schemas,
    environment_parity,
    feature_parity,
    label_leaks,
    leakage_check,
    openapi_columns,
    prediction_parity,
    split_checks,
    split_violations,
    values_match,
)
from mlops_kit.features import compute_features, load_feature_dictionary
from mlops_kit.scenarios import CATEGORY_REMAPS, SKEW_KINDS, TIMEZONE_OFFSETS_H, UNIT_FACTORS
from mlops_kit.serving.schemas import request_schema
from mlops_kit.serving.skew import SkewSpec, skew_features

DTYPES = {"distance_km": "float", "hour": "int", "weather": "category", "is_weekend": "bool"}
TOLERANCES = {
    "float": Tolerance(atol=1e-6, rtol=1e-6),
    "int": Tolerance(),
    "category": Tolerance(),
    "bool": Tolerance(),
}


def frame(ids, **columns) -> pd.DataFrame:
    return pd.DataFrame({"order_id": ids, **columns})


def test_floats_match_within_the_declared_tolerance_and_other_dtypes_exactly() -> None:
    tolerance = Tolerance(atol=1e-6, rtol=1e-6)
    training = pd.Series([10.0, 10.0, 1e6, np.nan, np.nan, 0.0])
    serving = pd.Series([10.000001, 10.0001, 1e6 + 0.5, np.nan, 1.0, 0.0])
    assert values_match(training, serving, "float", tolerance).tolist() == [True, False, True, True, False, True]
    assert values_match(pd.Series([3, 4]), pd.Series([3.0, 5]), "int", Tolerance()).tolist() == [True, False]
    assert values_match(pd.Series([True, False]), pd.Series([1, True]), "bool", Tolerance()).tolist() == [True, False]
    assert values_match(
        pd.Series(["rain", "storm"]), pd.Series(["rain", "clear"]), "category", Tolerance()
    ).tolist() == [
        True,
        False,
    ]
    with pytest.raises(ValueError, match="atol must be a number in"):
        Tolerance(atol=-1)


def test_feature_parity_counts_match_mismatch_and_one_sided_rows_per_feature() -> None:
    training = frame(
        ["a", "b", "c", "d"],
        distance_km=[1.0, 2.0, 3.0, 4.0],
        hour=[1, 2, 3, 4],
        weather=["rain", "clear", "storm", "rain"],
        is_weekend=[True, False, True, False],
    )
    serving = frame(
        ["b", "c", "d", "e"],
        distance_km=[2.0, 3.0 * 1.0000001, 4.5, 5.0],
        hour=[2, 3, 4, 5],
        weather=["clear", "clear", "rain", "rain"],
        is_weekend=[False, True, False, True],
    )
    check = feature_parity(training, serving, "order_id", DTYPES, TOLERANCES)
    features = check.details["features"]
    assert not check.passed
    assert features["distance_km"]["mismatch"] == 1
    assert features["distance_km"]["examples"] == [{"order_id": "d", "training": 4.0, "serving": 4.5}]
    assert features["weather"]["mismatch"] == 1 and features["weather"]["examples"][0]["order_id"] == "c"
    for name in DTYPES:  # "a" only in training, "e" only in serving
        assert features[name]["training_only"] == 1 and features[name]["serving_only"] == 1
    assert features["hour"]["match"] == 3 and features["hour"]["mismatch"] == 0
    assert check.details["rows_joined"] == 3
    assert "distance_km" in check.message and "weather" in check.message


def test_a_missing_serving_value_is_training_only_and_a_missing_column_fails_every_row() -> None:
    training = frame(["a", "b"], distance_km=[1.0, 2.0], hour=[1, 2])
    serving = frame(["a", "b"], distance_km=[1.0, None])
    check = feature_parity(training, serving, "order_id", {"distance_km": "float", "hour": "int"}, TOLERANCES)
    assert check.details["features"]["distance_km"]["training_only"] == 1
    assert check.details["features"]["hour"]["training_only"] == 2
    assert check.details["failing"] == ["distance_km", "hour"]


def test_identical_sides_pass() -> None:
    training = frame(
        ["a", "b"], distance_km=[1.0, 2.0], hour=[1, 2], weather=["rain", "clear"], is_weekend=[True, False]
    )
    check = feature_parity(training, training.iloc[::-1].copy(), "order_id", DTYPES, TOLERANCES)
    assert check.passed and check.details["failing"] == []


@pytest.mark.parametrize("side", ["training", "serving"])
def test_duplicate_join_keys_are_an_error_not_a_silent_merge(side) -> None:
    good = frame(["a", "b"], hour=[1, 2])
    duplicated = frame(["a", "a", "b"], hour=[1, 1, 2])
    sides = (duplicated, good) if side == "training" else (good, duplicated)
    with pytest.raises(ParityError, match=f"the {side} side has 1 duplicate order_id values \\(a\\)"):
        feature_parity(*sides, "order_id", {"hour": "int"}, TOLERANCES)
    with pytest.raises(ParityError, match="duplicate"):
        prediction_parity(*(s.rename(columns={"hour": "p"}) for s in sides), "order_id", "p", 0.5)


def test_a_tolerance_is_needed_for_every_dtype_in_use() -> None:
    with pytest.raises(ValueError, match=r"no tolerance declared for the dtypes \['category'\]"):
        feature_parity(
            frame(["a"], weather=["x"]), frame(["a"], weather=["x"]), "order_id", {"weather": "category"}, {}
        )


def test_prediction_parity_reports_the_largest_difference_and_flipped_decisions() -> None:
    offline = frame(["a", "b", "c", "d"], p=[0.10, 0.45, 0.70, 0.90])
    online = frame(["d", "c", "b", "a"], p=[0.90, 0.70, 0.55, 0.10 + 1e-9])
    check = prediction_parity(offline, online, "order_id", "p", 0.5)
    assert not check.passed
    assert check.details["max_abs_diff"] == pytest.approx(0.10)
    assert check.details["flipped"] == 1 and check.details["flipped_share"] == 0.25
    assert check.details["examples"][0]["order_id"] == "b"
    assert prediction_parity(offline, offline.copy(), "order_id", "p", 0.5).passed


def test_schema_comparison_names_missing_extra_reordered_and_retyped_fields() -> None:
    dictionary = [("a", "string"), ("b", "number"), ("c", "integer")]
    assert compare_schemas({"dictionary": dictionary, "signature": list(dictionary)}) == []
    problems = compare_schemas(
        {
            "dictionary": dictionary,
            "signature": [("b", "number"), ("a", "string"), ("c", "integer")],
            "openapi": [("a", "string"), ("b", "string"), ("d", "integer")],
        }
    )
    assert any("signature orders the fields" in p for p in problems)
    assert any("openapi lacks the fields ['c']" in p for p in problems)
    assert any("openapi has fields the dictionary does not declare: ['d']" in p for p in problems)
    assert any("openapi: field 'b' is string, the dictionary says number" in p for p in problems)


def test_openapi_columns_read_the_predict_request_body_in_order() -> None:
    dictionary = load_feature_dictionary()
    document = {
        "paths": {
            "/predict": {
                "post": {"requestBody": {"content": {"application/json": {"schema": request_schema(dictionary)}}}}
            }
        }
    }
    columns = openapi_columns(document, "order_id")
    assert [name for name, _ in columns] == dictionary.input_names
    assert dict(columns)["created_at"] == "datetime" and dict(columns)["basket_size"] == "integer"
    with pytest.raises(ValueError, match="no JSON request body for POST /predict"):
        openapi_columns({"paths": {}}, "order_id")


def test_environment_parity_reports_a_package_that_differs() -> None:
    tags = {"env.python": "3.11.7", "env.scikit-learn": "1.6.1", "env.numpy": "2.2.0", "env.pandas": "3.0.1"}
    same = {"python": "3.11.7", "scikit-learn": "1.6.1", "numpy": "2.2.0", "pandas": "3.0.1"}
    assert environment_parity(tags, same, "f1", "f1").passed
    check = environment_parity(tags, {**same, "scikit-learn": "1.7.0"}, "f1", "f2")
    assert not check.passed
    assert check.details["differing"] == [
        "scikit-learn: trained with 1.6.1, served with 1.7.0",
        "feature_set_version: trained with f1, served with f2",
    ]


def test_split_checks_find_shared_ids_and_validation_rows_from_the_past() -> None:
    stamps = pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"])
    train = pd.DataFrame({"order_id": ["a", "b", "c"], "created_at": stamps[[0, 1, 3]]})
    valid = pd.DataFrame({"order_id": ["c", "d"], "created_at": stamps[[3, 2]]})
    assert split_violations(train, valid, "order_id", "created_at") == {
        "shared_ids": ["c"],
        "older_valid_ids": ["c", "d"],
    }
    time_order, shared = split_checks(train, valid, "order_id", "created_at")
    assert not time_order.passed and time_order.details["rows"] == 2
    assert not shared.passed and shared.details["examples"] == [{"order_id": "c"}]
    fine = split_checks(train.iloc[:2], valid.iloc[[1]], "order_id", "created_at")
    assert all(check.passed for check in fine)


def test_a_feature_computed_from_the_label_is_caught() -> None:
    dictionary = load_feature_dictionary()
    rng = np.random.default_rng(0)
    label = pd.Series(rng.integers(0, 2, 400))
    features = pd.DataFrame({"distance_km": rng.uniform(0, 10, 400), "hour": rng.integers(0, 24, 400)})
    assert label_leaks(features, label, dictionary)["too_predictive"] == []
    assert leakage_check(features, label, dictionary).passed
    leaky = features.assign(minutes_late=label * 12 + rng.uniform(0, 3, 400))
    check = leakage_check(leaky, label, dictionary)
    assert not check.passed and check.details["failing"] == ["minutes_late"]
    assert "minutes_late" in check.message


def test_the_report_is_written_as_json_and_escaped_html(tmp_path) -> None:
    checks = [
        Check(
            "feature_parity",
            "features",
            False,
            "hour <b>differs</b>",
            {
                "failing": ["hour"],
                "features": {
                    "hour": {"match": 1, "mismatch": 2, "examples": [{"order_id": "<x>", "training": 1, "serving": 3}]}
                },
            },
        ),
        Check("schema_parity", "schema", True, "ok"),
    ]
    report = ConsistencyReport("before", checks, {"rows": 3})
    files = report.write(tmp_path, "consistency_before")
    data = json.loads(files["json"].read_text())
    assert (
        data["passed"] is False
        and data["rows"] == 3
        and data["summary"] == "FAIL: 1/2 checks passed; failed: feature_parity"
    )
    page = files["html"].read_text()
    assert "&lt;x&gt;" in page and "<x>" not in page and "hour &lt;b&gt;differs&lt;/b&gt;" in page
    assert report.check("schema_parity").passed
    with pytest.raises(KeyError, match="no check 'nope'"):
        report.check("nope")


def orders(rows: int = 300) -> pd.DataFrame:
    """Plausible clean orders (every category present) from a seeded generator."""
    rng = np.random.default_rng(6)
    dictionary = load_feature_dictionary()
    spec = {item.name: item for item in dictionary.inputs}
    return pd.DataFrame(
        {
            "order_id": [f"O{i:07d}" for i in range(rows)],
            "created_at": pd.Timestamp("2025-03-01") + pd.to_timedelta(rng.integers(0, 30 * 24 * 3600, rows), unit="s"),
            "city_zone": rng.choice(spec["city_zone"].categories, rows),
            "distance_km": np.round(rng.uniform(0, 12, rows), 2),
            "prep_time_min": np.round(rng.uniform(0, 40, rows), 1),
            "weather": rng.choice(spec["weather"].categories, rows),
            "vehicle": rng.choice(spec["vehicle"].categories, rows),
            "basket_size": rng.integers(1, 8, rows),
        }
    )


def scenario(kind) -> dict:
    entry = {"feature": kind.feature, "bug": kind.bug, "description": kind.description}
    if kind.bug == "unit":
        entry["factor"] = UNIT_FACTORS[kind.feature]
    if kind.bug == "timezone":
        entry["offset_hours"] = TIMEZONE_OFFSETS_H[0]
    return entry


def expected_mismatches(raw: pd.DataFrame, kind) -> int:
    """Recomputed from the raw orders and the scenario, without the skew code."""
    if kind.bug == "unit":
        return int((raw[kind.feature] != 0).sum())
    if kind.bug == "timezone":
        return len(raw)
    (value,) = CATEGORY_REMAPS[kind.feature]
    return int((raw[kind.feature] == value).sum())


@pytest.mark.parametrize("kind", SKEW_KINDS, ids=lambda kind: f"{kind.feature}-{kind.bug}")
def test_every_planted_skew_is_caught_on_its_feature_only(kind) -> None:
    dictionary = load_feature_dictionary()
    raw = orders()
    computed = compute_features(raw, dictionary)
    training = computed.assign(order_id=raw["order_id"])
    serving = skew_features(computed, SkewSpec.from_scenario(scenario(kind))).assign(order_id=raw["order_id"])
    dtypes = {feature.name: feature.dtype for feature in dictionary.features}
    check = feature_parity(training, serving, "order_id", dtypes)
    assert check.details["failing"] == [kind.feature]
    assert check.details["features"][kind.feature]["mismatch"] == expected_mismatches(raw, kind) > 0
    distances = {name: next(iter(stats["distribution"].values())) for name, stats in check.details["features"].items()}
    assert distances[kind.feature] > 0.01 and all(distances[name] == 0 for name in distances if name != kind.feature)
    assert kind.feature in check.message


def test_a_skew_spec_needs_its_parameter_and_a_known_scenario() -> None:
    with pytest.raises(ValueError, match="factor other than 1"):
        SkewSpec(feature="distance_km", bug="unit")
    with pytest.raises(ValueError, match="not a multiple of 24"):
        SkewSpec(feature="hour", bug="timezone", offset_hours=24)
    with pytest.raises(ValueError, match="none of mlops_kit.scenarios.SKEW_KINDS"):
        SkewSpec.from_scenario({"feature": "basket_size", "bug": "unit", "factor": 2})


def test_the_shipped_skew_fixture_is_the_ledgers_skew(tmp_path) -> None:
    from mlops_kit.data import SHIPPED_DATA_DIR
    from mlops_kit.datagen import read_scenarios
    from mlops_kit.scenarios import SKEW_FIXTURE, decode_skew, encode_skew
    from mlops_kit.serving.skew import planted_skew

    ledger = read_scenarios(SHIPPED_DATA_DIR.parent)["skew"]
    assert planted_skew(SHIPPED_DATA_DIR) == SkewSpec.from_scenario(ledger)
    assert "description" not in decode_skew((SHIPPED_DATA_DIR / SKEW_FIXTURE).read_text())
    for kind in SKEW_KINDS:
        assert SkewSpec.from_scenario(decode_skew(encode_skew(scenario(kind)))) == SkewSpec.from_scenario(
            scenario(kind)
        )
    (tmp_path / SKEW_FIXTURE).parent.mkdir(parents=True)
    (tmp_path / SKEW_FIXTURE).write_text("not base64 json")
    with pytest.raises(ValueError, match="planted_skew.token: not a planted-skew fixture"):
        planted_skew(tmp_path)
    with pytest.raises(FileNotFoundError, match="regenerate the variant's data"):
        planted_skew(tmp_path / "nowhere")
