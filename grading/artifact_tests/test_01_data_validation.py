"""Artifact checks for module 1 (data validation & cleaning).

Every expectation comes from the generator's ledger for the graded variant. Integrity
(manifest, every row accounted for, data version) is a precondition of every check, not a
source of points: points come only from what the learner's exercises decide.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from grading.artifact_tests.shared import fail, require_manifest, rows_text
from mlops_kit.course import module_id
from mlops_kit.data import load_orders
from mlops_kit.datagen import read_defect_ledger

MODULE = module_id(1)
SOURCE_FILE = "reference.csv"
REQUIRED_FILES = ("clean.csv", "quarantine.csv", "report.json", "report.html", "answers.json")


@dataclass(frozen=True)
class Module1Artifacts:
    """What the notebook left behind, already checked for integrity."""

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    report: dict[str, Any]
    answers: dict[str, Any]
    reasons: dict[int, set[str]]


@dataclass(frozen=True)
class Truth:
    """What the ledger says about the graded variant's reference file."""

    raw: pd.DataFrame
    defects: pd.DataFrame

    def rows(self, defect: str | None = None, action: str | None = None) -> set[int]:
        frame = self.defects
        if defect is not None:
            frame = frame[frame["defect"] == defect]
        if action is not None:
            frame = frame[frame["expected_action"] == action]
        return set(frame["row"].astype(int))


@pytest.fixture(scope="session")
def truth(data_dir: Path, variant_dir: Path) -> Truth:
    defects = read_defect_ledger(variant_dir)
    return Truth(load_orders(data_dir, "reference"), defects[defects["file"] == SOURCE_FILE])


@pytest.fixture(scope="session")
def artifacts(artifacts_dir: Path, variant: int, truth: Truth) -> Module1Artifacts:
    """Load the artifacts; fail every check with one clear message if they are incomplete."""
    manifest = require_manifest(artifacts_dir, MODULE, variant, REQUIRED_FILES)
    folder = artifacts_dir / MODULE
    clean = pd.read_csv(folder / "clean.csv", dtype=str, keep_default_na=False, na_values=[""])
    quarantine = pd.read_csv(folder / "quarantine.csv", dtype=str, keep_default_na=False, na_values=[""])
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    answers = json.loads((folder / "answers.json").read_text(encoding="utf-8"))
    clean_rows = [int(row) for row in clean["source_row"]]
    quarantined_rows = [int(row) for row in quarantine["source_row"]]
    expected = set(range(len(truth.raw)))
    both = set(clean_rows) & set(quarantined_rows)
    lost = expected - set(clean_rows) - set(quarantined_rows)
    if both or lost or len(clean_rows) + len(quarantined_rows) != len(truth.raw):
        fail(
            f"rows not accounted for: {len(truth.raw)} rows in, {len(clean_rows)} clean + "
            f"{len(quarantined_rows)} quarantined; {len(lost)} lost, {len(both)} in both"
        )
    version = hashlib.sha256((folder / "clean.csv").read_bytes()).hexdigest()[:16]
    if not (manifest.get("data_version") == report.get("data_version") == version):
        fail(
            f"data version mismatch: manifest {manifest.get('data_version')}, report "
            f"{report.get('data_version')}, clean.csv hashes to {version}"
        )
    reasons = {
        int(row): set(str(text).split(";")) if isinstance(text, str) else set()
        for row, text in zip(quarantine["source_row"], quarantine["reasons"], strict=False)
    }
    return Module1Artifacts(clean, quarantine, report, answers, reasons)


def _flagged(artifacts: Module1Artifacts, code: str) -> set[int]:
    return {row for row, reasons in artifacts.reasons.items() if code in reasons}


def _check_defect_quarantined(artifacts: Module1Artifacts, truth: Truth, defect: str, column: str) -> None:
    code = f"{defect}:{column}"
    expected = truth.rows(defect)
    flagged = _flagged(artifacts, code)
    missed = expected - flagged
    extra = flagged - expected
    assert not missed, (
        f"{len(missed)} of {len(expected)} {defect} rows were not quarantined as {code} (rows {rows_text(missed)})"
    )
    assert not extra, f"{len(extra)} rows were flagged {code} that are not {defect} defects (rows {rows_text(extra)})"


