"""Where module 7 starts, and the course's reference answers to its exercises.

``start_rollout_registry`` gives a champion (module 3's, or whoever holds ``champion`` when it was
trained on this data) and registers two challengers: ``canary_good`` (the routine retrain) and
``canary_faulty`` (the same model, to be served with the variant's planted fault); with ``serve_champion``
the champion's service starts in the background as soon as the champion is known, while the challengers
are trained and registered (``cast.stable_service.result()`` waits for it). When an earlier run
of module 7 left its challengers behind, module 3's reference rebuilds the registry first, so the
notebook gives the same result every time. ``reference_*`` answer the notebook's exercises (the
self-checks compute their truth with them; an exercise that calls them earns nothing).
"""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_kit.scenarios import CANARY_RELEASE_FILE
from mlops_kit.serving.faults import Fault

MODULE7_CANDIDATES = ("canary_good", "canary_faulty")
"""Candidate names of the versions module 7 registers (the ``candidate`` tag)."""


class CanaryReleaseMissing(FileNotFoundError):
    """The data folder holds no canary release (data generated before module 7, or the wrong folder)."""


def read_canary_release(data_dir: str | Path) -> Fault:
    """The faulty challenger's fault, as shipped with the variant's data (``canary_release.json``)."""
    path = Path(data_dir) / CANARY_RELEASE_FILE
    if not path.is_file():
        raise CanaryReleaseMissing(f"{path} is missing: regenerate the data with python -m mlops_kit.datagen")
    return Fault.model_validate(json.loads(path.read_text(encoding="utf-8"))["canary_fault"])


@dataclass(frozen=True)
class RolloutRegistry:
    """The registry module 7 rolls out from: the champion and the two challengers' versions."""

    tracking: Any
    champion: str
    good: str
    faulty: str
    stable_service: Future | None = None
    """The champion's service starting in the background (``serve_champion``); ``.result()`` waits until ready."""


def start_rollout_registry(
    artifacts_dir: str | Path,
    data_dir: str | Path,
    variant: int,
    model_name: str = "late-delivery",
    serve_champion: bool = False,
) -> RolloutRegistry:
    """A usable champion plus the two module-7 challengers, registered with lineage and a model card
    (with ``serve_champion``, the champion's service starting meanwhile: see the module docstring)."""
    from mlops_kit.gates.challengers import retrained_challenger
    from mlops_kit.monitoring.background import start_in_background
    from mlops_kit.pipeline import ensure_feature_set
    from mlops_kit.registry import connect, list_versions, load_model, log_candidate
    from mlops_kit.registry.reference import ensure_champion, reference_card, reference_lineage, run_reference

    champion = ensure_champion(artifacts_dir, data_dir, variant, model_name)
    tracking = connect(artifacts_dir)
    if any(v.tags.get("candidate") in MODULE7_CANDIDATES for v in list_versions(tracking, model_name)):
        champion = run_reference(artifacts_dir, data_dir, variant, model_name)
    stable = None
    if serve_champion:
        from mlops_kit.serving.process import ServiceProcess

        version = str(champion.version)
        stable = start_in_background(
            lambda: ServiceProcess.start(tracking.uri, model_name, version=version, timeout=300.0), ServiceProcess.stop
        )
    feature_set = ensure_feature_set(artifacts_dir, data_dir, variant)
    lineage = reference_lineage(feature_set)
    retrain = retrained_challenger(feature_set, load_model(tracking, model_name, version=champion.version))
    inputs = feature_set.valid.drop(columns=["is_late"])
    versions = []
    for name in MODULE7_CANDIDATES:
        candidate = dataclasses.replace(retrain, name=name)
        registered = log_candidate(
            tracking,
            candidate,
            model_name=model_name,
            lineage=lineage,
            card=reference_card(candidate, lineage, model_name),
            input_example=inputs,
        )
        versions.append(str(registered.version))
    return RolloutRegistry(tracking, str(champion.version), *versions, stable_service=stable)


REFERENCE_STEPS = [25, 50]
REFERENCE_ANALYSIS = {"interval_s": 2.0, "min_samples": 15, "failure_limit": 2, "inconclusive_limit": 5}
GIVEN_THRESHOLDS = {"max_error_rate_increase": 0.02, "shift_alpha": 0.01}
"""Thresholds the notebook gives (the exercises set the others from evidence)."""


def reference_rollout(model_name: str, key: str = "order_id") -> dict[str, Any]:
    """Exercise 1: the spec's skeleton (steps and analysis)."""
    return {
        "model_name": model_name,
        "sticky_key": key,
        "steps": list(REFERENCE_STEPS),
        "analysis": dict(REFERENCE_ANALYSIS),
    }


def reference_thresholds(offline: float, aa_latencies: Any) -> dict[str, float]:
    """Exercise 2: the prediction floor and the p99 budget from the evidence."""
    import math

    import numpy as np

    spread = float(np.percentile(aa_latencies, 99) - np.percentile(aa_latencies, 50))
    return {
        "min_shift": max(0.05, math.ceil(3 * abs(offline) * 100) / 100),
        "max_p99_increase_ms": min(100, max(50, math.ceil(2 * spread))),
    }


def reference_fallback(batch: Any, aa_latencies: Any) -> dict[str, Any]:
    """Exercise 3: the deadline from the A/A p99, the baseline at the most accurate distance threshold."""
    import math

    import numpy as np

    from mlops_kit.rollout.evidence import rule_accuracy

    p99 = float(np.percentile(aa_latencies, 99))
    above = float(rule_accuracy(batch, "distance_km").idxmax())
    return {
        "deadline_ms": min(1000, max(600, math.ceil(4 * p99 / 50) * 50)),
        "baseline": {"feature": "distance_km", "above": above},
    }


def reference_reading(events: list[dict[str, Any]], load: Any) -> dict[str, Any]:
    """Exercise 4: when and why the rollback happened, from the event log and the load results."""
    rollback = next(event for event in events if event["event"] == "rollback")
    failed = [event for event in events if event["event"] == "analysis" and event["verdict"] == "fail"]
    start, end = rollback["first_breach_t"], rollback["weight_zero_t"]
    sent = load[load["t"].between(start, end)]
    return {
        "weight": failed[-1]["weight"],
        "failed_metrics": rollback["failed_metrics"],
        "seconds_to_weight_zero": end - start,
        "requests_to_weight_zero": len(sent),
        "answered_by_canary": int((sent["arm"] == "canary").sum()),
    }
