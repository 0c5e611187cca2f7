"""One row of signals per window, from the drift reports, the service's metrics and the labels.

This is what the alert rules read (``rules.SIGNALS`` names each signal): a window's missing
source (no labels yet) gives ``None``, which the rules treat as "no data".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

PREDICTION = "late_probability"


def window_signals(
    drift: Mapping[str, dict[str, Any]],
    metrics: Mapping[str, dict[str, Any]],
    performance: pd.DataFrame | None = None,
    reference_auc: float | None = None,
    reference_mean: float | None = None,
) -> list[dict[str, Any]]:
    """Signals per window (oldest first): drift by column, drift share, prediction drift, service metrics, performance."""
    rows = []
    for window in sorted(drift):
        summary = drift[window]
        columns = {name: facts["score"] for name, facts in summary["columns"].items() if name != PREDICTION}
        service = metrics.get(window, {})
        row: dict[str, Any] = {
            "window": window,
            "drift_share": summary["drift_share"],
            "column_drift": columns,
            "prediction_drift": summary["columns"].get(PREDICTION, {}).get("score"),
            "prediction_mean_shift": None,
            "latency_p95_ms": service.get("latency_p95_ms"),
            "error_rate": service.get("error_rate"),
            "performance_drop": None,
        }
        if performance is not None and window in performance.index:
            facts = performance.loc[window]
            if reference_mean is not None:
                row["prediction_mean_shift"] = abs(float(facts["mean_probability"]) - reference_mean)
            if reference_auc is not None and facts["roc_auc"] is not None and pd.notna(facts["roc_auc"]):
                row["performance_drop"] = reference_auc - float(facts["roc_auc"])
        rows.append(row)
    return rows


def signal_table(signals: list[dict[str, Any]]) -> pd.DataFrame:
    """The signals as a table (one column per watched input's drift), for reading and plotting."""
    flat = []
    for row in signals:
        entry = {key: value for key, value in row.items() if key != "column_drift"}
        entry.update({f"drift:{name}": score for name, score in row["column_drift"].items()})
        flat.append(entry)
    return pd.DataFrame(flat).set_index("window")
