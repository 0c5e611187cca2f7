"""Self-checks for module 7 (rollback & fault tolerance). Feedback only: grades come from artifacts.

The truth is computed from the data each check is given, with the course's reference rules
(``mlops_kit.rollout.reference``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from grading.selfcheck import NotDone, self_check


@self_check("Exercise 1")
def exercise_1(rollout: Any) -> str:
    """Does the spec's skeleton follow the team's rules, and does it validate?"""
    from mlops_kit.rollout import RolloutSpecError, load_rollout_spec
    from mlops_kit.rollout.reference import GIVEN_THRESHOLDS, reference_rollout

    if rollout is None:
        raise NotDone("ROLLOUT is None; write the steps and the analysis")
    assert isinstance(rollout, Mapping), f"ROLLOUT is a dict (YAML in a repository), not {type(rollout).__name__}"
    expected = reference_rollout(str(rollout.get("model_name")))
    assert rollout.get("steps") == expected["steps"], (
        f"steps: the canary takes 25, then 50 percent; got {rollout.get('steps')!r}"
    )
    analysis = rollout.get("analysis") or {}
    wrong = {key: analysis.get(key) for key, value in expected["analysis"].items() if analysis.get(key) != value}
    assert not wrong, f"analysis fields not as the team's rules say: {wrong}"
    assert rollout.get("sticky_key") == expected["sticky_key"], (
        "split by the order key, 'order_id', so an order never flips arms"
    )
    trial = {
        **rollout,
        "analysis": {**GIVEN_THRESHOLDS, "max_p99_increase_ms": 80, "min_shift": 0.05, **analysis},
        "fallback": {"deadline_ms": 500, "baseline": {"feature": "distance_km", "above": 5.0}},
    }
    try:
        load_rollout_spec(trial)
    except RolloutSpecError as error:
        raise AssertionError(f"the spec does not validate: {error}") from None
    return "steps, interval, sample floor and limits as declared; the spec validates"


@self_check("Exercise 2")
def exercise_2(min_shift: Any, max_p99: Any, offline: float, aa_latencies: np.ndarray) -> str:
    """Do the thresholds follow the rules applied to the evidence?"""
    from mlops_kit.rollout.reference import reference_thresholds

    if min_shift is None or max_p99 is None:
        raise NotDone("set MIN_SHIFT and MAX_P99_INCREASE_MS")
    for name, value in (("MIN_SHIFT", min_shift), ("MAX_P99_INCREASE_MS", max_p99)):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{name} must be a number"
    expected = reference_thresholds(offline, aa_latencies)
    assert math.isclose(min_shift, expected["min_shift"], abs_tol=1e-9), (
        "MIN_SHIFT: 3 × the size of the good retrain's offline shift, rounded up to 2 decimals, at least 0.05"
    )
    assert math.isclose(max_p99, expected["max_p99_increase_ms"], abs_tol=1e-9), (
        "MAX_P99_INCREASE_MS: twice the A/A spread p99 − p50, rounded up to a whole ms, at least 50, at most 100 (the SLO)"
    )
    return f"prediction floor {min_shift:g} (a sound retrain moves {abs(offline):.2f}); p99 budget +{max_p99:g} ms"


@self_check("Exercise 3")
def exercise_3(
    fallback: Any, best_threshold: Callable[[pd.DataFrame], Any], batch: pd.DataFrame, aa_latencies: np.ndarray
) -> str:
    """Is the deadline derived from the measurement, and does the baseline rule use the best threshold?"""
    from mlops_kit.rollout.reference import reference_fallback

    if fallback is None:
        raise NotDone("FALLBACK is None; declare the deadline and the baseline rule")
    threshold = best_threshold(batch)
    if threshold is None:
        raise NotDone("best_threshold returns None")
    expected = reference_fallback(batch, aa_latencies)
    above = expected["baseline"]["above"]
    assert math.isclose(float(threshold), above), (
        f"best_threshold should pick the candidate threshold with the highest accuracy (rule_accuracy); got {threshold}"
    )
    assert fallback.get("deadline_ms") == expected["deadline_ms"], (
        "deadline_ms: 4 × the A/A p99, rounded up to a multiple of 50 ms, between 600 and 1000"
    )
    baseline = fallback.get("baseline") or {}
    assert baseline.get("feature") == "distance_km" and math.isclose(float(baseline.get("above", -1)), above), (
        "the baseline rule is late when distance_km is above best_threshold(batch)"
    )
    return f"deadline {expected['deadline_ms']} ms; baseline: late above {above:g} km"


@self_check("Exercise 4")
def exercise_4(read_rollback: Callable[..., Any], events: list[dict[str, Any]], load: pd.DataFrame) -> str:
    """Does the reading match the event log and the load results?"""
    from mlops_kit.rollout.reference import reference_reading

    if not any(event["event"] == "rollback" for event in events):
        raise NotDone("no rollback in these events: run the faulty rollout first")
    reading = read_rollback(events, load)
    if reading is None:
        raise NotDone("read_rollback returns None")
    expected = reference_reading(events, load)
    assert reading.get("weight") == expected["weight"], "weight: the canary's weight at the analysis that failed last"
    assert sorted(reading.get("failed_metrics") or []) == sorted(expected["failed_metrics"]), (
        "failed_metrics: the metrics that failed, from the rollback event"
    )
    assert math.isclose(
        float(reading.get("seconds_to_weight_zero", -1)), expected["seconds_to_weight_zero"], abs_tol=1e-3
    ), "seconds_to_weight_zero: from first_breach_t to weight_zero_t"
    assert reading.get("requests_to_weight_zero") == expected["requests_to_weight_zero"], (
        "requests_to_weight_zero: requests the load generator sent between the first breach and weight 0 (inclusive)"
    )
    assert reading.get("answered_by_canary") == expected["answered_by_canary"], (
        "answered_by_canary: of those requests, how many the canary answered"
    )
    return "the rollback, read right from the event log and the load results"