@pytest.mark.points(2)
def test_future_timestamps_quarantined(artifacts: Module1Artifacts, truth: Truth) -> None:
    """Exercise 1: every order from the future is quarantined, and no other."""
    _check_defect_quarantined(artifacts, truth, "future_timestamp", "created_at")


@pytest.mark.points(2)
def test_missing_value_policy(artifacts: Module1Artifacts, truth: Truth) -> None:
    """Exercise 2: imputable gaps are filled and kept; required gaps are quarantined."""
    clean_rows = {int(row) for row in artifacts.clean["source_row"]}
    imputable = truth.rows("missing_imputable")
    dropped = imputable - clean_rows
    assert not dropped, (
        f"{len(dropped)} of {len(imputable)} rows with a gap in an imputable column were quarantined "
        f"instead of imputed (rows {rows_text(dropped)})"
    )
    gaps = artifacts.clean.drop(columns=["source_row"]).isna().sum()
    gaps = gaps[gaps > 0]
    assert gaps.empty, f"clean.csv still has missing values: {gaps.to_dict()}"
    required = truth.rows("missing_required")
    missed = {
        row for row in required if not any(r.startswith("missing_required:") for r in artifacts.reasons.get(row, set()))
    }
    assert not missed, (
        f"{len(missed)} rows missing a required value were not quarantined as missing_required (rows {rows_text(missed)})"
    )


@pytest.mark.points(2)
def test_outliers_quarantined(artifacts: Module1Artifacts, truth: Truth) -> None:
    """Exercise 3: every mistyped preparation time is quarantined by the outlier rule, and no plausible one."""
    _check_defect_quarantined(artifacts, truth, "outlier", "prep_time_min")


@pytest.mark.points(2)
def test_quarantine_matches_ledger(artifacts: Module1Artifacts, truth: Truth) -> None:
    """All rules together: exactly the defective rows are quarantined, no good row is lost."""
    quarantined = set(artifacts.reasons)
    expected = truth.rows(action="quarantine")
    missed = expected - quarantined
    extra = quarantined - expected
    assert not missed, f"{len(missed)} defective rows reached clean.csv (rows {rows_text(missed)})"
    assert not extra, f"{len(extra)} good rows were quarantined (rows {rows_text(extra)})"


def _answer(artifacts: Module1Artifacts, key: str) -> Any:
    value = artifacts.answers.get(key)
    assert value is not None, f"answers.json has no value for {key!r}"
    return value


@pytest.mark.points(1)
def test_answer_most_quarantined_column(artifacts: Module1Artifacts, truth: Truth) -> None:
    """Exercise 4: the column with the most quarantined values."""
    counts = truth.defects[truth.defects["expected_action"] == "quarantine"]["column"].value_counts()
    top = set(counts[counts == counts.max()].index)
    answer = _answer(artifacts, "most_quarantined_column")
    assert answer in top, f"most_quarantined_column is {answer!r}, but the data says {sorted(top)}"


@pytest.mark.points(1)
def test_answer_duplicate_id_rows(artifacts: Module1Artifacts, truth: Truth) -> None:
    """Exercise 4: how many rows repeated an earlier order id."""
    answer = _answer(artifacts, "duplicate_id_rows")
    expected = len(truth.rows("duplicate_id"))
    assert int(answer) == expected, f"duplicate_id_rows is {answer}, the data has {expected}"


@pytest.mark.points(1)
def test_answer_prep_time_fill_value(artifacts: Module1Artifacts, truth: Truth) -> None:
    """Exercise 4: the value imputed for missing preparation times (median of the valid ones)."""
    answer = float(_answer(artifacts, "prep_time_fill_value"))
    valid = truth.raw.drop(index=sorted(truth.rows(action="quarantine")))["prep_time_min"].dropna().astype(float)
    expected = float(valid.median())
    assert abs(answer - expected) < 1e-6, (
        f"prep_time_fill_value is {answer}, the median of the valid values is {expected}"
    )
