"""Evidently in a worker process: imported while the notebook does other work, reports computed there.

Importing evidently takes seconds, and a report holds the interpreter while it builds its widgets.
A ``DriftWorker`` started early imports evidently in a process of its own while the caller goes on
with the registry, the data and the service; ``submit`` runs ``drift.drift_report`` there and
returns a future of its summary. The reports are the very ``drift_report`` calls made in-process:
same files, same summaries.

On Linux the worker is forked: it starts with everything the caller already imported (pandas,
scikit-learn, scipy: a spawned interpreter would import them again, seconds of CPU) and exits
at once (``os._exit``, no interpreter teardown). Create it after those imports and before starting
threads of your own. Elsewhere (macOS, Windows) it is spawned.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

import mlops_kit.monitoring.drift as drift


def _warm_up() -> None:
    """Import evidently (and the metric the reports use) in the worker."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    import evidently.metrics  # noqa: F401  (the import is the point: it takes seconds)


class DriftWorker:
    """Drift reports computed in ``processes`` worker processes; evidently is imported there from the start."""

    def __init__(self, processes: int = 1) -> None:
        method = "fork" if sys.platform == "linux" else "spawn"
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context(method))
        self._warm = [self._pool.submit(_warm_up) for _ in range(processes)]

    def submit(
        self, reference: pd.DataFrame, current: pd.DataFrame, window: str, out_dir: str | Path, **options: Any
    ) -> Future:
        """A future of ``drift_report(reference, current, window, out_dir, **options)`` run in the worker."""
        return self._pool.submit(drift.drift_report, reference, current, window, out_dir, **options)

    def reports(
        self, reference: pd.DataFrame, windows: Mapping[str, pd.DataFrame], out_dir: str | Path
    ) -> dict[str, dict[str, Any]]:
        """``{window: summary}`` of every window against ``reference`` (in the order given); re-raises a failure."""
        futures = {window: self.submit(reference, current, window, out_dir) for window, current in windows.items()}
        return {window: future.result() for window, future in futures.items()}

    def close(self, wait: bool = True) -> None:
        """Stop the worker processes (pending reports are cancelled).

        ``wait=False`` lets the worker exit while the caller goes on (it is joined at interpreter exit).
        """
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> DriftWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
