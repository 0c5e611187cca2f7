"""Pictures a learner would rather look at than read: missing values, distributions, outliers.

matplotlib is imported inside each function, so importing mlops_kit stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd


def missing_values(frame: pd.DataFrame, title: str = "Missing values per column") -> Any:
    """Horizontal bar chart of missing values per column; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    counts = frame.isna().sum().sort_values()
    figure, axes = plt.subplots(figsize=(7, 0.35 * len(counts) + 1.2))
    bars = axes.barh(counts.index, counts.values, color=["#c0392b" if v else "#95a5a6" for v in counts.values])
    axes.bar_label(bars, padding=3)
    axes.set_xlabel("rows with a missing value")
    axes.set_title(title)
    axes.set_xlim(0, max(1, counts.max()) * 1.2)
    figure.tight_layout()
    plt.close(figure)
    return figure


def distribution_with_outliers(
    values: pd.Series,
    lower: float | None = None,
    upper: float | None = None,
    bins: int = 60,
    unit: str = "",
) -> Any:
    """Histogram of a numeric column with the outlier bounds drawn and outside values in red."""
    import matplotlib.pyplot as plt

    numeric = pd.to_numeric(values, errors="coerce").dropna()
    outside = pd.Series(False, index=numeric.index)
    if lower is not None:
        outside |= numeric < lower
    if upper is not None:
        outside |= numeric > upper
    figure, axes = plt.subplots(figsize=(8, 3.2))
    edges = pd.Series(numeric).quantile([0, 1]).to_list()
    has_rule = lower is not None or upper is not None
    axes.hist(
        numeric[~outside],
        bins=bins,
        range=edges,
        color="#2980b9",
        label="inside the rule" if has_rule else "all values",
    )
    if has_rule:
        axes.hist(numeric[outside], bins=bins, range=edges, color="#c0392b", label=f"outliers ({int(outside.sum())})")
    for bound in (lower, upper):
        if bound is not None:
            axes.axvline(bound, color="black", linestyle="--", linewidth=1)
    axes.set_yscale("log")
    axes.set_xlabel(f"{values.name} ({unit})" if unit else str(values.name))
    axes.set_ylabel("orders (log scale)")
    axes.legend()
    figure.tight_layout()
    plt.close(figure)
    return figure


def quarantine_reasons(reasons: Sequence[str], title: str = "Why rows were quarantined") -> Any:
    """Bar chart of quarantine reason codes (``defect:column``), most frequent first."""
    import matplotlib.pyplot as plt

    codes = pd.Series([code for text in reasons for code in str(text).split(";") if code])
    counts = codes.value_counts().sort_values()
    figure, axes = plt.subplots(figsize=(7, 0.35 * max(len(counts), 1) + 1.2))
    bars = axes.barh(counts.index, counts.values, color="#8e44ad")
    axes.bar_label(bars, padding=3)
    axes.set_xlabel("quarantined rows")
    axes.set_title(title)
    figure.tight_layout()
    plt.close(figure)
    return figure
