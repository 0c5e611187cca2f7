"""Self-checks for module 4 (CI/CD gates & auto-deploy). Feedback only: grades come from artifacts."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from grading.selfcheck import NotDone, self_check

CASES = 60
LATENCY_FACTOR = 5
"""Exercise 2: the latency budget is this many times the champion's single-row p95, rounded up."""


@self_check("Exercise 1")
def exercise_1(test: Any, model: Any, batch: Any) -> str:
    """Is it a directional test that lengthens the trip only, and does a sound model pass it?"""
    from mlops_kit.gates import Directional, GateSpec, behaviour_cases, changed_columns

    if test is None:
        raise NotDone("DISTANCE_TEST is None; declare a Directional test")
    assert isinstance(test, Directional), f"an expected direction is a Directional test, not {type(test).__name__}"
    assert test.name == "dir_longer_trip", (
        f"call it 'dir_longer_trip' (got {test.name!r}): the grader looks it up by name"
    )
    assert test.direction == "up", "a longer trip should push P(late) up: direction='up'"
    rows = behaviour_cases(batch, CASES, seed=1)
    after = test.perturb(rows.copy())
    changed = changed_columns(rows, after)
    assert changed == ["distance_km"], f"the perturbation must change distance_km only; it changed {changed}"
    added = (after["distance_km"] - rows["distance_km"]).to_numpy()
    assert np.allclose(added, 3.0), f"add 3 km to every row; the rows gained {sorted(set(np.round(added, 2)))[:3]} km"
    result = test.run(model, rows, GateSpec())
    assert result.passed, f"the champion fails your test, which a sound model should pass: {result.message}"
    return f"a sound model passes it on {CASES} cases: {result.message}"


@self_check("Exercise 2")
def exercise_2(
    tolerance: Any, floor: Any, budget: Any, spread: np.ndarray, baseline: float, champion_p95: float
) -> str:
    """Do the thresholds follow the team's rules applied to the evidence above?"""
    if tolerance is None or floor is None or budget is None:
        raise NotDone("set TOLERANCE, FLOOR and LATENCY_BUDGET_MS")
    for name, value in (("TOLERANCE", tolerance), ("FLOOR", floor), ("LATENCY_BUDGET_MS", budget)):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{name} must be a number"
    assert math.isclose(tolerance, 2 * float(np.std(spread)), abs_tol=6e-4), (
        "TOLERANCE is not twice the bootstrap spread: compute it from auc_spread, rounded to 3 decimals"
    )
    assert math.isclose(floor, float(baseline), abs_tol=6e-4), (
        "FLOOR should be what ranking by distance alone achieves on this batch (baseline_auc), rounded to 3 decimals"
    )
    assert float(budget).is_integer(), "round the latency budget up to a whole millisecond (math.ceil)"
    assert LATENCY_FACTOR * champion_p95 <= budget < LATENCY_FACTOR * champion_p95 + 1, (
        f"LATENCY_BUDGET_MS should be {LATENCY_FACTOR} × the champion's p95 (champion_p95), rounded up"
    )
    return "tolerance from the noise, floor from a baseline, budget from a measurement"


@self_check("Exercise 3")
def exercise_3(blocking_checks: Callable[[Any], Any], metric_shortfall: Callable[[Any], Any], decision: Any) -> str:
    """Do the functions name exactly the blocking checks, in order, and measure the metric's shortfall?"""
    from dataclasses import replace

    if decision is None:
        raise NotDone("run the gate first (exercise 2)")
    _check_shortfall(metric_shortfall, decision)
    names = blocking_checks(decision)
    if not names:
        raise NotDone("blocking_checks returns nothing, but this challenger was blocked")
    assert isinstance(names, list), f"return a list of check names, not {type(names).__name__}"
    passed = [name for name in names if any(c.name == name and c.passed for c in decision.checks)]
    assert not passed, f"{passed} passed: a check blocks only when it did not pass"
    expected = [check.name for check in decision.checks if not check.passed]
    assert sorted(names) == sorted(expected), (
        f"{len(expected) - len(set(names) & set(expected))} blocking checks are missing: look at every check's "
        "status (a skipped check blocks too)"
    )
    assert names == expected, "list them in the decision's order"
    # The function must read the decision, not return names seen here: try it on a changed decision.
    first = decision.checks[0]
    flipped = replace(decision, checks=(replace(first, passed=not first.passed, status=""), *decision.checks[1:]))
    again = blocking_checks(flipped)
    assert again == [c.name for c in flipped.checks if not c.passed], (
        "your function must read the decision it is given (its checks), not return a fixed list"
    )
    return f"blocked by {', '.join(names)}: read each message above to see why"


