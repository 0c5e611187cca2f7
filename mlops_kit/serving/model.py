"""The served model: loaded once, pinned to a version, and fed rows in the dictionary's fixed order.

``load_served_model(config)`` resolves the alias to a version once, loads that version through
``mlops_kit.registry.load_model`` (trusted types only) and reads what ``/metadata`` reports; when the
parent already resolved it (``serving.resolve``), it loads that version's artifact folder through the
same trust check without importing mlflow.
``ServedModel.predict(columns)`` takes validated inputs as columns and returns probabilities;
the hot path builds one DataFrame and calls ``predict_proba`` with scikit-learn's input checks
switched off (the request models already checked every value).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any

import numpy as np
import pandas as pd

from mlops_kit.features import PANDAS_DTYPES, FeatureDictionary, load_feature_dictionary
from mlops_kit.serving.config import ServiceConfig, ServiceError
from mlops_kit.serving.resolve import ResolvedModel, handed_over

REPORTED_PACKAGES = ("scikit-learn", "pandas", "numpy", "fastapi", "uvicorn", "pydantic", "prometheus-client", "mlflow")


def package_versions(names: Sequence[str] = REPORTED_PACKAGES) -> dict[str, str]:
    """Installed version of each package (``"not installed"`` when missing), plus Python's."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def known_categories(model: Any, dictionary: FeatureDictionary) -> dict[str, frozenset[str]]:
    """Input → the categories the fitted model's encoder saw (the dictionary's list otherwise)."""
    seen: dict[str, frozenset[str]] = {}
    for _, step in getattr(model, "steps", []):
        if callable(getattr(step, "known_categories", None)):
            for column, values in step.known_categories().items():
                seen[str(column)] = frozenset(str(value) for value in values)
    known: dict[str, frozenset[str]] = {}
    for spec in dictionary.inputs:
        if spec.dtype != "category":
            continue
        if spec.name in seen:
            known[spec.name] = seen[spec.name]
        elif spec.categories:
            known[spec.name] = frozenset(spec.categories)
    return known


@dataclass
class ServedModel:
    """A loaded model and what is known about it; ``predict`` is the hot path."""

    model: Any
    dictionary: FeatureDictionary
    model_name: str
    version: str
    alias: str | None
    run_id: str | None
    tags: Mapping[str, str]
    known: dict[str, frozenset[str]]
    loaded_at: str
    load_seconds: float
    input_names: list[str] = field(init=False)
    dtypes: dict[str, str] = field(init=False)
    _builders: list[tuple[str, Any]] = field(init=False, repr=False)
    _columns: pd.Index = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.input_names = list(self.dictionary.input_names)
        self.dtypes = {spec.name: PANDAS_DTYPES[spec.dtype] for spec in self.dictionary.inputs}
        self._builders = [(name, _column_builder(self.dtypes[name])) for name in self.input_names]
        self._columns = pd.Index(self.input_names)

    def frame(self, columns: Mapping[str, list[Any]]) -> pd.DataFrame:
        """Input columns (in dictionary order) as the typed DataFrame the pipeline was trained on.

        Built with ``DataFrame._from_arrays`` without pandas' integrity pass: every array is
        already final (one dtype, same length), and the public constructor's checks were
        0.13 ms of a one-row request here. A test holds the result equal to pandas' own typed
        construction, so a pandas upgrade that changes this private constructor fails there.
        """
        arrays = [build(columns[name]) for name, build in self._builders]
        return pd.DataFrame._from_arrays(
            arrays, columns=self._columns, index=pd.RangeIndex(len(arrays[0])), verify_integrity=False
        )

    def predict(self, columns: Mapping[str, list[Any]]) -> np.ndarray:
        """Late probability of each row."""
        return self.model.predict_proba(self.frame(columns))[:, 1]

    def unknown(self, column: str, values: Sequence[Any]) -> list[int]:
        """Rows whose value of category ``column`` the model never saw."""
        known = self.known.get(column)
        if known is None:
            return []
        return [row for row, value in enumerate(values) if value not in known]

    def metadata(self, config: ServiceConfig) -> dict[str, Any]:
        """What ``/metadata`` answers (without the per-process fields)."""
        return {
            "model_name": self.model_name,
            "model_version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
            "data_version": self.tags.get("data_version"),
            "feature_set_version": self.tags.get("feature_set_version"),
            "inputs": self.input_names,
            "threshold": config.threshold,
            "unknown_category_policy": config.unknown_category,
            "known_categories": {name: sorted(values) for name, values in self.known.items()},
            "loaded_at": self.loaded_at,
            "load_seconds": round(self.load_seconds, 3),
            "packages": package_versions(),
        }


