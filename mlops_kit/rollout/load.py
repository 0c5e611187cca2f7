"""A bounded load generator: real HTTP requests to a loopback URL at a set rate, stopping by itself.

    load = LoadGenerator(router.url, orders, rate_per_s=120, concurrency=8, duration_s=20).start()
    ...                       # the rollout runs meanwhile
    results = load.stop()     # a DataFrame, one row per request

It runs asyncio + httpx in a thread of its own (so it works from a notebook, whose event loop is busy)
and stops after ``duration_s`` of its schedule, after ``max_requests`` or on ``stop()``, whichever comes first
(a stalled sender moves its schedule on instead of sending a burst: ``MAX_LATE_S``). Each row:
``seq``, ``t`` (epoch seconds when sent), ``key``, ``status`` (None when no HTTP answer came),
``arm``, ``degraded``, ``latency_ms``, ``failed`` (a client-visible failure: no answer, a 5xx, or a
200 without a prediction) and ``error``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import pandas as pd

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
RESULT_COLUMNS = ("seq", "t", "key", "status", "arm", "degraded", "latency_ms", "failed", "error")
MAX_LATE_S = 0.05
"""A request due longer ago than this (the sender's process was busy, or every slot was taken) moves the
schedule on: the requests it missed are not sent in a burst afterwards, which would queue up in the model
services and show as a latency spike the canary analysis would judge."""


class LoadGenerator:
    """Sends ``orders`` (dicts, cycled) one per request to ``{url}/predict``; see the module docstring."""

    def __init__(
        self,
        url: str,
        orders: Sequence[dict[str, Any]],
        *,
        key: str,
        rate_per_s: float = 100.0,
        concurrency: int = 8,
        duration_s: float = 30.0,
        max_requests: int = 20_000,
        timeout_s: float = 10.0,
    ) -> None:
        host = urlsplit(url).hostname
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the load generator only targets loopback, got host {host!r} in {url!r}")
        if not orders:
            raise ValueError("give at least one order to send")
        if rate_per_s <= 0 or concurrency < 1 or duration_s <= 0 or max_requests < 1:
            raise ValueError("rate_per_s, duration_s must be positive; concurrency, max_requests at least 1")
        self.url = url.rstrip("/")
        self.bodies = [(str(order.get(key)), json.dumps(order, default=str)) for order in orders]
        self.rate, self.concurrency, self.duration = rate_per_s, concurrency, duration_s
        self.max_requests, self.timeout = max_requests, timeout_s
        self.rows: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LoadGenerator:
        """Start sending in a background thread; returns at once."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="load-generator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> pd.DataFrame:
        """Stop sending, wait for the requests in flight, return the results."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.results()

    def wait(self) -> pd.DataFrame:
        """Wait until the load stops by itself; the results."""
        if self._thread is not None:
            self._thread.join()
        return self.results()

    def results(self) -> pd.DataFrame:
        """One row per request sent so far, in sending order."""
        return pd.DataFrame(sorted(self.rows, key=lambda row: row["seq"]), columns=list(RESULT_COLUMNS))

    async def _one(self, client: httpx.AsyncClient, seq: int, key: str, body: str, slots: asyncio.Semaphore) -> None:
        sent = time.time()
        started = time.perf_counter()
        row: dict[str, Any] = {
            "seq": seq,
            "t": sent,
            "key": key,
            "status": None,
            "arm": None,
            "degraded": None,
            "error": None,
        }
        try:
            answer = await client.post(
                f"{self.url}/predict", content=body, headers={"Content-Type": "application/json"}
            )
            row["status"] = answer.status_code
            payload = answer.json()
            row["arm"], row["degraded"] = payload.get("arm"), payload.get("degraded")
            predicted = answer.status_code == 200 and bool(payload.get("predictions"))
            row["failed"] = answer.status_code >= 500 or (answer.status_code == 200 and not predicted)
        except (httpx.HTTPError, ValueError, AttributeError) as error:
            row["failed"], row["error"] = True, f"{type(error).__name__}: {error}"[:200]
        finally:
            row["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
            self.rows.append(row)
            slots.release()

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        tasks = set()
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
            began = time.perf_counter()
            for seq, (key, body) in zip(range(self.max_requests), itertools.cycle(self.bodies)):
                due = began + seq / self.rate
                if self._stop.is_set() or due - began >= self.duration:
                    break
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await slots.acquire()
                late = time.perf_counter() - due
                if late > MAX_LATE_S:  # the sender stalled: move the schedule on rather than send a burst
                    began += late
                task = asyncio.create_task(self._one(client, seq, key, body, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
