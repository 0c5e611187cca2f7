"""One rollout scenario end to end: a router in front of two running services, load, the rollout, records.

    run = run_scenario("good", spec, stable=stable, canary=canary, tracking=tracking, stable_version="1",
                       canary_version="4", orders=orders, out_dir=OUT)
    run.result.outcome, run.load, run.router_counts

The router starts (a real process), the load generator sends ``orders`` through it while
``run_rollout`` runs, keeps sending ``tail_s`` after the rollout ended (what clients saw after a
rollback or promotion), then stops (it starts ``warm_up_s`` before the rollout); the router's records and counts are read, the router stopped.
Written to ``out_dir``: ``load_<name>.csv`` (one row per client request), ``calls_<name>.csv`` (one row
per upstream call), ``router_<name>.json`` (the router's own counts), beside the event log and the
decision records of ``run_rollout``. ``during`` (optional) is called with the router once the load
runs, in a thread of its own: the test of a canary killed mid-rollout uses it.
"""

from __future__ import annotations

import atexit
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlops_kit.features import load_feature_dictionary
from mlops_kit.io import atomic_write_json, atomic_write_text
from mlops_kit.rollout.controller import RolloutResult, run_rollout
from mlops_kit.rollout.load import LoadGenerator
from mlops_kit.rollout.process import RouterProcess
from mlops_kit.rollout.router import RouterConfig
from mlops_kit.rollout.spec import RolloutSpec
from mlops_kit.serving.faults import Fault
from mlops_kit.serving.process import ServiceProcess

if TYPE_CHECKING:
    from mlops_kit.registry.tracking import Tracking


@dataclass
class ScenarioRun:
    """What one scenario left: the rollout's result, the client-side load results, the router's records."""

    name: str
    result: RolloutResult
    load: pd.DataFrame
    calls: pd.DataFrame
    router_counts: dict[str, Any]

    @property
    def client_failures(self) -> int:
        """Requests whose client saw a failure (no answer, a 5xx, a 200 without a prediction)."""
        return int(self.load["failed"].sum())


def start_services(
    tracking_uri: str, model_name: str, plan: Mapping[str, tuple[str, Fault | None]], timeout: float = 300.0
) -> dict[str, ServiceProcess]:
    """Start one service per ``name: (version, fault)`` at once; each is also stopped at interpreter exit.

    If one fails to start, the others are stopped and the error is raised.
    """
    with ThreadPoolExecutor(max(1, len(plan))) as pool:
        futures = {
            name: pool.submit(
                ServiceProcess.start, tracking_uri, model_name, version=version, fault=fault, timeout=timeout
            )
            for name, (version, fault) in plan.items()
        }
    started, errors = {}, []
    for name, future in futures.items():
        try:
            started[name] = future.result()
            atexit.register(started[name].stop)
        except Exception as error:  # noqa: BLE001 (reported below, after the others are stopped)
            errors.append(error)
    if errors:
        stop_services(started)
        raise errors[0]
    return started


def stop_services(services: Mapping[str, ServiceProcess]) -> dict[str, bool]:
    """Stop every service; name -> whether its process is still running (always False)."""
    for service in services.values():
        service.stop()
    return {name: service.running() for name, service in services.items()}


RECORD_PATTERNS = ("events.jsonl", "decisions/*.json", "load_*.csv", "calls_*.csv", "router_*.json", "router_*.log")
"""The files scenarios write into ``out_dir`` (``clear_records`` removes them before a new run)."""


def clear_records(out_dir: str | Path) -> int:
    """Remove an earlier run's scenario records from ``out_dir`` (the event log is append-only within a run)."""
    removed = 0
    for pattern in RECORD_PATTERNS:
        for path in Path(out_dir).glob(pattern):
            path.unlink()
            removed += 1
    return removed


def router_config(spec: RolloutSpec, stable_url: str, canary_url: str | None, weight: float = 0) -> RouterConfig:
    """The router's config from the rollout spec (field names from the feature dictionary)."""
    dictionary = load_feature_dictionary()
    return RouterConfig(
        stable_url=stable_url,
        canary_url=canary_url,
        weight=weight,
        sticky_key=spec.sticky_key,
        deadline_ms=spec.fallback.deadline_ms,
        stable_deadline_ms=spec.fallback.stable_deadline_ms,
        baseline=spec.fallback.baseline,
        key_field=dictionary.key.name,
        prediction_field=dictionary.prediction.name,
        label_field=dictionary.label.name,
    )


def orders_for_load(batch: pd.DataFrame) -> list[dict[str, Any]]:
    """Raw orders (key and inputs, times as ISO strings) as the dicts a client sends."""
    from mlops_kit.serving.process import orders_json

    dictionary = load_feature_dictionary()
    return json.loads(orders_json(batch[[dictionary.key.name, *dictionary.input_names]]))


def load_bound_s(spec: RolloutSpec, tail_s: float) -> float:
    """The longest a rollout of ``spec`` can take (every step held to its limits), plus the tail: the load's cap."""
    analysis = spec.analysis
    per_step = (analysis.failure_limit + analysis.inconclusive_limit) * (analysis.interval_s + 1.0)
    return len(spec.steps) * per_step + tail_s + 10.0


def run_scenario(
    name: str,
    spec: RolloutSpec,
    *,
    stable: ServiceProcess,
    canary: ServiceProcess,
    tracking: Tracking,
    stable_version: str,
    canary_version: str,
    orders: Sequence[dict[str, Any]],
    out_dir: str | Path,
    rate_per_s: float = 100.0,
    concurrency: int = 16,
    tail_s: float = 0.3,
    warm_up_s: float = 0.3,
    audit_log: str | Path | None = None,
    during: Callable[[RouterProcess], None] | None = None,
) -> ScenarioRun:
    """Run one scenario (see the module docstring); the router is stopped whatever happens."""
    out = Path(out_dir)
    router = RouterProcess.start_router(
        router_config(spec, stable.url, canary.url), log_path=out / f"router_{name}.log"
    )
    try:
        load = LoadGenerator(
            router.url,
            orders,
            key=spec.sticky_key,
            rate_per_s=rate_per_s,
            concurrency=concurrency,
            duration_s=load_bound_s(spec, tail_s),
        ).start()
        helper = threading.Thread(target=during, args=(router,), daemon=True) if during else None
        try:
            threading.Event().wait(warm_up_s)  # the first interval judges traffic, not the router's start
            if helper:
                helper.start()
            result = run_rollout(
                spec,
                router,
                stable=stable,
                canary=canary,
                tracking=tracking,
                stable_version=stable_version,
                canary_version=canary_version,
                out_dir=out,
                name=name,
                audit_log=audit_log,
            )
            threading.Event().wait(tail_s)
        finally:
            results = load.stop()
            if helper:
                helper.join()
        observed = router.observations()
        counts = router.state()["counts"]
    finally:
        router.stop()
    calls = pd.DataFrame(observed["calls"])
    atomic_write_text(out / f"load_{name}.csv", results.to_csv(index=False))
    atomic_write_text(out / f"calls_{name}.csv", calls.to_csv(index=False))
    router_record = {
        "counts": counts,
        "answers": len(observed["answers"]),
        "pid": router.pid,
        "running": router.running(),
    }
    atomic_write_json(out / f"router_{name}.json", router_record)
    return ScenarioRun(name, result, results, calls, counts)
