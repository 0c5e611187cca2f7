"""Evidence for a rollout's thresholds, measured before the rollout: what a good canary looks like.

- ``offline_shift``: the Hodges-Lehmann shift between two models' late probabilities on the same orders
  (how far a sound retrain moves the predictions: the prediction test's floor must sit well above it);
- ``latency_sample``: single-order latencies of a running service under the load the rollout will use
  (an A/A measurement: the spread between its p50 and p99 is the noise any p99 comparison sees);
- ``rule_accuracy``: how often "late when ``feature`` > threshold" is right on labelled orders, per
  candidate threshold (to declare a baseline rule that is at least the best of its kind).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlops_kit.rollout.analysis import hodges_lehmann
from mlops_kit.rollout.load import LoadGenerator


def offline_shift(model: Any, other: Any, orders: pd.DataFrame) -> float:
    """Hodges-Lehmann shift of ``other``'s late probabilities over ``model``'s, on the same ``orders``."""
    inputs = orders.drop(columns=["is_late"], errors="ignore")
    return hodges_lehmann(other.predict_proba(inputs)[:, 1], model.predict_proba(inputs)[:, 1])


def latency_sample(
    url: str, orders: Sequence[dict[str, Any]], key: str, seconds: float = 1.5, rate_per_s: float = 80.0
) -> np.ndarray:
    """Client-side latencies (ms) of ``url``'s ``/predict`` under a short bounded load (failed requests left out)."""
    results = LoadGenerator(url, orders, key=key, rate_per_s=rate_per_s, duration_s=seconds).start().wait()
    return results.loc[~results["failed"].astype(bool), "latency_ms"].to_numpy(dtype=float)


def rule_accuracy(
    orders: pd.DataFrame, feature: str, quantiles: Sequence[float] = tuple(np.arange(0.05, 0.96, 0.05))
) -> pd.Series:
    """Accuracy of "late when ``feature`` > t" on labelled ``orders`` for t at the given quantiles (index: t)."""
    values = orders[feature].astype(float)
    late = orders["is_late"].astype(int)
    thresholds = sorted({round(float(values.quantile(q)), 2) for q in quantiles})
    return pd.Series(
        [float(((values > t).astype(int) == late).mean()) for t in thresholds], index=thresholds, name="accuracy"
    )
