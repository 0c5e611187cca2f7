"""Pictures of monitoring: drift over time with the threshold, and the threshold trade-off.

matplotlib is imported inside each function, so importing mlops_kit stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def drift_over_time(table: pd.DataFrame, threshold: float | None = None, marked: Sequence[str] = ()) -> Any:
    """Each input's drift score per window (from ``signal_table``), the threshold, marked windows shaded."""
    import matplotlib.pyplot as plt

    columns = [name for name in table.columns if name.startswith("drift:")]
    figure, axes = plt.subplots(figsize=(8, 3.6))
    positions = np.arange(len(table.index))
    for index, window in enumerate(table.index):
        if window in marked:
            axes.axvspan(index - 0.4, index + 0.4, color="#f5b7b1", alpha=0.5, lw=0)
    for name in columns:
        axes.plot(positions, table[name].astype(float), marker="o", label=name.removeprefix("drift:"))
    if threshold is not None:
        axes.axhline(threshold, color="#c0392b", ls="--", lw=1, label=f"threshold {threshold:g}")
    axes.set_xticks(positions, table.index)
    axes.set_ylabel("drift score (pinned method)")
    axes.set_title("Drift per input and month" + (" (shaded: alerts fired)" if marked else ""))
    axes.legend(fontsize=8, ncol=2, loc="upper left")
    figure.tight_layout()
    plt.close(figure)
    return figure


def threshold_tradeoff(noise: Sequence[float], scores: Sequence[float], chosen: float | None = None) -> Any:
    """How many window-column pairs would alert at each threshold: reference noise vs production scores."""
    import matplotlib.pyplot as plt

    grid = np.linspace(0, max([*scores, *noise, 0.05]) * 1.05, 200)
    noise_arr, score_arr = np.asarray(noise, dtype=float), np.asarray(scores, dtype=float)
    figure, axes = plt.subplots(figsize=(8, 3.4))
    axes.plot(grid, [(noise_arr > t).sum() for t in grid], label="reference months (no drift): false alarms")
    axes.plot(grid, [(score_arr > t).sum() for t in grid], label="production month x input pairs alerting")
    axes.scatter(score_arr, np.zeros_like(score_arr), marker="|", s=200, color="black", label="production scores")
    if chosen is not None:
        axes.axvline(chosen, color="#c0392b", ls="--", label=f"chosen {chosen:g}")
    axes.set_xlabel("threshold on the drift score")
    axes.set_ylabel("alerts")
    axes.set_title("Threshold trade-off: quiet on noise, loud on drift")
    axes.legend(fontsize=8)
    figure.tight_layout()
    plt.close(figure)
    return figure
