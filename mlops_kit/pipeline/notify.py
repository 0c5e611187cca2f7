"""Failure notifications: what the engine tells someone when a stage fails.

A hook is any callable taking a ``StageFailure``. The default, ``NotificationLog``, appends
one JSON line per failure to ``notifications.log`` in the pipeline's work folder: the
embedded stand-in for a chat message or a page.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **failure.to_dict(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:  # one write per line: lines never interleave
            handle.write(json.dumps(line, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def __repr__(self) -> str:
        return f"NotificationLog({str(self.path)!r})"


def read_notifications(path: str | Path) -> list[dict[str, Any]]:
    """The notifications written to a log so far (an empty list when there is no log)."""
    target = Path(path)
    if target.is_dir():
        target = target / NOTIFICATIONS_FILE
    if not target.is_file():
        return []
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines() if line.strip()]