def _column_builder(dtype: str) -> Callable[[list[Any]], Any]:
    """A function turning one column's validated values into an array of ``dtype``.

    The dtype is resolved once, here: pandas looks a dtype name up through every registered
    extension type at each call, which cost a third of building a one-row frame. Times go
    through numpy (``datetime64[us]``, naive as validated), not a DatetimeIndex.
    """
    if dtype.startswith("datetime"):
        return lambda values: np.array(values, dtype=dtype)
    if dtype == "str":
        resolved = pd.api.types.pandas_dtype(dtype)
        return lambda values: pd.array(values, dtype=resolved)
    return lambda values: np.asarray(values, dtype=dtype)


def warm_up_columns(dictionary: FeatureDictionary, known: Mapping[str, frozenset[str]]) -> dict[str, list[Any]]:
    """One plausible row (mid-range numbers, a known category, a fixed time) to warm the model up."""
    import datetime as dt

    row: dict[str, list[Any]] = {}
    for spec in dictionary.inputs:
        if spec.dtype == "datetime":
            row[spec.name] = [dt.datetime(2025, 1, 6, 12, 0)]
        elif spec.dtype in ("category", "str"):
            options = sorted(known.get(spec.name, ())) or list(spec.categories) or ["unknown"]
            row[spec.name] = [options[0]]
        elif spec.dtype == "bool":
            row[spec.name] = [False]
        else:
            low = spec.min if spec.min is not None else 0.0
            high = spec.max if spec.max is not None else low + 2.0
            middle = (low + high) / 2
            row[spec.name] = [int(middle) if spec.dtype == "int" else float(middle)]
    return row


def load_served_model(config: ServiceConfig, dictionary: FeatureDictionary | None = None) -> ServedModel:
    """Resolve the alias once, load that version (trusted types only), warm it up.

    Raises ServiceError naming the model, alias or version when the registry cannot provide it.
    """
    from mlops_kit.registry import RegistryError

    started = time.perf_counter()
    dictionary = dictionary or load_feature_dictionary()
    try:
        resolved = handed_over(config)
        model, version, run_id, tags = _from_folder(resolved) if resolved else _from_registry(config)
    except RegistryError as error:
        raise ServiceError(f"cannot load the model to serve: {error}") from error
    served = ServedModel(
        model=model,
        dictionary=dictionary,
        model_name=config.model_name,
        version=version,
        alias=config.alias,
        run_id=run_id,
        tags=tags,
        known=known_categories(model, dictionary),
        loaded_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        load_seconds=0.0,
    )
    fast_sklearn()
    served.predict(warm_up_columns(dictionary, served.known))
    served.load_seconds = time.perf_counter() - started
    return served


def _from_registry(config: ServiceConfig) -> tuple[Any, str, str | None, dict[str, str]]:
    """Resolve the alias (or version) through MLflow and load that version: model, version, run id, tags."""
    from mlops_kit.registry import Tracking, get_version, load_model, version_by_alias

    tracking = Tracking.reader(config.tracking_uri)
    if config.version is not None:
        found = get_version(tracking, config.model_name, config.version)
    else:
        found = version_by_alias(tracking, config.model_name, str(config.alias))
    model = load_model(tracking, config.model_name, version=found.version)
    return model, str(found.version), found.run_id, dict(found.tags)


def _from_folder(resolved: ResolvedModel) -> tuple[Any, str, str | None, dict[str, str]]:
    """Load the version the parent resolved from its artifact folder (trusted types only, no mlflow import)."""
    from mlops_kit.registry.trust import allowed_types, load_skops_model

    what = f"models:/{resolved.model_name}/{resolved.version} (version {resolved.version})"
    model = load_skops_model(resolved.model_dir, allowed_types(), what=what)
    return model, resolved.version, resolved.run_id, dict(resolved.tags)


def fast_sklearn() -> None:
    """Skip scikit-learn's per-call input checks: the request models already validated every value."""
    import sklearn

    sklearn.set_config(assume_finite=True, skip_parameter_validation=True)


def process_facts() -> dict[str, Any]:
    """Per-process facts for ``/metadata``: pid and interpreter."""
    return {"pid": os.getpid(), "python_executable": sys.executable}
