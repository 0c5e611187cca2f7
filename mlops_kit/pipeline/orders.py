"""The course's order pipeline, declared: ingest → validate → features → split.

Each ``*_stage`` function returns a ``Stage``; ``orders_pipeline`` puts the four together
(the reference solution that later modules fall back on). The stage functions are plain
functions of their inputs and parameters:

- ``ingest_orders``: one data file, checked against the data manifest (raw text columns);
- ``validate_orders``: module 1's ``validate`` with the reference rules → clean typed rows;
- ``build_features``: the clean rows plus every dictionary feature (the *feature table*);
- ``time_split``: train on older months, validate on the newest ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

import mlops_kit.data as _data_module
import mlops_kit.pipeline.split as _split_module
import mlops_kit.validation as _validation_package
from mlops_kit.data import DataLoadError, data_file, file_period, load_manifest, load_orders
from mlops_kit.features.dictionary import FeatureDictionary, load_feature_dictionary, parse_feature_dictionary
from mlops_kit.features.transform import compute_features
from mlops_kit.features.version import TRANSFORMATION_CODE, feature_set_version
from mlops_kit.pipeline.engine import Pipeline
from mlops_kit.pipeline.split import DEFAULT_VALID_MONTHS, time_split
from mlops_kit.pipeline.stage import Output, Stage
from mlops_kit.validation import reference_rules, validate

PIPELINE_NAME = "orders_features"
STAGE_NAMES = ("ingest", "validate", "features", "split")


def source_sha256(data_dir: str | Path, name: str = "reference") -> str:
    """sha256 of a data file, as the data manifest lists it (DataLoadError if it is not listed)."""
    file_period(data_dir, name)  # DataLoadError naming the file when the manifest does not list it
    return str(load_manifest(data_dir)["files"][data_file(name)]["sha256"])


def ingest_orders(data_dir: str, file: str, sha256: str) -> Output:
    """Read ``file`` (every column as text) after checking it is the file the stage was declared for."""
    listed = load_manifest(data_dir)["files"].get(file, {}).get("sha256")
    if listed != sha256:
        raise DataLoadError(
            f"{Path(data_dir) / file}: the data manifest lists sha256 {str(listed)[:12]}…, the stage was declared "
            f"for {sha256[:12]}…; declare the pipeline again for the new data"
        )
    return Output(load_orders(data_dir, file), facts={"source": file, "source_sha256": sha256})


def ingest_stage(data_dir: str | Path, name: str = "reference") -> Stage:
    """Read one data file. Its sha256 is a parameter (new data, new key); its folder is context."""
    return Stage(
        "ingest",
        ingest_orders,
        params={"file": data_file(name), "sha256": source_sha256(data_dir, name)},
        context={"data_dir": str(data_dir)},
        code=[_data_module],
        description="read the raw orders, every column as text",
    )


def validate_orders(ingest: pd.DataFrame, cutoff: str, source: str) -> Output:
    """Module 1's validation with the reference rules: the clean typed rows (index = source row)."""
    result = validate(ingest, reference_rules(pd.Timestamp(cutoff)), source=source)
    return Output(
        result.clean,
        facts={"data_version": result.data_version, "rows_quarantined": len(result.quarantine)},
    )


def validate_stage(data_dir: str | Path, name: str = "reference") -> Stage:
    """Validate with the reference rules; the cut-off for future orders is the file's period end."""
    _, period_end = file_period(data_dir, name)
    return Stage(
        "validate",
        validate_orders,
        inputs=["ingest"],
        params={"cutoff": period_end.isoformat(), "source": data_file(name)},
        code=[_validation_package],
        description="quarantine bad rows (module 1's reference rules), keep clean typed rows",
    )


def build_features(
    validate: pd.DataFrame,
    dictionary: FeatureDictionary | Mapping[str, Any],
    computations: Mapping[str, Callable[[pd.DataFrame], Any]] | None = None,
) -> Output:
    """The feature table: the clean rows plus each dictionary feature not already a raw column."""
    if not isinstance(dictionary, FeatureDictionary):
        dictionary = parse_feature_dictionary(dictionary, source="features stage")
    features = compute_features(validate, dictionary, computations)
    added = [name for name in features.columns if name not in validate.columns]
    table = pd.concat([validate, features[added]], axis=1)
    version = feature_set_version(dictionary, computations)
    return Output(table, facts={"feature_set_version": version, "feature_count": len(dictionary.features)})


def features_stage(
    dictionary: FeatureDictionary | None = None,
    computations: Mapping[str, Callable[[pd.DataFrame], Any]] | None = None,
) -> Stage:
    """Compute the features of ``dictionary`` (default: the shipped one); extra computations by name."""
    return Stage(
        "features",
        build_features,
        inputs=["validate"],
        params={"dictionary": dictionary or load_feature_dictionary(), "computations": dict(computations or {})},
        code=list(TRANSFORMATION_CODE),
        description="clean rows + engineered features (the feature table)",
    )


def split_stage(valid_months: int = DEFAULT_VALID_MONTHS, func: Callable[..., Any] | None = None) -> Stage:
    """Split the feature table by time (``func(features, valid_months)``; default ``time_split``)."""
    return Stage(
        "split",
        func or time_split,
        inputs=["features"],
        params={"valid_months": valid_months},
        code=[_split_module] if func is None else [],
        description="train on older months, validate on the newest",
    )


def orders_pipeline(
    data_dir: str | Path,
    dictionary: FeatureDictionary | None = None,
    computations: Mapping[str, Callable[[pd.DataFrame], Any]] | None = None,
    valid_months: int = DEFAULT_VALID_MONTHS,
    split: Callable[..., Any] | None = None,
    name: str = "reference",
) -> Pipeline:
    """The reference pipeline for one data file: ingest → validate → features → split."""
    return Pipeline(
        [
            ingest_stage(data_dir, name),
            validate_stage(data_dir, name),
            features_stage(dictionary, computations),
            split_stage(valid_months, split),
        ],
        name=PIPELINE_NAME,
    )
