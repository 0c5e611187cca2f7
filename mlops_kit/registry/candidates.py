"""A candidate: one fitted model pipeline with its validation metrics, before it is logged.

The model is the whole scikit-learn pipeline (features, encoding, estimator), so it predicts
from clean order rows: what the service receives is what the model was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlops_kit.domain import LABEL_COLUMN, TIMESTAMP_COLUMN
from mlops_kit.registry.metrics import validation_metrics


@dataclass(frozen=True)
class Candidate:
    """A fitted model, its parameters and its metrics on the validation split."""

    name: str
    model: Any
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    train_rows: int
    valid_rows: int
    train_period: tuple[str, str]
    valid_period: tuple[str, str]
    input_columns: tuple[str, ...] = field(default=())

    @property
    def estimator_name(self) -> str:
        """Class name of the final estimator (``LogisticRegression``...)."""
        estimator = self.model.steps[-1][1] if hasattr(self.model, "steps") else self.model
        return type(estimator).__name__


def features_and_label(orders: pd.DataFrame, label: str = LABEL_COLUMN) -> tuple[pd.DataFrame, pd.Series]:
    """Split clean order rows into the model's input (every column but the label) and 0/1 labels."""
    if label not in orders.columns:
        raise ValueError(f"the orders have no {label!r} column: columns are {list(orders.columns)}")
    if orders[label].isna().any():
        raise ValueError(f"{int(orders[label].isna().sum())} rows have no {label!r} label: train on clean rows")
    return orders.drop(columns=[label]), orders[label].astype(int)


def late_probability(model: Any, inputs: pd.DataFrame) -> Any:
    """P(late) for each row: the second column of ``predict_proba``."""
    return model.predict_proba(inputs)[:, 1]


def model_params(model: Any) -> dict[str, Any]:
    """The final estimator's parameters that MLflow can log (numbers, strings, booleans, None)."""
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    params = {"estimator": type(estimator).__name__}
    for key, value in sorted(estimator.get_params(deep=False).items()):
        if value is None or isinstance(value, (bool, int, float, str)):
            params[key] = value
    return params


def fit_candidate(
    name: str, model: Any, train: pd.DataFrame, valid: pd.DataFrame, label: str = LABEL_COLUMN
) -> Candidate:
    """Fit ``model`` (an unfitted pipeline) on ``train`` and score it on ``valid``."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"a candidate name is a short identifier such as 'logreg', got {name!r}")
    x_train, y_train = features_and_label(train, label)
    x_valid, y_valid = features_and_label(valid, label)
    model.fit(x_train, y_train)
    return Candidate(
        name=name,
        model=model,
        params=model_params(model),
        metrics=validation_metrics(y_valid, late_probability(model, x_valid)),
        train_rows=len(train),
        valid_rows=len(valid),
        train_period=_period(train),
        valid_period=_period(valid),
        input_columns=tuple(x_train.columns),
    )


def comparison_table(candidates: list[Candidate], digits: int = 4) -> pd.DataFrame:
    """One row per candidate: estimator and every validation metric, rounded."""
    rows = [{"candidate": c.name, "estimator": c.estimator_name, **c.metrics} for c in candidates]
    return pd.DataFrame(rows).set_index("candidate").round(digits)


def _period(orders: pd.DataFrame) -> tuple[str, str]:
    """First and last order time of a split as ``YYYY-MM-DD`` (empty strings without timestamps)."""
    if TIMESTAMP_COLUMN not in orders.columns or orders.empty:
        return ("", "")
    times = pd.to_datetime(orders[TIMESTAMP_COLUMN])
    return (f"{times.min():%Y-%m-%d}", f"{times.max():%Y-%m-%d}")


def model_pipeline(dictionary: Any, estimator: Any) -> Any:
    """The full model: module 2's feature transformer and encoder, then ``estimator``."""
    # Imported here: both import scikit-learn, which importing the registry must not.
    from sklearn.pipeline import Pipeline

    from mlops_kit.features.transform import build_encoder, build_feature_transformer

    return Pipeline(
        [
            ("features", build_feature_transformer(dictionary)),
            ("encode", build_encoder(dictionary)),
            ("model", estimator),
        ]
    )
