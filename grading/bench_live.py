"""Module 5 and 6 measurements against a live service, for ``make bench`` (medians, bounded loopback loads).

- ``prediction_log``: the logging overhead per request. In-process, the service's own logging
  step for one single-row request (the validated order dumped to JSON, ``PredictionLogWriter.write``),
  p50 over many requests; over HTTP, the p50 of single-row requests to two services of the same
  version, one with the log on and one without, measured in alternating rounds (goal: overhead
  under 0.5 ms at p50).
- ``parity_live``: module 6's check over the whole shipped reference period against a service
  with ``/features`` on: ``compare_sides`` (offline side in-process, served side over HTTP) and
  ``parity_checks``; the HTTP time is measured apart, the rest must stay under 2 s.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import httpx

LOG_GOAL_MS = 0.5
PARITY_GOAL_S = 2.0
REQUESTS_PER_ROUND = 200
WRITES = 1000


def _p50_ms(url: str, bodies: list[bytes], requests: int) -> float:
    """p50 latency (ms) of ``requests`` sequential single-row POSTs on one keep-alive connection."""
    latencies = []
    with httpx.Client(timeout=30.0) as client:
        for number in range(requests):
            started = time.perf_counter()
            answer = client.post(
                url, content=bodies[number % len(bodies)], headers={"Content-Type": "application/json"}
            )
            latencies.append(time.perf_counter() - started)
            answer.raise_for_status()
    return statistics.median(latencies) * 1000


def log_write_p50_ms(orders: list[dict[str, Any]], folder: Path, version: str) -> float:
    """p50 (ms) of the service's logging step for one single-row request: validated order -> JSON line."""
    from mlops_kit.serving.predlog import PredictionLogWriter
    from mlops_kit.serving.schemas import orders_adapter

    validated = orders_adapter().validate_python(orders)
    writer = PredictionLogWriter(folder, version)
    times = []
    try:
        for number in range(WRITES):
            order = validated[number % len(validated)]
            started = time.perf_counter()
            writer.write(f"r{number}", [order.model_dump(mode="json")], [0.3], [0], 1.0, "order_id")
            times.append(time.perf_counter() - started)
    finally:
        writer.close()
    return statistics.median(times) * 1000


def live_runs(runs: int, work: Path) -> dict[str, Any]:
    """Both measurements on a registry built by module 3's reference in ``work`` (see the module docstring)."""
    import pandas as pd

    from mlops_kit.consistency import compare_sides, parity_checks
    from mlops_kit.consistency.live import serving_side
    from mlops_kit.data import SHIPPED_DATA_DIR
    from mlops_kit.pipeline import ensure_feature_set
    from mlops_kit.registry import connect, load_model
    from mlops_kit.registry.reference import ensure_champion
    from mlops_kit.serving import ServiceProcess, orders_json

    artifacts = work / "artifacts"
    champion = ensure_champion(artifacts, SHIPPED_DATA_DIR, 0)
    tracking = connect(artifacts)
    features = ensure_feature_set(artifacts, SHIPPED_DATA_DIR, 0)
    dictionary = features.dictionary
    orders = pd.concat([features.train, features.valid])[[dictionary.key.name, *dictionary.input_names]]
    orders = orders.reset_index(drop=True)
    singles = [orders_json(orders.iloc[[i]]).encode() for i in range(200)]
    write_ms = log_write_p50_ms(
        [dict(row) for row in orders.head(200).to_dict(orient="records")], work / "log", champion.version
    )
    start = {"timeout": 300, "version": champion.version}
    with (
        ServiceProcess.start(
            tracking.uri, champion.name, prediction_log_dir=str(work / "service-log"), **start
        ) as logged,
        ServiceProcess.start(tracking.uri, champion.name, debug_features=True, **start) as plain,
    ):
        with_log, without_log = [], []
        for url in (logged.url, plain.url):
            _p50_ms(f"{url}/predict", singles, 50)  # warm-up
        for _ in range(runs):
            with_log.append(_p50_ms(f"{logged.url}/predict", singles, REQUESTS_PER_ROUND))
            without_log.append(_p50_ms(f"{plain.url}/predict", singles, REQUESTS_PER_ROUND))
        model = load_model(tracking, champion.name, version=champion.version)
        totals, http = [], []
        for _ in range(runs):
            started = time.perf_counter()
            sides = compare_sides(model, plain.url, orders, dictionary)
            parity_checks(sides, dictionary, 0.5)
            totals.append(time.perf_counter() - started)
            started = time.perf_counter()
            serving_side(plain.url, orders, dictionary)
            http.append(time.perf_counter() - started)
    overhead = statistics.median(with_log) - statistics.median(without_log)
    besides_http = statistics.median(totals) - statistics.median(http)
    return {
        "prediction_log": {
            "write_p50_ms": round(write_ms, 4),
            "service_p50_ms_with_log": [round(value, 3) for value in with_log],
            "service_p50_ms_without_log": [round(value, 3) for value in without_log],
            "overhead_p50_ms": round(overhead, 3),
            "goal_ms": LOG_GOAL_MS,
            "met": write_ms < LOG_GOAL_MS and overhead < LOG_GOAL_MS,
        },
        "parity_live": {
            "rows": len(orders),
            "total_s": [round(value, 3) for value in totals],
            "http_s": [round(value, 3) for value in http],
            "besides_http_s": round(besides_http, 3),
            "goal_s": PARITY_GOAL_S,
            "met": besides_http < PARITY_GOAL_S,
        },
    }
