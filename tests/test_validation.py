"""Module 1's library: parsing, schema, missing-value policy, quarantine, data version, report.

Every frame here is built by hand (no dependency on the shipped data or the generator).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from mlops_kit.data import list_batches, load_orders
from mlops_kit.datagen import ensure_variant
from mlops_kit.domain import RAW_COLUMN_NAMES, RAW_COLUMNS
from mlops_kit.validation import (
    DEFECT_KINDS,
    Impute,
    OutlierRule,
    Reject,
    RowCheck,
    ValidationInputError,
    ValidationResult,
    ValidationRules,
    canonical_csv_bytes,
    data_version,
    order_schema,
    read_clean,
    reference_rules,
    validate,
    write_validation_artifacts,
)
from mlops_kit.validation.parse import parse_frame
from mlops_kit.validation.schema import _failed_rows, with_column_checks

CUTOFF = pd.Timestamp("2025-08-01")
RULES = reference_rules(CUTOFF)
NO_RULES = ValidationRules(missing_policy={})


def order(number: int = 1, **overrides: str | None) -> dict[str, str | None]:
    """One valid raw order row (all strings), with some fields overridden."""
    row = {
        "order_id": f"O{number:07d}",
        "created_at": f"2025-07-{1 + number % 28:02d} 12:{number % 60:02d}:00",
        "city_zone": "center",
        "distance_km": f"{1 + number % 9}.5",
        "prep_time_min": f"{10 + number % 20}",
        "weather": "clear",
        "vehicle": "bike",
        "basket_size": f"{1 + number % 5}",
        "is_late": f"{number % 2}",
    }
    return {**row, **overrides}


def orders(*rows: dict[str, str | None]) -> pd.DataFrame:
    """Raw frame as ``load_orders`` returns it: every column str, missing = NA."""
    return pd.DataFrame(list(rows), columns=list(RAW_COLUMN_NAMES)).astype("str")


def good_orders(count: int = 5) -> pd.DataFrame:
    """``count`` valid, distinct orders."""
    return orders(*(order(number) for number in range(count)))


def reasons_of(result: ValidationResult) -> dict[int, str]:
    """Quarantined source row -> reasons."""
    return result.quarantine["reasons"].to_dict()


def check(result: ValidationResult, defect: str, column: str) -> dict:
    """The report entry of one check."""
    (entry,) = [c for c in result.report["checks"] if (c["defect"], c["column"]) == (defect, column)]
    return entry


# --- clean data ---------------------------------------------------------------------------


def test_valid_orders_are_all_clean_and_typed() -> None:
    result = validate(good_orders(), RULES)
    assert len(result.clean) == 5 and result.quarantine.empty
    dtypes = result.clean.dtypes.astype(str).to_dict()
    assert dtypes["created_at"].startswith("datetime64")
    assert dtypes["distance_km"] == dtypes["prep_time_min"] == "float64"
    assert dtypes["basket_size"] == dtypes["is_late"] == "Int64"
    assert dtypes["weather"] == dtypes["order_id"] == "str"
    assert list(result.clean.columns) == list(RAW_COLUMN_NAMES)
    assert list(result.quarantine.columns) == [*RAW_COLUMN_NAMES, "reasons"]
    order_schema().validate(result.clean)


def test_input_index_is_kept_as_source_row() -> None:
    raw = good_orders(3).set_axis([10, 11, 12])
    raw.loc[11, "vehicle"] = "jet"
    result = validate(raw, RULES)
    assert list(result.clean.index) == [10, 12] and list(result.quarantine.index) == [11]
    assert result.clean.index.name == result.quarantine.index.name == "source_row"


def test_input_column_order_does_not_matter() -> None:
    raw = good_orders()
    shuffled = raw[list(reversed(raw.columns))]
    assert validate(shuffled, RULES).data_version == validate(raw, RULES).data_version


def test_already_typed_columns_work() -> None:
    raw = good_orders()
    typed = validate(raw, RULES).clean
    mixed = raw.assign(
        distance_km=typed["distance_km"].to_numpy(),  # float64
        is_late=raw["is_late"].astype(int).astype(bool).to_numpy(),  # bool
        created_at=typed["created_at"].astype("datetime64[ns]").to_numpy(),
        weather=pd.Categorical(raw["weather"]),
    )
    assert validate(typed, RULES).data_version == validate(raw, RULES).data_version
    assert validate(mixed, RULES).data_version == validate(raw, RULES).data_version
    assert validate(raw.astype("string"), RULES).data_version == validate(raw, RULES).data_version


def test_schema_is_built_from_the_domain() -> None:
    schema = order_schema()
    assert list(schema.columns) == list(RAW_COLUMN_NAMES)
    for column in RAW_COLUMNS:
        statistics = {
            key: value for check in schema.columns[column.name].checks for key, value in check.statistics.items()
        }
        assert statistics.get("allowed_values", []) == list(column.categories)
        assert statistics.get("min_value") == column.min_value and statistics.get("max_value") == column.max_value
    assert schema.columns["order_id"].unique and not schema.columns["weather"].nullable
    assert order_schema(nullable=["weather"]).columns["weather"].nullable


# --- one test per defect code ---------------------------------------------------------------

DEFECT_CASES = [
    ("distance_km", "abc", "wrong_type:distance_km"),
    ("created_at", "2025/07/03 10:00:00", "wrong_type:created_at"),
    ("created_at", "2025-07-03", "wrong_type:created_at"),
    ("basket_size", "2.5", "wrong_type:basket_size"),
    ("is_late", "yes", "wrong_type:is_late"),
    ("prep_time_min", "nan", "wrong_type:prep_time_min"),
    ("vehicle", None, "missing_required:vehicle"),
    ("order_id", "", "missing_required:order_id"),
    ("created_at", None, "missing_required:created_at"),
    ("is_late", None, "missing_required:is_late"),
    ("distance_km", "30.5", "impossible_value:distance_km"),
    ("distance_km", "-0.1", "impossible_value:distance_km"),
    ("basket_size", "0", "impossible_value:basket_size"),
    ("is_late", "2", "impossible_value:is_late"),
    ("prep_time_min", "300", "impossible_value:prep_time_min"),
    ("vehicle", "SCOOTER", "unknown_category:vehicle"),
    ("vehicle", "drone", "unknown_category:vehicle"),
    ("weather", "Rain ", "unknown_category:weather"),
    ("city_zone", "airport", "unknown_category:city_zone"),
    ("prep_time_min", "120.5", "outlier:prep_time_min"),
    ("created_at", "2025-08-01 00:00:00", "future_timestamp:created_at"),
    ("created_at", "2031-01-01 08:00:00", "future_timestamp:created_at"),
]


@pytest.mark.parametrize(("column", "value", "code"), DEFECT_CASES)
def test_each_defect_quarantines_exactly_its_row(column: str, value: str | None, code: str) -> None:
    raw = good_orders()
    raw.loc[2, column] = value
    result = validate(raw, RULES)
    assert reasons_of(result) == {2: code}
    assert list(result.clean.index) == [0, 1, 3, 4]
    kept = result.quarantine.loc[2, column]
    assert pd.isna(kept) if value is None else kept == value  # the raw value, untouched
    defect, _, name = code.partition(":")
    assert check(result, defect, name)["failures"] == 1


def test_defect_kinds_are_the_seven_codes() -> None:
    assert set(DEFECT_KINDS) == {
        "missing_required",
        "impossible_value",
        "outlier",
        "duplicate_id",
        "wrong_type",
        "future_timestamp",
        "unknown_category",
    }
    assert {code.split(":")[0] for _, _, code in DEFECT_CASES} | {"duplicate_id"} == set(DEFECT_KINDS)


def test_boundaries_are_valid() -> None:
    raw = orders(
        order(1, distance_km="0", prep_time_min="120", basket_size="50", created_at="2025-07-31 23:59:59"),
        order(2, distance_km="30", prep_time_min="0", basket_size="1", is_late="0"),
        order(3, basket_size="7.0"),
    )
    result = validate(raw, RULES)
    assert result.quarantine.empty
    assert result.clean.loc[2, "basket_size"] == 7


def test_duplicate_id_keeps_the_first_occurrence() -> None:
    raw = orders(order(1), order(2), order(1, vehicle="car"), order(3), order(1, vehicle="ebike"))
    result = validate(raw, RULES)
    assert reasons_of(result) == {2: "duplicate_id:order_id", 4: "duplicate_id:order_id"}
    assert result.clean.loc[0, "vehicle"] == "bike"
    assert check(result, "duplicate_id", "order_id")["failures"] == 2


def test_a_row_carries_all_its_reasons_in_check_order() -> None:
    raw = orders(order(1), order(1, distance_km="12,5", vehicle="SCOOTER", created_at="2026-01-01 00:00:00"))
    assert reasons_of(validate(raw, RULES)) == {
        1: "wrong_type:distance_km;unknown_category:vehicle;duplicate_id:order_id;future_timestamp:created_at"
    }


def test_an_impossible_value_is_not_also_an_outlier() -> None:
    raw = good_orders()
    raw.loc[1, "prep_time_min"] = "250"
    result = validate(raw, RULES)
    assert reasons_of(result) == {1: "impossible_value:prep_time_min"}
    assert check(result, "outlier", "prep_time_min")["failures"] == 0


def test_missing_ids_are_missing_not_duplicates() -> None:
    raw = orders(order(1, order_id=None), order(2, order_id=None), order(3))
    assert reasons_of(validate(raw, RULES)) == {0: "missing_required:order_id", 1: "missing_required:order_id"}


def test_outlier_rule_with_lower_bound_and_custom_rules() -> None:
    rules = ValidationRules({}, outlier_rules=[OutlierRule("distance_km", lower=1.0, reason="too close")])
    raw = orders(order(1, distance_km="0.5"), order(2, distance_km="1.0"))
    assert reasons_of(validate(raw, rules)) == {0: "outlier:distance_km"}


# --- missing-value policy -------------------------------------------------------------------


def test_impute_median_uses_only_clean_rows() -> None:
    raw = orders(
        order(1, prep_time_min="10"),
        order(2, prep_time_min="20"),
        order(3, prep_time_min="30"),
        order(4, prep_time_min="100", vehicle="jet"),  # quarantined: its value must not count
        order(5, prep_time_min=None),
        order(6, prep_time_min="  "),
    )
    result = validate(raw, RULES)
    assert list(result.quarantine.index) == [3]
    assert result.clean.loc[[4, 5], "prep_time_min"].tolist() == [20.0, 20.0]
    imputed = {item["column"]: item for item in result.report["imputed"]}
    assert imputed["prep_time_min"] == {"column": "prep_time_min", "strategy": "median", "value": 20.0, "rows": 2}
    assert check(result, "missing_imputable", "prep_time_min")["failures"] == 2
    assert result.report["columns"]["prep_time_min"]["missing"] == 2


def test_impute_most_frequent_breaks_ties_deterministically() -> None:
    raw = orders(
        order(1, weather="rain"),
        order(2, weather="rain"),
        order(3, weather="clear"),
        order(4, weather="clear"),
        order(5, weather=None),
    )
    result = validate(raw, RULES)
    assert result.quarantine.empty
    assert result.clean.loc[4, "weather"] == "clear"
    assert result.report["imputed"][1] == {
        "column": "weather",
        "strategy": "most_frequent",
        "value": "clear",
        "rows": 1,
    }


def test_impute_constant_and_int_median() -> None:
    rules = ValidationRules({"vehicle": Impute("constant", "car"), "basket_size": Impute("median")})
    raw = orders(order(1, basket_size="1"), order(2, basket_size="2"), order(3, vehicle=None, basket_size=None))
    result = validate(raw, rules)
    assert result.clean.loc[2, "vehicle"] == "car"
    assert result.clean.loc[2, "basket_size"] == 2  # median 1.5, rounded half up
    assert result.clean["basket_size"].dtype == "Int64"


def test_unlisted_column_defaults_to_reject() -> None:
    raw = orders(order(1), order(2, weather=None))
    assert reasons_of(validate(raw, NO_RULES)) == {1: "missing_required:weather"}


def test_imputed_column_without_any_valid_value_is_quarantined() -> None:
    raw = orders(order(1, prep_time_min=None), order(2, prep_time_min=None))
    result = validate(raw, RULES)
    assert reasons_of(result) == {0: "missing_required:prep_time_min", 1: "missing_required:prep_time_min"}
    assert result.report["imputed"][0]["value"] is None


# --- partition property and full quarantine -------------------------------------------------

CORRUPTIONS = [None, "", "abc", "-5", "999", "SCOOTER", "Rain ", "2099-01-01 00:00:00", "3.5", "O0000001"]


@pytest.mark.parametrize("seed", range(15))
def test_every_row_is_clean_or_quarantined_exactly_once(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = [order(int(number)) for number in rng.integers(0, 40, size=int(rng.integers(1, 40)))]
    raw = orders(*rows)
    for _ in range(int(rng.integers(0, 30))):
        raw.iloc[rng.integers(len(raw)), rng.integers(len(RAW_COLUMNS))] = rng.choice(CORRUPTIONS)
    raw.index = rng.permutation(np.arange(100, 100 + len(raw)))
    result = validate(raw, RULES)
    assert len(result.clean) + len(result.quarantine) == len(raw)
    assert set(result.clean.index).isdisjoint(result.quarantine.index)
    assert set(result.clean.index) | set(result.quarantine.index) == set(raw.index)
    assert not result.clean.isna().any().any()
    assert result.clean["order_id"].is_unique
    order_schema().validate(result.clean)
    assert (result.quarantine["reasons"] != "").all()
    for code in ";".join(result.quarantine["reasons"]).split(";") if len(result.quarantine) else []:
        defect, column = code.split(":")
        assert defect in DEFECT_KINDS and column in RAW_COLUMN_NAMES
    assert result.report["rows_clean"] == len(result.clean)
    assert result.report["rows_quarantined"] == len(result.quarantine)


def test_all_bad_frame_is_fully_quarantined() -> None:
    raw = orders(*(order(number, vehicle="jet", distance_km="far") for number in range(4)))
    result = validate(raw, RULES)
    assert result.clean.empty and len(result.quarantine) == 4
    assert list(result.clean.columns) == list(RAW_COLUMN_NAMES)
    assert result.clean["created_at"].dtype.kind == "M"
    assert len(result.data_version) == 16
    assert result.report["rows_clean"] == 0 and result.report["rows_quarantined"] == 4
    json.dumps(result.report)


# --- bad input --------------------------------------------------------------------------------

BAD_INPUTS = [
    (lambda: validate([order(1)], RULES), "got list"),
    (lambda: validate(good_orders().iloc[:0], RULES), "empty"),
    (lambda: validate(good_orders().drop(columns=["weather", "vehicle"]), RULES), "missing columns: weather, vehicle"),
    (lambda: validate(good_orders().assign(tip="1"), RULES), "unexpected extra columns: tip"),
    (lambda: validate(good_orders().set_axis([0, 0, 1, 2, 3]), RULES), "index"),
    (lambda: validate(good_orders(), {"weather": Reject()}), "ValidationRules"),
    (lambda: validate(good_orders(), ValidationRules({"wether": Impute("most_frequent")})), "'wether'"),
    (lambda: validate(good_orders(), ValidationRules({"weather": Impute("median")})), "median"),
    (lambda: validate(good_orders(), ValidationRules({"weather": Impute("mean")})), "'mean'"),
    (lambda: Impute("mean"), "choose one of 'median', 'most_frequent', 'constant'"),
    (lambda: validate(good_orders(), ValidationRules({"weather": Reject})), "instance"),
    (lambda: validate(good_orders(), ValidationRules({"weather": "drop"})), "Impute(...) or Reject()"),
    (lambda: validate(good_orders(), ValidationRules({"is_late": Impute("most_frequent")})), "cannot be imputed"),
    (lambda: validate(good_orders(), ValidationRules({"weather": Impute("constant")})), "needs a value"),
    (lambda: validate(good_orders(), ValidationRules({"weather": Impute("constant", "snow")})), "domain"),
    (lambda: validate(good_orders(), ValidationRules({"distance_km": Impute("constant", "far")})), "does not parse"),
    (lambda: validate(good_orders(), ValidationRules({}, [OutlierRule("dist_km", upper=9)])), "'dist_km'"),
    (lambda: validate(good_orders(), ValidationRules({}, [OutlierRule("weather", upper=9)])), "not numeric"),
    (lambda: validate(good_orders(), ValidationRules({}, [OutlierRule("distance_km")])), "neither"),
    (lambda: validate(good_orders(), ValidationRules({}, [OutlierRule("distance_km", 5, 1)])), "lower 5 > upper 1"),
    (lambda: reference_rules(pd.Timestamp("2025-08-01", tz="UTC")), "time zone"),
]


@pytest.mark.parametrize(("call", "message"), BAD_INPUTS)
def test_bad_input_raises_a_clear_error(call, message: str) -> None:
    with pytest.raises(ValidationInputError) as error:
        call()
    assert message in str(error.value)
    assert isinstance(error.value, ValueError)


# --- row checks -------------------------------------------------------------------------------


def rules_with(flags, defect: str = "big_basket") -> ValidationRules:
    """Reference policy plus one custom row check on basket_size."""
    return ValidationRules(RULES.missing_policy, row_checks=[RowCheck("big basket", "basket_size", defect, flags)])


def test_row_check_returning_none_is_skipped_and_reported() -> None:
    result = validate(good_orders(), rules_with(lambda frame: None))
    assert result.quarantine.empty
    (skipped,) = result.report["skipped_checks"]
    assert skipped["name"] == "big basket" and "not implemented" in skipped["message"]


def test_custom_row_check_flags_rows_even_with_nullable_booleans() -> None:
    raw = orders(order(1, basket_size="40"), order(2, basket_size="3"))
    result = validate(raw, rules_with(lambda frame: frame["basket_size"] > 30))
    assert reasons_of(result) == {0: "big_basket:basket_size"}
    assert check(result, "big_basket", "basket_size")["examples"] == [{"source_row": 0, "value": "40"}]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (lambda frame: [False] * len(frame), "returned list"),
        (lambda frame: frame["basket_size"].head(2) > 1, "2 values for 5 rows"),
        (lambda frame: frame["basket_size"], "dtype is Int64"),
        (lambda frame: (frame["basket_size"] > 1).set_axis(range(7, 12)), "index does not match"),
        (lambda frame: frame["no_such_column"] > 1, "raised KeyError"),
    ],
)
def test_row_check_returning_garbage_raises_naming_the_check(flags, message: str) -> None:
    with pytest.raises(ValidationInputError) as error:
        validate(good_orders(), rules_with(flags))
    assert "'big basket'" in str(error.value) and message in str(error.value)


def test_row_check_on_unknown_column_or_bad_defect_code() -> None:
    with pytest.raises(ValidationInputError, match="unknown column 'basket'"):
        validate(good_orders(), ValidationRules({}, row_checks=[RowCheck("c", "basket", "x", lambda f: None)]))
    with pytest.raises(ValidationInputError, match="defect must be a code"):
        validate(good_orders(), ValidationRules({}, row_checks=[RowCheck("c", "basket_size", "a;b", lambda f: None)]))


# --- column checks (pandera) ------------------------------------------------------------------


def column_rules(*checks) -> ValidationRules:
    """Reference policy, with ``checks`` as the only column checks of basket_size."""
    return ValidationRules(RULES.missing_policy, column_checks={"basket_size": list(checks)})


def test_a_pandera_column_check_quarantines_the_rows_it_fails_under_its_error_code() -> None:
    raw = orders(order(1, basket_size="40"), order(2, basket_size="3"), order(3, basket_size=None))
    rules = ValidationRules(
        {"basket_size": Impute("median")}, column_checks={"basket_size": [pa.Check.less_than(30, error="big_basket")]}
    )
    result = validate(raw, rules)
    assert reasons_of(result) == {0: "big_basket:basket_size"}, "a missing value is not a failure (pandera ignores NA)"
    assert check(result, "big_basket", "basket_size")["examples"] == [{"source_row": 0, "value": "40"}]


def test_the_reference_future_check_is_a_pandera_check_with_an_exclusive_cutoff() -> None:
    (future,) = RULES.column_checks["created_at"]
    assert isinstance(future, pa.Check) and future.error == "future_timestamp"
    raw = orders(order(1, created_at="2025-07-31 23:59:59"), order(2, created_at="2025-08-01 00:00:00"))
    assert reasons_of(validate(raw, RULES)) == {1: "future_timestamp:created_at"}


def test_a_column_check_given_as_none_is_skipped_and_reported() -> None:
    result = validate(good_orders(), column_rules(None))
    assert result.quarantine.empty
    (skipped,) = result.report["skipped_checks"]
    assert skipped["column"] == "basket_size" and "not implemented" in skipped["message"]


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ({"basket": [pa.Check.less_than(30, error="big")]}, "unknown column 'basket'"),
        ({"basket_size": pa.Check.less_than(30, error="big")}, "must be a list of checks"),
        ({"basket_size": [lambda s: s < 30]}, "must be a pandera Check"),
        ({"basket_size": [pa.Check.less_than(30)]}, "give the check error='<defect code>'"),
        ({"basket_size": [pa.Check(lambda s: s.no_such_attribute < 3, error="big")]}, "'big' on column 'basket_size'"),
        ({"basket_size": [pa.Check(lambda s: s < "thirty", error="big")]}, "failed to run"),
        ({"basket_size": [pa.Check(lambda s: bool((s < 0).any()), error="big")]}, "'big' on column 'basket_size'"),
    ],
)
def test_a_broken_column_check_raises_naming_the_column_and_check(checks, message: str) -> None:
    with pytest.raises(ValidationInputError) as error:
        validate(good_orders(), ValidationRules(RULES.missing_policy, column_checks=checks))
    assert message in str(error.value)


# --- data version, artifacts, report ----------------------------------------------------------


def test_data_version_is_stable_and_sensitive() -> None:
    first = validate(good_orders(), RULES)
    assert validate(good_orders(), RULES).data_version == first.data_version == data_version(first.clean.copy())
    assert len(first.data_version) == 16 and int(first.data_version, 16) >= 0
    assert first.data_version == hashlib.sha256(canonical_csv_bytes(first.clean)).hexdigest()[:16]
    changed = good_orders()
    changed.loc[3, "distance_km"] = "7.25"
    assert validate(changed, RULES).data_version != first.data_version
    assert data_version(first.clean.drop(index=4)) != first.data_version


def test_canonical_csv_format() -> None:
    lines = canonical_csv_bytes(validate(good_orders(2), RULES).clean).decode().split("\n")
    assert lines[0] == "source_row," + ",".join(RAW_COLUMN_NAMES)
    assert lines[1].startswith("0,O0000000,2025-07-01 12:00:00,center,")
    assert "\r" not in "".join(lines) and lines[-1] == ""


def test_write_and_read_round_trip(tmp_path) -> None:
    raw = good_orders(8)
    raw.loc[1, "weather"] = "<script>alert(1)</script>"
    raw.loc[2, "prep_time_min"] = None
    raw.loc[3, "distance_km"] = "0.1"
    result = validate(raw, RULES, source="batch <2025-07>")
    paths = write_validation_artifacts(result, tmp_path / "m1")
    assert sorted(paths) == ["clean.csv", "quarantine.csv", "report.html", "report.json"]
    assert hashlib.sha256(paths["clean.csv"].read_bytes()).hexdigest()[:16] == result.data_version
    back = read_clean(paths["clean.csv"])
    pd.testing.assert_frame_equal(back, result.clean)
    assert data_version(back) == result.data_version
    quarantine = pd.read_csv(paths["quarantine.csv"], dtype=str, keep_default_na=False)
    assert list(quarantine.columns) == ["source_row", *RAW_COLUMN_NAMES, "reasons"]
    assert quarantine.loc[0, "source_row"] == "1" and quarantine.loc[0, "reasons"] == "unknown_category:weather"
    assert json.loads(paths["report.json"].read_text()) == result.report
    page = paths["report.html"].read_text()
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "batch &lt;2025-07&gt;" in page


def test_all_bad_result_round_trips(tmp_path) -> None:
    result = validate(orders(order(1, vehicle="jet")), RULES)
    back = read_clean(write_validation_artifacts(result, tmp_path)["clean.csv"])
    assert back.empty and data_version(back) == result.data_version


def test_report_is_json_and_counts_are_right() -> None:
    raw = orders(*(order(number, vehicle="jet") for number in range(7)), order(8), order(9, weather=None))
    result = validate(raw, RULES, source="hand-made")
    report = json.loads(json.dumps(result.report))  # plain JSON types only
    assert report == result.report
    assert (report["source"], report["rows_in"], report["rows_clean"], report["rows_quarantined"]) == (
        "hand-made",
        9,
        2,
        7,
    )
    entry = check(result, "unknown_category", "vehicle")
    assert entry["failures"] == 7 and len(entry["examples"]) == 5
    assert entry["examples"][0] == {"source_row": 0, "value": "jet"}
    assert report["columns"]["weather"] == {"missing": 1}
    assert set(report["columns"]) == set(RAW_COLUMN_NAMES)
    assert report["data_version"] == result.data_version


def test_validation_accounts_for_every_row_of_nine_thousand() -> None:
    """Every row ends up clean or quarantined (its speed is measured by `make bench`, validation_reference)."""
    raw = orders(*(order(number) for number in range(9000)))
    raw["order_id"] = [f"O{number:07d}" for number in range(9000)]
    raw.loc[::97, "distance_km"] = "abc"
    raw.loc[::89, "prep_time_min"] = None
    raw.loc[::83, "vehicle"] = "SCOOTER"
    result = validate(raw, RULES)
    assert len(result.clean) + len(result.quarantine) == 9000
    assert set(result.clean.index).isdisjoint(result.quarantine.index)
    bad = set(range(0, 9000, 97)) | set(range(0, 9000, 83))  # unparsable distances, unknown vehicles
    assert set(result.quarantine.index) == bad


def test_import_stays_light() -> None:
    code = "import sys, mlops_kit.validation; print(sorted(m for m in ('sklearn', 'mlflow', 'evidently') if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


# --- the schema's rows are pandera's -------------------------------------------------------------


def _pandera_lazy_rows(typed: pd.DataFrame, schema: pa.DataFrameSchema) -> dict[tuple[str, str], set]:
    """(defect, column) -> failing rows, read from pandera's own lazy report (what ``_failed_rows`` skips)."""
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return {}
    cases = cases.assign(
        defect=cases["check"].replace({"not_nullable": "missing_required", "field_uniqueness": "duplicate_id"})
    )
    rows: dict[tuple[str, str], set] = {}
    for (defect, column), group in cases.dropna(subset=["index"]).groupby(["defect", "column"]):
        rows[(defect, column)] = set(group["index"])
    return rows


