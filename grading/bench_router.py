"""Router benchmark for ``make bench``: what module 7's router adds above a direct call to the model service.

One model service (module 3's reference champion, built in a scratch folder) and one router in front of
it (no canary: every request goes to the stable arm), both real uvicorn processes on loopback. In each
round the same bounded load goes once straight to the service and once through the router, in
alternating order: module 7's load generator (``LoadGenerator``: asyncio + httpx, loopback only) sends
single orders at ``RATE_PER_S`` (the notebook's load) over up to ``CONNECTIONS`` connections for ``SECONDS``. The router's
overhead in a round is the difference of the two p50 latencies. A fixed rate below what the machine
serves measures the latency the extra hop adds; a closed loop at full speed would measure instead how
the router's CPU slows the service on a 2-core machine. Reported: every round, the medians, and the
issue's goal (under 2 ms p50 at 16 connections).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

CONNECTIONS = 16
RATE_PER_S = 60.0
SECONDS = 4.0
ROUNDS = 5
GOAL_OVERHEAD_MS = 2.0


def load_summary(results: Any) -> dict[str, Any]:
    """Requests, failures, p50 and p99 latency (ms) of one load's results."""
    latencies = results["latency_ms"]
    return {
        "requests": len(results),
        "failed": int(results["failed"].sum()),
        "p50_ms": round(float(latencies.quantile(0.5)), 3),
        "p99_ms": round(float(latencies.quantile(0.99)), 3),
    }


def router_overhead_benchmark(work: Path | None = None, rounds: int = ROUNDS) -> dict[str, Any]:
    """Direct vs routed p50 at ``CONNECTIONS`` connections, ``rounds`` alternating rounds (see the docstring)."""
    from mlops_kit.data import SHIPPED_DATA_DIR
    from mlops_kit.gates import evaluation_batch
    from mlops_kit.registry.reference import ensure_champion
    from mlops_kit.registry.tracking import connect
    from mlops_kit.rollout import LoadGenerator, RouterProcess, load_rollout_spec, orders_for_load, router_config
    from mlops_kit.serving import ServiceProcess

    scratch = Path(work or tempfile.mkdtemp(prefix="router-bench-"))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    champion = ensure_champion(scratch / "artifacts", SHIPPED_DATA_DIR, 0)
    tracking = connect(scratch / "artifacts")
    orders = orders_for_load(evaluation_batch(SHIPPED_DATA_DIR))
    analysis = {"interval_s": 2.0, "min_samples": 15, "max_error_rate_increase": 0.02, "max_p99_increase_ms": 100}
    spec = load_rollout_spec(
        {
            "model_name": champion.name,
            "sticky_key": "order_id",
            "steps": [25, 50],
            "analysis": {**analysis, "shift_alpha": 0.01, "min_shift": 0.05},
            "fallback": {"deadline_ms": 1000, "baseline": {"feature": "distance_km", "above": 10.0}},
        }
    )

    def measure(url: str, seconds: float) -> dict[str, Any]:
        load = LoadGenerator(
            url, orders, key="order_id", rate_per_s=RATE_PER_S, concurrency=CONNECTIONS, duration_s=seconds
        )
        return load_summary(load.start().wait())

    result: dict[str, Any] = {
        "model": {"name": champion.name, "version": champion.version},
        "connections": CONNECTIONS,
        "rate_per_s": RATE_PER_S,
        "seconds_per_load": SECONDS,
        "rounds": [],
    }
    with ServiceProcess.start(tracking.uri, champion.name, version=champion.version, timeout=300) as service:
        config = router_config(spec, service.url, None)
        with RouterProcess.start_router(config, timeout=300, log_path=scratch / "router.log") as router:
            targets = {"direct": service.url, "router": router.url}
            for url in targets.values():
                measure(url, 1.0)  # warm: connections, caches
            for number in range(rounds):
                order = ("direct", "router") if number % 2 == 0 else ("router", "direct")
                measured: dict[str, Any] = {name: measure(targets[name], SECONDS) for name in order}
                measured["overhead_p50_ms"] = round(measured["router"]["p50_ms"] - measured["direct"]["p50_ms"], 3)
                result["rounds"].append(measured)
    done = result["rounds"]
    overhead = round(statistics.median(entry["overhead_p50_ms"] for entry in done), 3)
    result["median"] = {
        "direct_p50_ms": statistics.median(entry["direct"]["p50_ms"] for entry in done),
        "router_p50_ms": statistics.median(entry["router"]["p50_ms"] for entry in done),
        "overhead_p50_ms": overhead,
        "failed": sum(entry[name]["failed"] for entry in done for name in targets),
    }
    result["goal"] = {"overhead_p50_ms": overhead, "goal": GOAL_OVERHEAD_MS, "met": overhead < GOAL_OVERHEAD_MS}
    return result


if __name__ == "__main__":
    print(json.dumps(router_overhead_benchmark(), indent=2))
