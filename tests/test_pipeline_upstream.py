"""Module 2 builds on the learner's own module 1 output when it is usable, else on the reference rules."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops_kit.artifacts import module_dir, write_module_manifest
from mlops_kit.course import module_id
from mlops_kit.data import SHIPPED_DATA_DIR, file_period, load_orders
from mlops_kit.pipeline import Pipeline, ingest_stage, upstream_validate_stage
from mlops_kit.validation import Impute, ValidationRules, reference_rules, validate, write_validation_artifacts
from tests.test_pipeline_orders import write_data

MODULE1 = module_id(1)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    orders = load_orders(SHIPPED_DATA_DIR).iloc[::16].reset_index(drop=True)
    return write_data(tmp_path_factory.mktemp("orders") / "data", orders)


def _module1(artifacts: Path, data: Path, rules: ValidationRules, variant: int = 0) -> str:
    """Module 1's artifacts as its notebook writes them; returns the data version."""
    result = validate(load_orders(data), rules, source="reference.csv")
    write_validation_artifacts(result, module_dir(artifacts, MODULE1))
    write_module_manifest(artifacts, MODULE1, variant, result.data_version, source="reference.csv")
    return result.data_version


def _learner_rules(data: Path) -> ValidationRules:
    """Not the reference: weather gaps imputed, prep-time gaps rejected, no outlier rule."""
    cutoff = file_period(data, "reference")[1]
    return ValidationRules(
        missing_policy={"weather": Impute("most_frequent")}, column_checks=reference_rules(cutoff).column_checks
    )


def _with_a_gap(artifacts: Path, data: Path) -> None:
    """Module 1's output with one weather value blanked out (and a manifest that agrees)."""
    version = _module1(artifacts, data, _learner_rules(data))
    path = artifacts / MODULE1 / "clean.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "weather"] = ""
    frame.to_csv(path, index=False, lineterminator="\n")
    write_module_manifest(artifacts, MODULE1, 0, version, source="reference.csv")


def test_without_module1_artifacts_the_reference_rules_are_used_and_said(small_data: Path, tmp_path: Path) -> None:
    choice = upstream_validate_stage(tmp_path / "artifacts", small_data, 0)
    assert not choice.learners and "reference solution" in choice.message and "missing" in choice.message
    assert choice.stage.func.__name__ == "validate_orders"


def test_the_learners_clean_rows_flow_into_the_pipeline(small_data: Path, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    version = _module1(artifacts, small_data, _learner_rules(small_data))
    reference = validate(load_orders(small_data), reference_rules(file_period(small_data, "reference")[1]))
    choice = upstream_validate_stage(artifacts, small_data, 0)
    assert choice.learners and "your module 1 output" in choice.message
    result = Pipeline([ingest_stage(small_data), choice.stage], name="t").run(tmp_path / "work")
    clean = result.output("validate")
    assert result.ok and result.facts["data_version"] == version != reference.data_version
    assert len(clean) != len(reference.clean)  # the learner's decisions, not the reference's


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        (lambda artifacts, data: _module1(artifacts, data, _learner_rules(data), variant=3), "variant 3"),
        (_with_a_gap, "missing values in weather"),
    ],
)
def test_unusable_module1_output_falls_back_saying_why(small_data: Path, tmp_path: Path, spoil, why: str) -> None:
    artifacts = tmp_path / "artifacts"
    spoil(artifacts, small_data)
    choice = upstream_validate_stage(artifacts, small_data, 0)
    assert not choice.learners and "reference solution" in choice.message and why in choice.message


def test_a_changed_clean_file_is_not_used(small_data: Path, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    _module1(artifacts, small_data, _learner_rules(small_data))
    (artifacts / MODULE1 / "clean.csv").write_text("tampered")
    choice = upstream_validate_stage(artifacts, small_data, 0)
    assert not choice.learners and "missing or incomplete" in choice.message