@pytest.mark.parametrize("variant", [0, 3])
def test_the_schemas_failing_rows_are_those_of_panderas_lazy_report(variant: int, tmp_path) -> None:
    """Each declared check is pandera's, run on its column: the rows equal pandera's lazy validation report,
    on every batch of a variant, with a learner's column check added."""
    data = ensure_variant(variant, tmp_path) / "data"
    learner = {"basket_size": [pa.Check(lambda s: s % 7 != 0, error="lucky_seven")]}
    schema = with_column_checks(order_schema(nullable={"prep_time_min"}), learner)
    compared = 0
    for name in ("reference", *list_batches(data)):
        typed = parse_frame(load_orders(data, name).rename_axis("source_row")).typed
        mine = {key: set(typed.index[mask]) for key, mask in _failed_rows(typed, schema).items() if mask.any()}
        assert mine == _pandera_lazy_rows(typed, schema), name
        compared += sum(len(rows) for rows in mine.values())
    assert compared > 50, "the batches hold defects of several kinds"


def test_a_column_check_answering_true_for_the_whole_column_fails_no_row() -> None:
    """pandera passes a check that answers one True for the column; a single False is a check that cannot say which rows."""
    rules = ValidationRules(
        RULES.missing_policy, column_checks={"basket_size": [pa.Check(lambda s: True, error="big")]}
    )
    assert validate(good_orders(), rules).quarantine.empty
