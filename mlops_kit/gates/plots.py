"""Pictures of a gate decision: champion vs challengers on the evaluation batch, latency vs budget.

matplotlib is imported inside each function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlops_kit.gates.decision import GateDecision

SHOWN_METRICS: tuple[str, ...] = ("roc_auc", "average_precision", "accuracy", "f1")
_COLOURS = ("#7f8c8d", "#27ae60", "#c0392b", "#2980b9", "#8e44ad")


def gate_picture(decisions: Mapping[str, GateDecision], metrics: Sequence[str] = SHOWN_METRICS) -> Any:
    """Left: champion and each challenger on the evaluation batch (bars) with the gate's bar for the
    gate metric; right: each challenger's single-row latency distribution against its budget."""
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    first = next(iter(decisions.values()))
    series: dict[str, dict[str, float]] = {}
    champion = (first.evaluation.get("metrics") or {}).get("champion")
    if champion:
        series[f"champion v{first.champion}"] = champion
    for label, decision in decisions.items():
        found = (decision.evaluation.get("metrics") or {}).get("challenger")
        if found:
            series[f"{label} v{decision.challenger}"] = found
    width = 0.8 / max(1, len(series))
    positions = np.arange(len(metrics))
    for number, (label, values) in enumerate(series.items()):
        bars = left.bar(
            positions + number * width,
            [values.get(metric, float("nan")) for metric in metrics],
            width,
            label=label,
            color=_COLOURS[number % len(_COLOURS)],
        )
        left.bar_label(bars, fmt="%.3f", padding=2, fontsize=7)
    metric = first.spec.get("metric")
    bar = _metric_bar(first)
    if metric in metrics and bar is not None:
        at = metrics.index(metric)
        left.hlines(bar, at - 0.1, at + 0.9, colors="black", linestyles="dashed", label=f"gate bar ({metric})")
    left.set_xticks(positions + width * (len(series) - 1) / 2, metrics)
    left.set_ylim(0, 1.1)
    left.set_ylabel("score on the evaluation batch")
    left.set_title("Champion vs challengers (held-out month)")
    left.legend(fontsize=8, loc="upper right", ncols=2)
    for number, (label, decision) in enumerate(decisions.items()):
        try:
            samples = decision.check("latency_p95").details.get("samples_ms") or []
        except KeyError:
            samples = []
        if samples:
            right.hist(samples, bins=30, alpha=0.6, label=f"{label} v{decision.challenger}", color=_COLOURS[number + 1])
    budget = first.spec.get("latency_p95_ms")
    if budget:
        right.axvline(budget, color="black", linestyle="dashed", label=f"p95 budget {budget:g} ms")
    right.set_xlabel("single-row prediction (ms)")
    right.set_ylabel("calls")
    right.set_title("Latency against the budget")
    right.legend(fontsize=8)
    figure.tight_layout()
    plt.close(figure)
    return figure


def _metric_bar(decision: GateDecision) -> float | None:
    try:
        threshold = decision.check("metric_regression").threshold
    except KeyError:
        return None
    return threshold if isinstance(threshold, (int, float)) else None
