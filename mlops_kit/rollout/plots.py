"""The picture of a rollout: canary weight, error rate and p99 latency per arm over time, rollback marked.

matplotlib is imported inside the function, so importing the rollout package stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_ARM_COLOURS = {"stable": "#2980b9", "canary": "#e67e22"}


def rollout_picture(events: Sequence[Mapping[str, Any]], decisions: Sequence[Mapping[str, Any]]) -> Any:
    """One column per rollout (in the order of the events): weight, error rate, p99 latency; returns the Figure."""
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(event["rollout"] for event in events))
    figure, axes = plt.subplots(
        3, max(1, len(names)), figsize=(4.2 * max(1, len(names)), 6.6), sharex="col", squeeze=False
    )
    for column, name in enumerate(names):
        mine = [event for event in events if event["rollout"] == name]
        start = mine[0]["t"]
        weight_ax, error_ax, latency_ax = axes[:, column]
        weights = [(event["t"] - start, event["weight"]) for event in mine if event["event"] == "weight"]
        end = mine[-1]["t"] - start
        xs = [x for x, _ in weights] + [end]
        ys = [y for _, y in weights] + [weights[-1][1] if weights else 0]
        weight_ax.step(xs, ys, where="post", color=_ARM_COLOURS["canary"])
        weight_ax.set_ylim(-5, 105)
        outcome = next((event["outcome"] for event in mine if event["event"] == "rollout_finished"), "running")
        weight_ax.set_title(f"{name}: {outcome.replace('_', ' ')}")
        judged = [decision for decision in decisions if decision["rollout"] == name]
        for arm, colour in _ARM_COLOURS.items():
            times = [decision["interval"]["end"] - start for decision in judged]
            for ax, metric, scale in ((error_ax, "error_rate", 100.0), (latency_ax, "latency_p99", 1.0)):
                values = [_metric(decision, metric, arm) for decision in judged]
                ax.plot(times, [v * scale if v is not None else None for v in values], "o-", color=colour, label=arm)
        for decision in judged:
            if decision["verdict"] != "pass":
                for ax in (error_ax, latency_ax):
                    ax.axvspan(
                        decision["interval"]["start"] - start,
                        decision["interval"]["end"] - start,
                        color="#c0392b" if decision["verdict"] == "fail" else "#95a5a6",
                        alpha=0.12,
                    )
        for event in mine:
            if event["event"] == "rollback":
                for ax in axes[:, column]:
                    ax.axvline(event["weight_zero_t"] - start, color="#c0392b", linestyle="--", label="rollback")
            elif event["event"] == "promotion":
                for ax in axes[:, column]:
                    ax.axvline(event["t"] - start, color="#27ae60", linestyle="--", label="promotion")
        if column == 0:
            weight_ax.set_ylabel("canary weight (%)")
            error_ax.set_ylabel("error rate (%)")
            latency_ax.set_ylabel("p99 latency (ms)")
        latency_ax.set_xlabel("seconds since the rollout started")
        error_ax.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    plt.close(figure)
    return figure


def _metric(decision: Mapping[str, Any], name: str, arm: str) -> float | None:
    for metric in decision["metrics"]:
        if metric["name"] == name:
            return metric[arm]
    return None
