"""Artifact checks for module 6 (training/serving consistency).

Expected values come from the graded variant: the clean reference orders are rebuilt from the raw file
and the defect ledger (``expected_clean_text``, not with mlops_kit's validation), the planted skew is
the ledger's ``scenarios.json``, and the mismatch count of the skewed feature is recomputed here from
those orders and the skew, without mlops_kit's consistency or serving code. The leaky split is rebuilt
from the same orders with the graded variant's seed. A report must have compared the graded variant's
orders (its row count): that is a precondition of every check that reads one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from grading.artifact_tests.shared import expected_clean_text, fail, read_artifact_json, require_manifest, rows_text
from mlops_kit.course import module_id
from mlops_kit.data import file_period, load_orders
from mlops_kit.datagen import read_defect_ledger, read_scenarios
from mlops_kit.domain import TIMESTAMP_FORMAT
from mlops_kit.features import load_feature_dictionary
from mlops_kit.pipeline import DEFAULT_VALID_MONTHS
from mlops_kit.scenarios import CATEGORY_REMAPS

MODULE = module_id(6)
SOURCE_FILE = "reference.csv"
CHECKS = (
    "feature_parity",
    "prediction_parity",
    "environment_parity",
    "schema_parity",
    "split_time_order",
    "split_shared_ids",
    "split_label_leakage",
)
SCHEMA_TYPES = {
    "category": "string",
    "str": "string",
    "datetime": "datetime",
    "float": "number",
    "int": "integer",
    "bool": "boolean",
}
PACKAGES = ("python", "scikit-learn", "numpy", "pandas")
LEAKY_SHARE, LEAKY_COPIED = 0.2, 10
DRILL_OFFSET_KM = 2.005e-6


@dataclass(frozen=True)
class Graded:
    """The graded variant's clean reference orders (typed), its train split and the planted skew."""

    clean: pd.DataFrame
    train: pd.DataFrame
    skew: dict[str, Any]


@pytest.fixture(scope="session")
def graded(data_dir: Path, variant_dir: Path) -> Graded:
    raw = load_orders(data_dir, SOURCE_FILE.removesuffix(".csv"))
    defects = read_defect_ledger(variant_dir)
    text = expected_clean_text(raw, defects[defects["file"] == SOURCE_FILE])
    clean = pd.DataFrame(
        {
            "order_id": text["order_id"].astype(str),
            "created_at": pd.to_datetime(text["created_at"], format=TIMESTAMP_FORMAT),
            "distance_km": text["distance_km"].astype(float),
            "prep_time_min": text["prep_time_min"].astype(float),
            "weather": text["weather"].astype(str),
            "vehicle": text["vehicle"].astype(str),
            "basket_size": text["basket_size"].astype(int),
        }
    )
    start, end = file_period(data_dir, "reference")
    valid_months = pd.period_range(start, end - pd.Timedelta(seconds=1), freq="M")[-DEFAULT_VALID_MONTHS:]
    train = clean[~clean["created_at"].dt.to_period("M").isin(valid_months)]
    return Graded(clean.reset_index(drop=True), train.reset_index(drop=True), read_scenarios(variant_dir)["skew"])


@pytest.fixture(scope="session")
def folder(artifacts_dir: Path, variant: int) -> Path:
    require_manifest(artifacts_dir, MODULE, variant, ())
    return artifacts_dir / MODULE


def read_json(folder: Path, name: str) -> Any:
    return read_artifact_json(folder, name)


def report(folder: Path, graded: Graded, stem: str) -> dict[str, Any]:
    """A report that compared the graded variant's clean reference orders (else the check fails here)."""
    data = read_json(folder, f"consistency_{stem}.json")
    if not (folder / f"consistency_{stem}.html").is_file():
        fail(f"{MODULE}/consistency_{stem}.html is missing: write the report with report.write(OUT, ...)")
    if data.get("rows") != len(graded.clean):
        fail(
            f"the {stem} report compared {data.get('rows')} orders; the graded variant's reference period has "
            f"{len(graded.clean)} clean orders: compare all of them"
        )
    return data


def check_of(data: dict[str, Any], name: str, stem: str) -> dict[str, Any]:
    found = [check for check in data.get("checks", []) if check.get("name") == name]
    if not found:
        fail(f"the {stem} report has no {name!r} check (it has {[c.get('name') for c in data.get('checks', [])]})")
    return found[0]


