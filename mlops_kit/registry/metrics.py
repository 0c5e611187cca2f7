"""Validation metrics for a late-delivery probability, and which direction is better."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# True: higher is better. Every metric a policy may name is listed here.
METRIC_DIRECTIONS: dict[str, bool] = {
    "roc_auc": True,
    "average_precision": True,
    "accuracy": True,
    "f1": True,
    "log_loss": False,
    "brier": False,
}
DEFAULT_THRESHOLD = 0.5


def higher_is_better(metric: str) -> bool:
    """Direction of ``metric``; KeyError naming the known metrics for any other name."""
    try:
        return METRIC_DIRECTIONS[metric]
    except KeyError:
        raise KeyError(f"unknown metric {metric!r}; known: {', '.join(METRIC_DIRECTIONS)}") from None


def is_better(metric: str, value: float, than: float, margin: float = 0.0) -> bool:
    """True when ``value`` beats ``than`` by more than ``margin`` in the metric's direction."""
    return value - than > margin if higher_is_better(metric) else than - value > margin


def validation_metrics(
    y_true: Sequence[Any], late_probability: Sequence[float], threshold: float = DEFAULT_THRESHOLD
) -> dict[str, float]:
    """Every metric of METRIC_DIRECTIONS for labels ``y_true`` (0/1) and P(late)."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        brier_score_loss,
        f1_score,
        log_loss,
        roc_auc_score,
    )

    y = np.asarray(y_true, dtype=int)
    p = np.clip(np.asarray(late_probability, dtype=float), 0.0, 1.0)
    if len(y) != len(p) or len(y) == 0:
        raise ValueError(f"need one probability per label: got {len(p)} probabilities for {len(y)} labels")
    if len(np.unique(y)) < 2:
        raise ValueError("the validation labels hold a single class: ROC AUC is undefined")
    predicted = (p >= threshold).astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "average_precision": float(average_precision_score(y, p)),
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
    }
