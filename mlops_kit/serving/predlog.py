"""Module 5's prediction log, written by the service: one JSON line per predicted order.

Store: **one append-only JSON-lines file per worker process** (``predictions-<pid>.jsonl`` in
``ServiceConfig.prediction_log_dir``), merged on read (``mlops_kit.monitoring.read_prediction_log``).
Why not one shared file or SQLite: a worker is the only writer of its file, so workers never
wait on each other (no lock across processes, no ``database is locked`` under load); inside a
worker a thread lock and one ``os.write`` per request on an ``O_APPEND`` descriptor keep the
lines of concurrent requests whole. The file is handed to the kernel at every request (no
buffer lost when the process dies; no fsync per request, which would cost milliseconds): a
crash can leave at most a torn last line, which the reader names instead of hiding the rest.

A record: ``request_id``, ``time`` (UTC, ISO), ``model_version``, ``order_id``, ``inputs`` (the
raw order), ``late_probability``, ``decision``, ``latency_ms`` (time in the service until the
answer was built).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG_PREFIX = "predictions-"
LOG_SUFFIX = ".jsonl"


class PredictionLogWriter:
    """Appends the records of one request to this worker's file in one write."""

    def __init__(self, folder: str | Path, model_version: str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.model_version = model_version
        self.path = self.folder / f"{LOG_PREFIX}{os.getpid()}{LOG_SUFFIX}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def write(
        self,
        request_id: str,
        orders: Sequence[dict[str, Any]],
        probabilities: Sequence[float],
        decisions: Sequence[int],
        latency_ms: float,
        key: str,
    ) -> None:
        """Log the orders of one answered request (``orders``: the validated raw inputs)."""
        stamp = datetime.now(UTC).isoformat(timespec="microseconds")
        lines = []
        for order, probability, decision in zip(orders, probabilities, decisions, strict=True):
            inputs = {name: value for name, value in order.items() if name != key}
            record = {
                "request_id": request_id,
                "time": stamp,
                "model_version": self.model_version,
                "order_id": order.get(key),
                "inputs": inputs,
                "late_probability": probability,
                "decision": decision,
                "latency_ms": round(latency_ms, 3),
            }
            lines.append(json.dumps(record, separators=(",", ":"), default=str))
        data = ("\n".join(lines) + "\n").encode("utf-8")
        with self._lock:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])

    def close(self) -> None:
        """Close this worker's file."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
