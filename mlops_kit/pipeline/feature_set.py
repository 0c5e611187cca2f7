"""Module 2's published feature set, and ``ensure_feature_set`` for the modules after it.

``ARTIFACTS_DIR/02_feature_pipeline/`` holds the pipeline's folder (``cache/``, ``runs/``,
``run_record.json``, ``notifications.log``) and the published feature set::

    train.parquet, valid.parquet                    clean typed order rows of each split
    train_features.parquet, valid_features.parquet  their feature matrices (dictionary order)
    feature_dictionary.json                         the dictionary they were computed with
    manifest.json                                   sha256 of every file, variant, data version,
                                                    feature-set version, source sha256, split

Later modules call ``ensure_feature_set(artifacts_dir, data_dir, variant)``: it loads the
published set when it is intact, for this data and current; otherwise it runs the reference
pipeline into the same folder first, so a learner stuck in module 2 can still do module 3.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_kit.artifacts import module_dir, read_module_manifest, write_module_manifest
from mlops_kit.course import module_id
from mlops_kit.data import data_variant
from mlops_kit.domain import RAW_COLUMN_NAMES
from mlops_kit.features import (
    PANDAS_DTYPES,
    FeatureDictionary,
    FeatureDictionaryError,
    feature_set_version,
    load_feature_dictionary,
    parse_feature_dictionary,
)
from mlops_kit.io import atomic_write_bytes
from mlops_kit.manifest import ManifestError
from mlops_kit.pipeline.engine import RunResult
from mlops_kit.pipeline.errors import FeatureSetError, SplitLeakageError
from mlops_kit.pipeline.orders import orders_pipeline, source_sha256
from mlops_kit.pipeline.split import DEFAULT_VALID_MONTHS, check_split

MODULE_ID = module_id(2)
MODULE1_ID = module_id(1)
TRAIN_FILE = "train.parquet"
VALID_FILE = "valid.parquet"
TRAIN_FEATURES_FILE = "train_features.parquet"
VALID_FEATURES_FILE = "valid_features.parquet"
DICTIONARY_FILE = "feature_dictionary.json"
FEATURE_SET_FILES = (TRAIN_FILE, VALID_FILE, TRAIN_FEATURES_FILE, VALID_FEATURES_FILE, DICTIONARY_FILE)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureSet:
    """The train and valid splits (clean order rows and features) with their versions."""

    path: Path
    train: pd.DataFrame
    valid: pd.DataFrame
    train_features: pd.DataFrame
    valid_features: pd.DataFrame
    dictionary: FeatureDictionary
    feature_set_version: str
    data_version: str
    variant: int
    manifest: dict[str, Any] = field(repr=False)
    origin: str = "loaded"
    """``loaded`` (module 2's artifacts were used) or ``built`` (the reference pipeline made them)."""

    @property
    def label(self) -> str:
        """Name of the label column in ``train`` and ``valid``."""
        return self.dictionary.label.name

    @property
    def feature_names(self) -> list[str]:
        return self.dictionary.feature_names

    def __repr__(self) -> str:
        return (
            f"FeatureSet(variant={self.variant}, train={len(self.train)} rows, valid={len(self.valid)} rows, "
            f"{len(self.feature_names)} features, feature_set_version={self.feature_set_version!r}, "
            f"data_version={self.data_version!r}, origin={self.origin!r})"
        )


def feature_matrix(table: pd.DataFrame, dictionary: FeatureDictionary) -> pd.DataFrame:
    """The dictionary's feature columns of a feature table, in order and with the dictionary's dtypes."""
    missing = [name for name in dictionary.feature_names if name not in table.columns]
    if missing:
        raise FeatureSetError(f"the feature table lacks the feature columns {missing}")
    return pd.DataFrame(
        {feature.name: table[feature.name].astype(PANDAS_DTYPES[feature.dtype]) for feature in dictionary.features},
        index=table.index,
    )


def publish_feature_set(result: RunResult, folder: str | Path) -> dict[str, Any]:
    """Write a successful run's split as the feature set (each file atomically); return its facts.

    Raises StageFailed for a failed run and SplitLeakageError for a leaking split: the
    previously published files then stay as they were.
    """
    result.raise_for_failure()
    split = result.output("split")
    if not isinstance(split, dict) or set(split) != {"train", "valid"}:
        raise FeatureSetError(f"the split stage must return {{'train': ..., 'valid': ...}}, got {type(split).__name__}")
    dictionary = result.pipeline.stage("features").params["dictionary"]
    if not isinstance(dictionary, FeatureDictionary):
        dictionary = parse_feature_dictionary(dictionary, source="features stage")
    train, valid = split["train"], split["valid"]
    for name, frame in (("train", train), ("valid", valid)):
        missing = [column for column in RAW_COLUMN_NAMES if column not in frame.columns]
        if missing:
            raise FeatureSetError(f"the {name} split lacks the order columns {missing}")
    check_split(train, valid)
    frames = {
        TRAIN_FILE: train.loc[:, list(RAW_COLUMN_NAMES)],
        VALID_FILE: valid.loc[:, list(RAW_COLUMN_NAMES)],
        TRAIN_FEATURES_FILE: feature_matrix(train, dictionary),
        VALID_FEATURES_FILE: feature_matrix(valid, dictionary),
    }
    target = Path(folder)
    for name, frame in frames.items():
        atomic_write_bytes(target / name, frame.to_parquet())
    dictionary.save(target / DICTIONARY_FILE)
    facts = result.facts
    return {
        "run_id": result.run_id,
        "data_version": facts["data_version"],
        "feature_set_version": facts["feature_set_version"],
        "source_sha256": facts["source_sha256"],
        "valid_months": result.pipeline.stage("split").params.get("valid_months"),
        "rows": {"train": len(train), "valid": len(valid)},
    }


def module1_data_version(artifacts_dir: str | Path) -> str | None:
    """Module 1's data version if its artifacts are there and intact, else None."""
    try:
        return read_module_manifest(artifacts_dir, MODULE1_ID).get("data_version")
    except ManifestError:
        return None


def write_feature_set_manifest(
    artifacts_dir: str | Path, variant: int, published: dict[str, Any], **facts: Any
) -> Path:
    """The module's manifest: every file's sha256 plus the published set's versions and split."""
    upstream = module1_data_version(artifacts_dir)
    return write_module_manifest(
        artifacts_dir,
        MODULE_ID,
        variant,
        published["data_version"],
        feature_set_version=published["feature_set_version"],
        source_sha256=published["source_sha256"],
        valid_months=published["valid_months"],
        rows=published["rows"],
        published_run=published["run_id"],
        module1_data_version_agrees=None if upstream is None else upstream == published["data_version"],
        **facts,
    )


def load_feature_set(artifacts_dir: str | Path, data_dir: str | Path, variant: int) -> FeatureSet:
    """The published feature set; FeatureSetError saying why it cannot be used (missing, stale...)."""
    try:
        manifest = read_module_manifest(artifacts_dir, MODULE_ID)
    except ManifestError as error:
        raise FeatureSetError(f"module 2's artifacts are missing or changed: {error}") from error
    folder = Path(artifacts_dir) / MODULE_ID
    missing = [name for name in FEATURE_SET_FILES if name not in manifest["files"]]
    if missing:
        raise FeatureSetError(f"{folder} has no published feature set (missing {missing})")
    if manifest.get("variant") != variant:
        raise FeatureSetError(f"{folder} holds a feature set for data variant {manifest.get('variant')}, not {variant}")
    if manifest.get("source_sha256") != source_sha256(data_dir):
        raise FeatureSetError(f"{folder} was built from another reference.csv than the one in {data_dir}")
    try:
        dictionary = load_feature_dictionary(folder / DICTIONARY_FILE)
    except FeatureDictionaryError as error:
        raise FeatureSetError(str(error)) from error
    current = feature_set_version(load_feature_dictionary())
    if manifest.get("feature_set_version") != current or feature_set_version(dictionary) != current:
        raise FeatureSetError(
            f"{folder} holds feature set {manifest.get('feature_set_version')}, but the shipped dictionary and "
            f"feature code give {current}: it was built with other feature definitions or code"
        )
    frames = {name: pd.read_parquet(folder / name) for name in FEATURE_SET_FILES if name.endswith(".parquet")}
    train, valid = frames[TRAIN_FILE], frames[VALID_FILE]
    for name in (TRAIN_FILE, VALID_FILE):
        if tuple(frames[name].columns) != RAW_COLUMN_NAMES or frames[name].empty:
            raise FeatureSetError(f"{folder / name} is empty or does not hold the clean order columns")
    for rows, features in ((TRAIN_FILE, TRAIN_FEATURES_FILE), (VALID_FILE, VALID_FEATURES_FILE)):
        matrix = frames[features]
        if list(matrix.columns) != dictionary.feature_names or not matrix.index.equals(frames[rows].index):
            raise FeatureSetError(f"{folder / features} does not match {rows} and the feature dictionary")
    try:
        check_split(train, valid)
    except SplitLeakageError as error:
        raise FeatureSetError(f"{folder}: the published split leaks: {error}") from error
    return FeatureSet(
        path=folder,
        train=train,
        valid=valid,
        train_features=frames[TRAIN_FEATURES_FILE],
        valid_features=frames[VALID_FEATURES_FILE],
        dictionary=dictionary,
        feature_set_version=str(manifest["feature_set_version"]),
        data_version=str(manifest["data_version"]),
        variant=int(variant),
        manifest=manifest,
    )


def build_feature_set(
    artifacts_dir: str | Path, data_dir: str | Path, variant: int, valid_months: int = DEFAULT_VALID_MONTHS
) -> FeatureSet:
    """Run the reference pipeline into ``ARTIFACTS_DIR/02_feature_pipeline``, publish it, write the manifest."""
    _check_variant(data_dir, variant)
    folder = module_dir(artifacts_dir, MODULE_ID)
    result = orders_pipeline(data_dir, valid_months=valid_months).run(folder)
    published = publish_feature_set(result, folder)
    write_feature_set_manifest(artifacts_dir, variant, published, built_by="mlops_kit.pipeline.build_feature_set")
    return dataclasses.replace(load_feature_set(artifacts_dir, data_dir, variant), origin="built")


def ensure_feature_set(artifacts_dir: str | Path, data_dir: str | Path, variant: int) -> FeatureSet:
    """Module 2's feature set for this data: loaded if intact and current, else built by the reference pipeline."""
    _check_variant(data_dir, variant)
    try:
        return load_feature_set(artifacts_dir, data_dir, variant)
    except FeatureSetError as why:
        log.info("building the feature set with the reference pipeline: %s", why)
    return build_feature_set(artifacts_dir, data_dir, variant)


def _check_variant(data_dir: str | Path, variant: int) -> None:
    found = data_variant(data_dir)
    if found != variant:
        raise FeatureSetError(f"{data_dir} holds data variant {found}, but variant {variant} was asked for")
