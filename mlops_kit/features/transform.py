"""The feature transformation, built from the dictionary: clean order rows in, features out.

``build_feature_transformer(dictionary)`` is a scikit-learn ColumnTransformer with pandas
output around one ``OrderFeatures`` step that computes every dictionary entry, so ``get_feature_names_out()`` is the
dictionary's feature names in order. ``build_encoder(dictionary)`` turns those features into
model inputs (scaled numbers, one-hot categories). A model pipeline is then::

    Pipeline([("features", build_feature_transformer(d)), ("encode", build_encoder(d)), ("model", estimator)])

and predicts from clean order rows, in training and in the service alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from mlops_kit.features.computations import COMPUTATIONS, Computation
from mlops_kit.features.dictionary import PANDAS_DTYPES, FeatureDictionary, FeatureDictionaryError


class OrderFeatures(TransformerMixin, BaseEstimator):
    """Every dictionary feature, computed from clean order columns in one pass.

    ``features`` is a tuple of ``(name, compute, dtype, inputs)``: ``compute`` is the name of
    a built-in computation (``mlops_kit.features.computations``) or a function
    ``f(inputs: DataFrame) -> Series``; ``dtype`` a dictionary dtype. Stateless: ``fit`` only
    records the input columns. Built-in names keep a fitted model loadable with skops
    (see TRUSTED_TYPES); one step instead of one per feature keeps a single-row call fast.
    """

    def __init__(self, features: tuple[tuple[str, str | Computation, str, tuple[str, ...]], ...] = ()) -> None:
        self.features = features

    def fit(self, X: Any, y: Any = None) -> OrderFeatures:
        """Check the computations and record the input columns (nothing is learned)."""
        frame = _as_frame(X)
        self.n_features_in_ = frame.shape[1]
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        for name, compute, _, inputs in self.features:
            _computation(compute, name)
            _require_columns(frame, inputs, name)
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        """The features as a DataFrame with the caller's index, in ``features`` order."""
        check_is_fitted(self, "n_features_in_")
        frame = _as_frame(X, getattr(self, "feature_names_in_", None))
        columns: dict[str, pd.Series] = {}
        selections: dict[tuple[str, ...], pd.DataFrame] = {}
        for name, compute, dtype, inputs in self.features:
            inputs = tuple(inputs)
            if inputs not in selections:
                _require_columns(frame, inputs, name)
                selections[inputs] = _select(frame, inputs)
            values = _computation(compute, name)(selections[inputs])
            if not isinstance(values, pd.Series) or not values.index.equals(frame.index):
                values = pd.Series(np.asarray(values), index=frame.index)
            columns[name] = _cast(values, dtype, name)
        return pd.DataFrame(columns, index=frame.index)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The feature names, in ``features`` order."""
        return np.asarray([spec[0] for spec in self.features], dtype=object)


def _select(frame: pd.DataFrame, inputs: tuple[str, ...]) -> pd.DataFrame:
    """The input columns as a DataFrame (built column by column: much faster than ``.loc`` for one row)."""
    if len(inputs) == 1:
        return frame[inputs[0]].to_frame()
    return pd.DataFrame({name: frame[name] for name in inputs}, index=frame.index)


def _require_columns(frame: pd.DataFrame, inputs: tuple[str, ...], feature: str) -> None:
    missing = [name for name in inputs if name not in frame.columns]
    if missing:
        raise ValueError(f"feature {feature!r} needs the input columns {missing}, which the orders lack")


def _as_frame(X: Any, columns: Any = None) -> pd.DataFrame:
    """``X`` as a DataFrame (a ColumnTransformer passes one; arrays get the fitted column names)."""
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X, dtype=object)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    return pd.DataFrame(
        array, columns=list(columns) if columns is not None and len(columns) == array.shape[1] else None
    )


def _computation(compute: str | Computation, feature: str) -> Computation:
    """The function behind ``compute``; ValueError naming the feature if it is unknown."""
    if callable(compute):
        return compute
    try:
        return COMPUTATIONS[compute]
    except (KeyError, TypeError):
        raise ValueError(
            f"feature {feature!r}: unknown computation {compute!r}; built-in: {', '.join(COMPUTATIONS)}"
        ) from None


def _cast(values: pd.Series, dtype: str, feature: str) -> pd.Series:
    """Values as the dictionary dtype; ValueError naming the feature when they cannot be."""
    if dtype in ("int", "bool") and values.isna().any():
        rows = list(values.index[values.isna()][:5])
        raise ValueError(f"feature {feature!r} ({dtype}) has missing values at rows {rows}; validate the orders first")
    if str(values.dtype) == PANDAS_DTYPES[dtype]:
        return values
    try:
        if dtype == "bool":
            return values.astype("bool")
        if dtype == "category":
            return values.astype("str")
        return values.astype(PANDAS_DTYPES[dtype])
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"feature {feature!r}: cannot make its values {dtype}: {error}") from error


def resolve_computations(
    dictionary: FeatureDictionary, computations: Mapping[str, Computation] | None = None
) -> dict[str, str | Computation]:
    """For each feature, the ``compute`` OrderFeatures uses: a built-in name or a function.

    ``computations`` adds (or overrides) named computations. FeatureDictionaryError names a
    feature whose computation is neither built-in nor given.
    """
    extra = dict(computations or {})
    for name, function in extra.items():
        if not callable(function):
            raise FeatureDictionaryError(f"computation {name!r} must be a function, got {type(function).__name__}")
    resolved: dict[str, str | Computation] = {}
    for feature in dictionary.features:
        if feature.compute in extra:
            resolved[feature.name] = extra[feature.compute]
        elif feature.compute in COMPUTATIONS:
            resolved[feature.name] = feature.compute
        else:
            raise FeatureDictionaryError(
                f"feature {feature.name!r}: computation {feature.compute!r} is not built in "
                f"({', '.join(COMPUTATIONS)}); pass it as computations={{{feature.compute!r}: function}}"
            )
    return resolved


def build_feature_transformer(
    dictionary: FeatureDictionary, computations: Mapping[str, Computation] | None = None
) -> ColumnTransformer:
    """ColumnTransformer (pandas output) that selects the dictionary's inputs and computes every feature.

    ``get_feature_names_out()`` is ``dictionary.feature_names``; other columns (key, label)
    are dropped, so the transformer takes whole clean order rows.
    """
    resolved = resolve_computations(dictionary, computations)
    specs = tuple(
        (feature.name, resolved[feature.name], feature.dtype, tuple(feature.inputs)) for feature in dictionary.features
    )
    used = [name for name in dictionary.input_names if any(name in feature.inputs for feature in dictionary.features)]
    transformer = ColumnTransformer(
        [("order_features", OrderFeatures(specs), used)],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return transformer.set_output(transform="pandas")


def build_encoder(dictionary: FeatureDictionary) -> ColumnTransformer:
    """Features → model inputs: numbers scaled, flags as 0/1, categories one-hot (unknown ones ignored).

    Output is a NumPy array (faster for one row than pandas output); ``get_feature_names_out()``
    names its columns.
    """
    parts: list[tuple[str, Any, list[str]]] = []
    numeric = dictionary.names_of("float", "int")
    flags = dictionary.names_of("bool")
    categorical = dictionary.names_of("category")
    if numeric:
        parts.append(("scale", StandardScaler(), numeric))
    if flags:
        parts.append(("flags", "passthrough", flags))
    if categorical:
        parts.append(("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical))
    if not parts:
        raise FeatureDictionaryError("the dictionary has no features to encode")
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def compute_features(
    orders: pd.DataFrame, dictionary: FeatureDictionary, computations: Mapping[str, Computation] | None = None
) -> pd.DataFrame:
    """The feature matrix of clean order rows (index kept), columns in dictionary order."""
    missing = sorted({name for feature in dictionary.features for name in feature.inputs} - set(orders.columns))
    if missing:
        raise ValueError(f"the orders lack the input columns {missing} that the feature dictionary needs")
    return build_feature_transformer(dictionary, computations).fit_transform(orders)
