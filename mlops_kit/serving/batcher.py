"""Micro-batching: concurrent requests share one ``predict_proba`` call.

When the model is idle, a request thread predicts its own rows at once (no hand-off, so a lone
request pays nothing for batching). When the model is busy, the request queues its rows (as
columns) and waits; one worker thread takes every job queued (up to ``max_rows``) as soon as the
model is free, predicts them in one call and hands each job its slice. Nothing waits for a batch
to fill: batches form only from requests that arrive while the model is busy.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Columns = Mapping[str, list[Any]]


@dataclass
class _Job:
    columns: Columns
    rows: int
    done: threading.Event = field(default_factory=threading.Event)
    result: np.ndarray | None = None
    error: BaseException | None = None


class MicroBatcher:
    """Runs ``predict(columns) -> probabilities`` for many callers in shared calls."""

    def __init__(self, predict: Callable[[Columns], np.ndarray], names: list[str], max_rows: int = 1024) -> None:
        self._predict = predict
        self._names = names
        self._max_rows = max_rows
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="micro-batcher", daemon=True)
        self._thread.start()
        self._busy = threading.Lock()  # held while the model predicts
        self.batches = 0
        self.direct = 0

    def predict(self, columns: Columns, rows: int) -> np.ndarray:
        """Probabilities for ``rows`` rows given as columns; blocks until they are computed."""
        if self._busy.acquire(blocking=False):
            try:
                self.direct += 1
                return self._predict(columns)
            finally:
                self._busy.release()
        job = _Job(columns, rows)
        self._jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result

    def close(self) -> None:
        """Stop the worker thread (jobs already queued are answered first)."""
        self._jobs.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        carried: _Job | None = None
        while True:
            job = carried if carried is not None else self._jobs.get()
            if job is None:
                return
            with self._busy:  # wait until the model is free, then take everything queued meanwhile
                carried, stopping = self._drain(job)
            if stopping:
                return

    def _drain(self, job: _Job) -> tuple[_Job | None, bool]:
        """Answer ``job`` and the jobs queued behind it; returns the job carried over and whether to stop."""
        batch, rows = [job], job.rows
        carried, stopping = None, False
        while rows < self._max_rows:
            try:
                more = self._jobs.get_nowait()
            except queue.Empty:
                break
            if more is None:
                stopping = True
                break
            if rows + more.rows > self._max_rows:
                carried = more
                break
            batch.append(more)
            rows += more.rows
        self._answer(batch)
        self.batches += 1
        return carried, stopping

    def _answer(self, batch: list[_Job]) -> None:
        if len(batch) == 1:
            self._answer_one(batch[0])
            return
        merged = {name: [value for job in batch for value in job.columns[name]] for name in self._names}
        try:
            probabilities = self._predict(merged)
        except Exception:  # one bad job must not fail the others: answer each on its own
            for job in batch:
                self._answer_one(job)
            return
        start = 0
        for job in batch:
            job.result = probabilities[start : start + job.rows]
            start += job.rows
            job.done.set()

    def _answer_one(self, job: _Job) -> None:
        try:
            job.result = self._predict(job.columns)
        except Exception as error:
            job.error = error
        job.done.set()
