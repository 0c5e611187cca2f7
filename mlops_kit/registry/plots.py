"""Pictures for comparing candidates: validation metrics side by side, and ROC curves.

matplotlib is imported inside each function, so importing the registry stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from mlops_kit.domain import LABEL_COLUMN
from mlops_kit.registry.candidates import Candidate, features_and_label, late_probability

SHOWN_METRICS: tuple[str, ...] = ("roc_auc", "average_precision", "accuracy", "f1")
_COLOURS = ("#2980b9", "#e67e22", "#27ae60", "#8e44ad", "#c0392b")


def metrics_comparison(candidates: Sequence[Candidate], metrics: Sequence[str] = SHOWN_METRICS) -> Any:
    """Grouped bar chart: one group per metric, one bar per candidate; returns the Figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axes = plt.subplots(figsize=(8, 3.4))
    width = 0.8 / max(1, len(candidates))
    positions = np.arange(len(metrics))
    for number, candidate in enumerate(candidates):
        values = [candidate.metrics.get(metric, float("nan")) for metric in metrics]
        bars = axes.bar(
            positions + number * width, values, width, label=candidate.name, color=_COLOURS[number % len(_COLOURS)]
        )
        axes.bar_label(bars, fmt="%.3f", padding=2, fontsize=8)
    axes.set_xticks(positions + width * (len(candidates) - 1) / 2, metrics)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("validation score (higher is better)")
    axes.set_title("Candidates on the validation split")
    axes.legend(loc="upper right", ncols=max(1, len(candidates)), fontsize=9)
    figure.tight_layout()
    plt.close(figure)
    return figure


def roc_curves(candidates: Sequence[Candidate], valid: pd.DataFrame, label: str = LABEL_COLUMN) -> Any:
    """ROC curve of each candidate on ``valid``, with the chance diagonal; returns the Figure."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    inputs, truth = features_and_label(valid, label)
    figure, axes = plt.subplots(figsize=(4.6, 4.2))
    for number, candidate in enumerate(candidates):
        false_positive, true_positive, _ = roc_curve(truth, late_probability(candidate.model, inputs))
        auc = candidate.metrics.get("roc_auc", float("nan"))
        axes.plot(
            false_positive,
            true_positive,
            color=_COLOURS[number % len(_COLOURS)],
            label=f"{candidate.name} (AUC {auc:.3f})",
        )
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    axes.set_xlabel("false positive rate (on-time orders warned)")
    axes.set_ylabel("true positive rate (late orders warned)")
    axes.set_title("ROC curves, validation split")
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    plt.close(figure)
    return figure
