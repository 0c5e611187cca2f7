"""The rollout's event log: append-only JSON lines, one per weight change, analysis, fallback, rollback...

Each event has ``t`` (epoch seconds), ``time`` (UTC, ISO 8601), ``rollout`` (the scenario's name),
``event`` (its kind, one of ``EVENT_KINDS``) and its own fields. ``read_events`` reads a log back.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from mlops_kit.io import append_json_line, read_json_lines

EVENT_KINDS = (
    "rollout_started",
    "weight",
    "analysis",
    "fallback",
    "rollback",
    "canary_stopped",
    "alias",
    "promotion",
    "stable_stopped",
    "rollout_finished",
)


class EventLog:
    """Appends events of one rollout to ``path`` (the file is shared by several rollouts: ``rollout`` tells them apart)."""

    def __init__(self, path: str | Path, rollout: str) -> None:
        self.path = Path(path)
        self.rollout = rollout

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one event (``t`` now unless given) and return it."""
        if event not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {event!r}; one of {', '.join(EVENT_KINDS)}")
        t = float(fields.pop("t", time.time()))
        record = {
            "t": t,
            "time": dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds"),
            "rollout": self.rollout,
            "event": event,
            **fields,
        }
        append_json_line(self.path, record)
        return record


def read_events(path: str | Path, rollout: str | None = None) -> list[dict[str, Any]]:
    """The events of ``path`` in order (only those of ``rollout`` when given)."""
    return [event for event in read_json_lines(path) if rollout is None or event.get("rollout") == rollout]
