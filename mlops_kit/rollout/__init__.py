"""Module 7, rollback & fault tolerance: a canary rollout with automated analysis, rollback and fallback.

Typical use::

    spec = load_rollout_spec("rollout.yaml")                          # steps, analysis, fallback
    run = run_scenario("good", spec, stable=stable, canary=canary, tracking=tracking,
                       stable_version="1", canary_version="4", orders=orders, out_dir=OUT)
    run.result.outcome                                                # promoted | rolled_back
    rollout_picture(read_events(OUT / "events.jsonl"), run.result.decisions)

One job per file: ``spec`` (the declared rollout), ``sticky`` (the symmetric split), ``baseline`` (the
rule-based last resort), ``router`` (the Starlette router app), ``process`` (the router as a real
uvicorn process), ``analysis`` (automated canary analysis of one interval), ``events`` (the JSONL event
log), ``controller`` (steps, rollback, promotion), ``load`` (the bounded load generator), ``scenario``
(one scenario end to end), ``evidence`` (what the thresholds are set from), ``plots`` and ``reference`` (where module 7 starts; the reference spec).
The planted faults themselves are the services' (``mlops_kit.serving.faults``).

Names are imported lazily: the router process (``python -m mlops_kit.rollout``) loads only what it
serves with, never scikit-learn or mlflow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AnalysisSpec": "spec",
    "FallbackSpec": "spec",
    "RolloutSpec": "spec",
    "RolloutSpecError": "spec",
    "load_rollout_spec": "spec",
    "write_rollout_spec": "spec",
    "BaselineRule": "baseline",
    "bucket": "sticky",
    "routes_to_canary": "sticky",
    "RouterConfig": "router",
    "create_router": "router",
    "RouterProcess": "process",
    "prestart_processes": "process",
    "Decision": "analysis",
    "MetricResult": "analysis",
    "analyze_interval": "analysis",
    "hodges_lehmann": "analysis",
    "EventLog": "events",
    "read_events": "events",
    "RolloutResult": "controller",
    "run_rollout": "controller",
    "LoadGenerator": "load",
    "ScenarioRun": "scenario",
    "orders_for_load": "scenario",
    "router_config": "scenario",
    "run_scenario": "scenario",
    "rollout_picture": "plots",
    "latency_sample": "evidence",
    "offline_shift": "evidence",
    "rule_accuracy": "evidence",
    "start_services": "scenario",
    "clear_records": "scenario",
    "stop_services": "scenario",
    "read_canary_release": "reference",
    "start_rollout_registry": "reference",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mlops_kit.rollout' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mlops_kit.rollout.{_EXPORTS[name]}"), name)