def expected_mismatches(graded: Graded, tolerances: dict[str, Any]) -> int:
    """Orders whose skewed feature the service computes differently, from the raw orders and the ledger."""
    skew, clean = graded.skew, graded.clean
    if skew["bug"] == "unit":
        values = clean[skew["feature"]].to_numpy(dtype=float)
        atol, rtol = float(tolerances["float"]["atol"]), float(tolerances["float"]["rtol"])
        return int((np.abs(values - values * skew["factor"]) > atol + rtol * np.abs(values)).sum())
    if skew["bug"] == "timezone":
        hours = clean["created_at"].dt.hour
        return int(((hours + skew["offset_hours"]) % 24 != hours).sum())
    (value,) = CATEGORY_REMAPS[skew["feature"]]
    return int((clean[skew["feature"]] == value).sum())


@pytest.mark.points(3)
def test_before_report_names_the_skewed_feature(folder: Path, graded: Graded) -> None:
    """Exercise 1: the 'before' report names the planted skew's feature, with the right number of orders, and nothing else."""
    parity = check_of(report(folder, graded, "before"), "feature_parity", "before")
    details = parity.get("details", {})
    tolerances = details.get("tolerances", {})
    float_rule = tolerances.get("float", {})
    assert 0 < float(float_rule.get("atol", 0)) <= 1e-3 and 0 <= float(float_rule.get("rtol", 1)) <= 1e-3, (
        f"the float tolerance {float_rule} is not the declared one (DEFAULT_TOLERANCES)"
    )
    assert details.get("rows_joined") == len(graded.clean), (
        f"{details.get('rows_joined')} orders were joined by order id; all {len(graded.clean)} should be"
    )
    feature = graded.skew["feature"]
    failing = details.get("failing", [])
    assert feature in failing, f"the skewed service computes one feature differently; the report flags {failing}"
    false_alarms = [name for name in failing if name != feature]
    assert not false_alarms, f"false alarm: {false_alarms} agree between training and serving, yet were flagged"
    expected = expected_mismatches(graded, tolerances)
    found = details["features"][feature]
    assert found.get("mismatch") == expected, (
        f"{feature}: the report counts {found.get('mismatch')} mismatching orders, the recomputation {expected}"
    )
    assert found.get("examples"), f"{feature}: keep example rows of the mismatches"
    assert not parity.get("passed"), "the feature parity check passed although a feature differs"


@pytest.mark.points(2)
def test_tolerance_rule_on_this_data(folder: Path, graded: Graded) -> None:
    """Exercise 1: the tolerance rule matches floats within atol + rtol·|value| and missing with missing."""
    drill = read_json(folder, "tolerance_drill.json")
    distance = graded.train["distance_km"].to_numpy(dtype=float)
    expected = int((np.abs(distance - (distance + DRILL_OFFSET_KM)) <= 1e-6 + 1e-6 * np.abs(distance)).sum())
    assert drill.get("rows") == len(distance), (
        f"the drill used {drill.get('rows')} orders, the train split has {len(distance)}"
    )
    assert drill.get("rounding_matches") == expected, (
        f"{drill.get('rounding_matches')} distances off by {DRILL_OFFSET_KM} km matched; {expected} are within "
        "atol + rtol·|training|"
    )
    assert drill.get("missing_matches") == len(distance), (
        f"{drill.get('missing_matches')} of {len(distance)} matched where both sides miss the value: missing = missing"
    )


@pytest.mark.points(3)
def test_diagnosis_names_the_bug(folder: Path, graded: Graded) -> None:
    """Exercise 2: the diagnosis names the skewed feature, the kind of bug and its size."""
    diagnosis = read_json(folder, "diagnosis.json")
    skew = graded.skew
    assert diagnosis.get("feature") == skew["feature"], (
        f"the diagnosis names {diagnosis.get('feature')!r}, not the skewed feature"
    )
    kind = "category" if skew["bug"] in ("category_default", "stale_encoding") else skew["bug"]
    assert diagnosis.get("bug") == kind, f"a {diagnosis.get('bug')!r} bug does not explain the examples in the report"
    if kind == "unit":
        factor = diagnosis.get("factor")
        assert isinstance(factor, (int, float)) and abs(factor / skew["factor"] - 1) < 1e-4, (
            f"factor {factor} is not serving ÷ training"
        )
    elif kind == "timezone":
        offset = diagnosis.get("offset_hours")
        assert isinstance(offset, int) and (offset - skew["offset_hours"]) % 24 == 0, (
            f"offset_hours {offset} is not serving hour − training hour"
        )
    else:
        assert diagnosis.get("remap") == CATEGORY_REMAPS[skew["feature"]], (
            f"remap {diagnosis.get('remap')} is not what the service does to the category"
        )


