"""Start something slow (a service process) in a thread of its own, so the caller goes on meanwhile.

A service takes seconds to import its libraries and load its model, in its own process: the
notebook has work of its own for those seconds (the data, the model in-process). ``start_in_background``
returns a future at once; ``future.result()`` waits for the start (and re-raises its error).
What was started is also stopped at interpreter exit, so a notebook that fails before its own
``stop`` leaves nothing running.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def start_in_background(start: Callable[[], T], stop: Callable[[T], Any]) -> Future:
    """Call ``start()`` in a new thread; ``stop(started)`` is registered to run at exit once it has started."""

    def started() -> T:
        value = start()
        atexit.register(stop, value)
        return value

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="start-in-background")
    try:
        return pool.submit(started)
    finally:
        pool.shutdown(wait=False)
