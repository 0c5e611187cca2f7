"""Failure notifications: what the engine tells someone when a stage fails.

A hook is any callable taking a ``StageFailure``. The default, ``NotificationLog``, appends
one JSON line per failure to ``notifications.log`` in the pipeline's work folder: the
embedded stand-in for a chat message or a page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops_kit.io import append_json_line, read_json_lines

NOTIFICATIONS_FILE = "notifications.log"


@dataclass(frozen=True)
class StageFailure:
    """One failed stage: which run, which stage, what it raised, and what was kept."""

    pipeline: str
    run_id: str
    stage: str
    error: str
    cache_key: str | None
    skipped: tuple[str, ...]
    workdir: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "skipped": list(self.skipped)}


FailureHook = Callable[[StageFailure], Any]


class NotificationLog:
    """The default hook: append ``{"event": "stage_failed", ...}`` as one JSON line to ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __call__(self, failure: StageFailure) -> None:
        line = {
            "event": "stage_failed",
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **failure.to_dict(),
        }
        append_json_line(self.path, line)

    def __repr__(self) -> str:
        return f"NotificationLog({str(self.path)!r})"


def read_notifications(path: str | Path) -> list[dict[str, Any]]:
    """The notifications written to a log so far (an empty list when there is no log)."""
    target = Path(path)
    if target.is_dir():
        target = target / NOTIFICATIONS_FILE
    if not target.is_file():
        return []
    return read_json_lines(target)
