"""Evaluate alert rules over windows, with Prometheus/Alertmanager semantics.

Per rule and column (one alert instance each): a breached condition makes it ``pending``; after
``for_windows`` breached windows in a row it is ``firing`` (one ``firing`` event for the whole
episode, however long it lasts: no storm); the first window without the breach makes it
``resolved`` (one ``resolved`` event), then ``inactive``. A pending alert that clears goes back
to ``inactive`` without a word. A window without data for a signal (labels not arrived yet)
leaves the state as it was and is recorded as ``no data``, never as a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops_kit.monitoring.rules import AlertRule

STATES = ("inactive", "pending", "firing", "resolved", "no data")


@dataclass(frozen=True)
class AlertEvent:
    """A transition that is notified: an episode starts firing, or resolves."""

    kind: str  # "firing" or "resolved"
    rule: str
    column: str | None
    window: str
    value: float
    threshold: float
    condition: str
    severity: str
    runbook: str
    summary: str
    episode: str  # "<rule>[/<column>]@<first firing window>"
    first_window: str  # window where the episode started firing
    windows: tuple[str, ...] = ()  # windows the episode fired in (so far)


@dataclass
class AlertEvaluation:
    """The state of every alert in every window, the episodes and the events to notify."""

    timeline: list[dict[str, Any]] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)

    def firing(self, window: str) -> list[tuple[str, str | None]]:
        """``(rule, column)`` of the alerts firing in ``window``."""
        return [
            (row["rule"], row["column"])
            for row in self.timeline
            if row["window"] == window and row["state"] == "firing"
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "timeline": self.timeline,
            "episodes": self.episodes,
            "events": [asdict(event) for event in self.events],
        }


def _values(rule: AlertRule, signals: dict[str, Any]) -> dict[str | None, float | None]:
    value = signals.get(rule.signal)
    if rule.signal == "column_drift":
        scores = value or {}
        names = rule.columns if rule.columns is not None else tuple(scores)
        return {name: scores.get(name) for name in names}
    return {None: value}


def evaluate_rules(rules: Sequence[AlertRule], windows: Sequence[dict[str, Any]]) -> AlertEvaluation:
    """Run ``rules`` over ``windows`` (each ``{"window": name, <signal>: value, ...}``, oldest first)."""
    result = AlertEvaluation()
    state: dict[tuple[str, str | None], dict[str, Any]] = {}
    for signals in windows:
        window = str(signals["window"])
        for rule in rules:
            for column, value in _values(rule, signals).items():
                key = (rule.name, column)
                current = state.setdefault(key, {"state": "inactive", "count": 0, "episode": None})
                if current["state"] == "resolved":
                    current["state"] = "inactive"
                shown = current["state"]
                if value is None:
                    shown = "no data"
                elif rule.breached(float(value)):
                    current["count"] += 1
                    if current["state"] == "firing":
                        current["episode"]["windows"].append(window)
                    elif current["count"] >= rule.for_windows:
                        current["state"] = "firing"
                        episode = {
                            "episode": f"{rule.name}{'/' + column if column else ''}@{window}",
                            "rule": rule.name,
                            "column": column,
                            "severity": rule.severity,
                            "first_window": window,
                            "resolved_window": None,
                            "windows": [window],
                        }
                        current["episode"] = episode
                        result.episodes.append(episode)
                        result.events.append(_event("firing", rule, column, window, float(value), episode))
                    else:
                        current["state"] = "pending"
                    shown = current["state"]
                else:
                    current["count"] = 0
                    if current["state"] == "firing":
                        episode = current["episode"]
                        episode["resolved_window"] = window
                        result.events.append(_event("resolved", rule, column, window, float(value), episode))
                        current["state"], current["episode"] = "resolved", None
                    else:
                        current["state"] = "inactive"
                    shown = current["state"]
                result.timeline.append(
                    {
                        "window": window,
                        "rule": rule.name,
                        "column": column,
                        "value": value,
                        "threshold": rule.threshold,
                        "state": shown,
                    }
                )
    return result


def _event(kind: str, rule: AlertRule, column: str | None, window: str, value: float, episode: dict) -> AlertEvent:
    return AlertEvent(
        kind=kind,
        rule=rule.name,
        column=column,
        window=window,
        value=value,
        threshold=rule.threshold,
        condition=rule.condition,
        severity=rule.severity,
        runbook=rule.runbook,
        summary=rule.summary,
        episode=episode["episode"],
        first_window=episode["first_window"],
        windows=tuple(episode["windows"]),
    )