@pytest.mark.points(2)
def test_after_report_passes_every_check(folder: Path, graded: Graded) -> None:
    """After the fix every check passes: feature, prediction, schema, environment and split parity."""
    data = report(folder, graded, "after")
    failed = [name for name in CHECKS if not check_of(data, name, "after").get("passed")]
    assert not failed, f"after the fix these checks still fail: {failed}"
    predictions = check_of(data, "prediction_parity", "after")["details"]
    assert predictions.get("rows") == len(graded.clean) and predictions.get("flipped") == 0, (
        f"prediction parity compared {predictions.get('rows')} orders with {predictions.get('flipped')} flipped decisions"
    )
    before = report(folder, graded, "before")
    assert not check_of(before, "prediction_parity", "before").get("passed") or graded.skew["bug"] != "unit", (
        "a unit skew changes the predictions, yet the 'before' report's prediction parity passed"
    )


@pytest.mark.points(2)
def test_schema_parity_against_the_live_service(folder: Path, graded: Graded) -> None:
    """Exercise 3: the schema comparison checked dictionary, registry signature and live OpenAPI, and finds a stale one."""
    dictionary = load_feature_dictionary()
    expected = [[spec.name, SCHEMA_TYPES[spec.dtype]] for spec in dictionary.inputs]
    for stem in ("before", "after"):
        schema = check_of(report(folder, graded, stem), "schema_parity", stem)
        sources = schema.get("details", {}).get("sources", {})
        assert sorted(sources) == ["dictionary", "openapi", "signature"], (
            f"{stem}: the schema check compared {sorted(sources)}"
        )
        wrong = [name for name, columns in sources.items() if columns != expected]
        assert not wrong, f"{stem}: the {wrong} fields are not what the dictionary declares (names, types, order)"
        assert schema.get("passed"), f"{stem}: the schema check failed on agreeing schemas: {schema.get('message')}"
    drill = read_json(folder, "schema_drill.json")
    problems = " ".join(map(str, drill.get("details", {}).get("problems", [])))
    missed = [name for name in ("prep_time_min", "prep_time_s", "basket_size") if name not in problems]
    assert not drill.get("passed") and not missed, f"the stale OpenAPI schema's problems do not name {missed}"


@pytest.mark.points(1)
def test_environment_parity_against_the_live_service(folder: Path, graded: Graded) -> None:
    """The services' package versions were compared with the training run's environment tags."""
    for stem in ("before", "after"):
        data = report(folder, graded, stem)
        compared = check_of(data, "environment_parity", stem).get("details", {}).get("compared", {})
        missing = [name for name in PACKAGES if not (compared.get(name) or {}).get("serving")]
        assert not missing, f"{stem}: no served version of {missing}: read them from the service's /metadata"
        differing = [name for name, entry in compared.items() if entry.get("training") != entry.get("serving")]
        assert not differing, f"{stem}: training and serving differ in {differing}"
        service = data.get("service", {})
        assert isinstance(service.get("pid"), int) and isinstance(service.get("port"), int), (
            f"{stem}: the report does not record which service process was checked"
        )


@pytest.mark.points(1)
def test_split_checks_pass_on_the_real_split(folder: Path, graded: Graded) -> None:
    """Exercise 4: module 2's split passes the time-order, shared-id and label-leakage checks."""
    for stem in ("before", "after"):
        data = report(folder, graded, stem)
        failed = [name for name in CHECKS[4:] if not check_of(data, name, stem).get("passed")]
        assert not failed, f"{stem}: {failed} fail on module 2's split, which is clean"


@pytest.mark.points(2)
def test_leakage_checks_fail_on_a_leaky_split(folder: Path, graded: Graded, variant: int) -> None:
    """Exercise 4: on the leaky split (random, with copied orders) the checks find every leaking order."""
    everything = graded.clean.sort_values("order_id").reset_index(drop=True)
    in_valid = np.random.default_rng(variant).random(len(everything)) < LEAKY_SHARE
    valid = everything[in_valid]
    train = pd.concat([everything[~in_valid], valid.head(LEAKY_COPIED)])
    shared = sorted(valid.head(LEAKY_COPIED)["order_id"])
    older = int((valid["created_at"] <= train["created_at"].max()).sum())
    drill = {check.get("name"): check for check in read_json(folder, "leakage_drill.json").get("checks", [])}
    for name in ("split_time_order", "split_shared_ids"):
        if name not in drill:
            fail(f"leakage_drill.json has no {name!r} check")
    time_order, ids = drill["split_time_order"], drill["split_shared_ids"]
    assert not time_order.get("passed") and time_order["details"].get("rows") == older, (
        f"time order: {time_order['details'].get('rows')} validation orders flagged, {older} are not newer than training"
    )
    found = sorted(row.get("order_id") for row in ids["details"].get("examples", []))
    assert not ids.get("passed") and ids["details"].get("rows") == len(shared) and found == shared, (
        f"shared ids: flagged {rows_text(found)}, expected {rows_text(shared)}"
    )