def _check_shortfall(metric_shortfall: Callable[[Any], Any], decision: Any) -> None:
    """The shortfall must be read from the decision's metric check (tried on changed copies too)."""
    from dataclasses import replace

    found = metric_shortfall(decision)
    if found is None:
        raise NotDone("metric_shortfall returns None; return a number")
    assert isinstance(found, (int, float)) and not isinstance(found, bool), "metric_shortfall returns a number"
    check = decision.check("metric_regression")
    for value, threshold in ((check.value, check.threshold), (0.55, 0.6512), (0.7, 0.65)):
        probe = replace(check, value=value, threshold=threshold, passed=value >= threshold, status="")
        changed = replace(decision, checks=tuple(probe if c.name == check.name else c for c in decision.checks))
        expected = round(max(0.0, threshold - value), 4)
        got = metric_shortfall(changed)
        assert got is not None and math.isclose(got, expected, abs_tol=1e-4), (
            f"for a metric check with value {value:.4f} and threshold {threshold:.4f} metric_shortfall gives {got}; "
            "it is threshold − value, never below 0, read from the decision it is given"
        )


@self_check("Exercise 4")
def exercise_4(spec: Any, good_version: str, gate_spec: Any) -> str:
    """Is the deploy spec valid, and does it deploy the good challenger with your gate?"""
    from mlops_kit.deploy import DeploySpecError, load_deploy_spec

    if spec is None:
        raise NotDone("DEPLOY_SPEC is None; write the dict")
    assert isinstance(spec, Mapping), f"DEPLOY_SPEC is a dict (YAML in a repository), not {type(spec).__name__}"
    try:
        parsed = load_deploy_spec(dict(spec))
    except DeploySpecError as error:
        raise AssertionError(str(error)) from None
    assert parsed.version == str(good_version), "deploy the good challenger: version=GOOD"
    assert parsed.port == 0 and parsed.host == "127.0.0.1", "serve on loopback, port 0 (a free port)"
    assert parsed.smoke_size >= 20, f"smoke-test at least 20 orders (got {parsed.smoke_size})"
    assert gate_spec is not None and parsed.gate == gate_spec, "the deploy's gate must be yours: GATE_SPEC"
    return f"deploys version {parsed.version} behind the gate, health-checked, {parsed.smoke_size} smoke requests"


@self_check("Exercise 5")
def exercise_5(metadata: Any, predictions: Any, good_version: str) -> str:
    """Did the live service answer, and does it run the deployed version?"""
    if metadata is None or predictions is None:
        raise NotDone("call /metadata and /predict")
    assert isinstance(metadata, Mapping), "LIVE_METADATA is the JSON answer of /metadata (a dict): use .json()"
    assert str(metadata.get("model_version")) == str(good_version), (
        f"/metadata says version {metadata.get('model_version')!r}: is that the service you deployed?"
    )
    assert isinstance(predictions, Mapping) and "predictions" in predictions, (
        "LIVE_PREDICTIONS is the JSON answer of /predict (a dict with 'predictions')"
    )
    rows = predictions["predictions"]
    assert len(rows) == 3, f"send the first three orders (the service answered {len(rows)})"
    assert str(predictions.get("model_version")) == str(good_version), "every answer names the version that answered"
    return f"the live service runs version {metadata['model_version']} and answered {len(rows)} orders"
