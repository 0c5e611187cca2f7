"""What the gate judges on, and evidence for setting its thresholds.

``evaluation_batch`` is the held-out batch: the newest production month (no model trained on
it), validated by module 1's reference rules, with its labels. The model pipeline computes its
features with module 2's shared transformation, so the batch stays clean order rows.
``bootstrap_metric`` shows how much a metric moves from resampling alone: a tolerance smaller
than that blocks good challengers by chance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_kit.data import file_period, list_batches, load_orders
from mlops_kit.registry.candidates import late_probability
from mlops_kit.registry.metrics import higher_is_better, validation_metrics


def newest_month(data_dir: str | Path) -> str:
    """The newest production month of the data folder (``YYYY-MM``)."""
    months = list_batches(data_dir)
    if not months:
        raise ValueError(f"{data_dir} holds no production batches")
    return months[-1]


def evaluation_batch(data_dir: str | Path, month: str | None = None) -> pd.DataFrame:
    """Clean, labelled order rows of ``month`` (default: the newest), validated with module 1's reference rules.

    ``attrs["source"]`` names the month and ``attrs["quarantined"]`` how many rows validation kept out.
    """
    from mlops_kit.validation import reference_rules, validate

    month = month or newest_month(data_dir)
    _, period_end = file_period(data_dir, month)
    result = validate(load_orders(data_dir, month), reference_rules(period_end), source=month)
    clean = result.clean.copy()
    clean.attrs.update({"source": month, "quarantined": len(result.quarantine), "data_version": result.data_version})
    return clean


def bootstrap_metric(
    model: Any, eval_batch: pd.DataFrame, metric: str, resamples: int = 200, seed: int = 0, label: str = "is_late"
) -> np.ndarray:
    """``metric`` of ``model`` on ``resamples`` bootstrap resamples of the batch (rows drawn with replacement).

    One prediction for the whole batch; each resample only reindexes it. ROC AUC is scored for all
    resamples at once from ranks (``rank_auc``: equal to scikit-learn's ``roc_auc_score``, ties included).
    """
    y = eval_batch[label].astype(int).to_numpy()
    p = np.asarray(late_probability(model, eval_batch.drop(columns=[label])))
    rng = np.random.default_rng(seed)
    drawn = [rng.integers(0, len(y), len(y)) for _ in range(resamples)]
    picked = np.asarray([rows for rows in drawn if len(np.unique(y[rows])) == 2], dtype=np.intp).reshape(-1, len(y))
    if metric == "roc_auc":
        return rank_auc(y[picked], p[picked])
    score = metric_function(metric)
    return np.asarray([score(y[rows], p[rows]) for rows in picked])


def rank_auc(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of ``labels`` (0/1) against ``scores`` (same shape, both classes in every row).

    The Mann-Whitney form: (sum of the positives' average ranks - n+(n+ + 1)/2) / (n+ n-).
    """
    from scipy.stats import rankdata

    labels = np.atleast_2d(labels).astype(bool)
    ranks = rankdata(np.atleast_2d(scores), method="average", axis=1)
    positives = labels.sum(axis=1)
    negatives = labels.shape[1] - positives
    return (np.where(labels, ranks, 0.0).sum(axis=1) - positives * (positives + 1) / 2.0) / (positives * negatives)


def metric_function(metric: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """``f(labels, probabilities)`` computing one metric of METRIC_DIRECTIONS (as ``validation_metrics`` does)."""
    from sklearn import metrics

    higher_is_better(metric)  # KeyError naming the known metrics
    direct = {"roc_auc": metrics.roc_auc_score, "average_precision": metrics.average_precision_score}
    if metric in direct:
        return lambda y, p: float(direct[metric](y, p))
    return lambda y, p: validation_metrics(y, p)[metric]
