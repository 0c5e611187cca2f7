"""One static HTML page a person can open offline: the monitoring of every window at a glance.

Drift share per month, the inputs' drift over time, latency and error rate, the prediction
distribution, performance once labels arrive, and the alert timeline, drifted months marked.
Pictures are PNGs embedded as base64; nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_kit.io import atomic_write_text
from mlops_kit.monitoring.alerts import AlertEvaluation
from mlops_kit.monitoring.plots import drift_over_time


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _bars(values: pd.Series, title: str, ylabel: str, marked: Sequence[str]) -> Any:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 2.6))
    numbers = pd.to_numeric(values, errors="coerce").fillna(0.0)
    colors = ["#c0392b" if window in marked else "#7f8c8d" for window in values.index]
    axes.bar(values.index, numbers, color=colors)
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    figure.tight_layout()
    plt.close(figure)
    return figure


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(border=0, float_format=lambda value: f"{value:.3f}", na_rep="-", escape=True)


def drifted_windows(evaluation: AlertEvaluation, signal_rules: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Window -> columns with a firing alert (rules on column signals; ``signal_rules`` limits which rules)."""
    found: dict[str, list[str]] = {}
    for row in evaluation.timeline:
        if row["state"] == "firing" and row["column"] and (signal_rules is None or row["rule"] in signal_rules):
            found.setdefault(row["window"], [])
            if row["column"] not in found[row["window"]]:
                found[row["window"]].append(row["column"])
    return {window: sorted(columns) for window, columns in sorted(found.items())}


def write_dashboard(
    path: str | Path,
    table: pd.DataFrame,
    evaluation: AlertEvaluation,
    performance: pd.DataFrame | None = None,
    threshold: float | None = None,
    facts: Mapping[str, Any] | None = None,
) -> Path:
    """Write the dashboard for ``table`` (``signal_table``) and ``evaluation``; returns the path."""
    drifted = drifted_windows(evaluation)
    marked = list(drifted)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Late-delivery model monitoring</title>",
        "<style>body{font-family:sans-serif;max-width:960px;margin:auto}td,th{padding:2px 8px}"
        ".firing{color:#c0392b;font-weight:bold}</style></head><body>",
        "<h1>Late-delivery model: monitoring</h1>",
    ]
    if facts:
        parts.append(
            "<p>" + "; ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in facts.items()) + "</p>"
        )
    parts.append("<h2>Drifted months</h2><ul>")
    for window, columns in drifted.items():
        parts.append(f"<li class='firing'>{html.escape(window)}: {html.escape(', '.join(columns))}</li>")
    if not drifted:
        parts.append("<li>none: no drift alert fired</li>")
    parts.append("</ul>")
    parts.append(
        "<h2>Drift share per month</h2>" + _png(_bars(table["drift_share"], "Share of inputs drifted", "share", marked))
    )
    parts.append("<h2>Key features' drift over time</h2>" + _png(drift_over_time(table, threshold, marked)))
    service = table[["latency_p95_ms", "error_rate"]]
    parts.append(
        "<h2>Service: latency and errors</h2>"
        + _png(_bars(table["latency_p95_ms"], "p95 latency of /predict", "ms", marked))
    )
    parts.append(_table(service))
    if performance is not None and len(performance):
        parts.append("<h2>Predictions and performance (labels joined by order id)</h2>")
        parts.append(_png(_bars(performance["mean_probability"], "Mean predicted P(late)", "P(late)", marked)))
        parts.append(_png(_bars(performance["roc_auc"], "ROC AUC once labels arrived", "ROC AUC", marked)))
        parts.append(_table(performance))
    timeline = pd.DataFrame(evaluation.timeline)
    if len(timeline):
        active = timeline[timeline["state"].isin(["pending", "firing", "resolved"])]
        parts.append(
            "<h2>Alert timeline</h2>" + (_table(active.set_index("window")) if len(active) else "<p>no alert</p>")
        )
    parts.append("</body></html>")
    return atomic_write_text(path, "\n".join(parts))
