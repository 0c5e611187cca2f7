"""Read the service's prediction log back: every worker's file merged, oldest first.

The service writes one JSON-lines file per worker (``mlops_kit.serving.predlog`` says why). A
line that is not a whole JSON record (a torn tail after a crash, a corrupted file) raises
``PredictionLogError`` naming the file and the line; the error carries every good record read
(``error.records``), so nothing good is hidden behind one bad line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_kit.serving.predlog import LOG_PREFIX, LOG_SUFFIX

RECORD_FIELDS = (
    "request_id",
    "time",
    "model_version",
    "order_id",
    "inputs",
    "late_probability",
    "decision",
    "latency_ms",
)


class PredictionLogError(ValueError):
    """A prediction log file holds a line that is not a whole record; ``records`` are the good ones."""

    def __init__(self, message: str, records: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.records = records


def log_files(folder: str | Path) -> list[Path]:
    """The per-worker files of a prediction log folder, sorted by name."""
    return sorted(Path(folder).glob(f"{LOG_PREFIX}*{LOG_SUFFIX}"))


def read_log_records(folder: str | Path) -> list[dict[str, Any]]:
    """Every record of every worker's file; PredictionLogError at the first bad line (good records attached)."""
    files = log_files(folder)
    if not files:
        raise PredictionLogError(f"no prediction log in {folder}: start the service with prediction_log_dir set", [])
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for path in files:
        lines = path.read_bytes().split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                missing = [name for name in RECORD_FIELDS if name not in record]
                if missing:
                    raise ValueError(f"missing fields {missing}")
            except (ValueError, UnicodeDecodeError) as error:
                torn = number == len(lines) and not line.endswith(b"}")
                kind = "a torn last record (the writer stopped mid-line)" if torn else "not a prediction record"
                problems.append(f"{path}, record {number}: {kind} ({str(error)[:80]})")
                continue
            records.append(record)
    if problems:
        more = f" (and {len(problems) - 1} more bad records)" if len(problems) > 1 else ""
        raise PredictionLogError(f"{problems[0]}{more}; {len(records)} good records were read", records)
    return records


def log_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Records as a table: one row per prediction, the raw inputs as columns, sorted by time."""
    if not records:
        return pd.DataFrame(columns=[name for name in RECORD_FIELDS if name != "inputs"])
    frame = pd.DataFrame.from_records(records)
    inputs = pd.DataFrame.from_records(frame.pop("inputs").tolist(), index=frame.index)
    frame = pd.concat([frame, inputs], axis=1)
    frame["time"] = pd.to_datetime(frame["time"], format="ISO8601")
    return frame.sort_values("time", kind="stable", ignore_index=True)


def read_prediction_log(folder: str | Path) -> pd.DataFrame:
    """The prediction log of ``folder`` as a table (see ``log_frame``); PredictionLogError on a bad line."""
    return log_frame(read_log_records(folder))
