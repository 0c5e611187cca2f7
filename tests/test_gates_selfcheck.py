"""Module 4's self-checks: a stub is "not done", a wrong answer says what is wrong, a right one passes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grading.selfcheck import module04
from mlops_kit.gates import CheckResult, GateDecision, GateSpec

SPREAD = np.array([0.66, 0.68, 0.70, 0.69, 0.67])
BASELINE, P95 = 0.5851, 4.2


def decision(metric_passed: bool = False) -> GateDecision:
    checks = (
        CheckResult("safe_format", "safe_format", True, "skops", "skops", "ok"),
        CheckResult("metric_regression", "metric", metric_passed, 0.6163, 0.6507, "misses"),
        CheckResult("dir_more_prep_time", "behaviour", False, 200, 0, "200 of 200"),
        CheckResult("latency_p95", "latency", False, None, 10.0, "not run: x", status="skipped"),
    )
    return GateDecision("late-delivery", "4", "1", checks, spec={})


def test_exercise_2_wants_the_rules_applied_to_the_evidence(capsys) -> None:
    tolerance = round(2 * SPREAD.std(), 3)
    assert module04.exercise_2(None, None, None, SPREAD, BASELINE, P95).status == "todo"
    budget = math.ceil(module04.LATENCY_FACTOR * P95)
    assert module04.exercise_2(tolerance, round(BASELINE, 3), budget, SPREAD, BASELINE, P95).status == "pass"
    assert module04.exercise_2(tolerance, round(BASELINE, 3), budget + 2, SPREAD, BASELINE, P95).status == "fail"
    assert module04.exercise_2(0.05, round(BASELINE, 3), budget, SPREAD, BASELINE, P95).status == "fail"
    assert "twice the bootstrap spread" in capsys.readouterr().out
    assert module04.exercise_2(tolerance, 0.6, budget, SPREAD, BASELINE, P95).status == "fail"
    assert module04.exercise_2(tolerance, round(BASELINE, 3), budget - 0.4, SPREAD, BASELINE, P95).status == "fail"


def test_exercise_3_wants_every_blocking_check_read_from_the_decision(capsys) -> None:
    def right(d):
        return [c.name for c in d.checks if not c.passed]

    def shortfall(d):
        c = d.check("metric_regression")
        return round(max(0.0, c.threshold - c.value), 4)

    assert module04.exercise_3(right, shortfall, None).status == "todo"
    assert module04.exercise_3(lambda d: [], shortfall, decision()).status == "todo"
    assert module04.exercise_3(right, shortfall, decision()).status == "pass"
    fixed = ["metric_regression", "dir_more_prep_time", "latency_p95"]
    assert module04.exercise_3(lambda d: fixed, shortfall, decision()).status == "fail"
    assert "not return a fixed list" in capsys.readouterr().out
    failed_only = [c.name for c in decision().checks if c.status == "fail"]
    assert module04.exercise_3(lambda d: failed_only, shortfall, decision()).status == "fail"
    assert "skipped check blocks too" in capsys.readouterr().out
    assert module04.exercise_3(right, lambda d: 0.0344, decision()).status == "fail"
    assert module04.exercise_3(right, lambda d: None, decision()).status == "todo"


def test_exercise_4_validates_the_deploy_spec(capsys) -> None:
    spec = GateSpec.model_validate({"tolerance": 0.03, "floor": 0.58, "latency_p95_ms": 12})
    good = {"model_name": "late-delivery", "version": "3", "port": 0, "smoke_size": 20, "gate": spec.model_dump()}
    assert module04.exercise_4(None, "3", spec).status == "todo"
    assert module04.exercise_4(good, "3", spec).status == "pass"
    assert module04.exercise_4({**good, "version": "4"}, "3", spec).status == "fail"
    assert module04.exercise_4({**good, "host": "0.0.0.0"}, "3", spec).status == "fail"
    assert "loopback" in capsys.readouterr().out
    assert module04.exercise_4({**good, "gate": {}}, "3", spec).status == "fail"


@pytest.mark.parametrize(
    ("metadata", "answer", "expected"),
    [
        (None, None, None),
        ({"model_version": "3"}, {"model_version": "3", "predictions": [{}, {}, {}]}, True),
        ({"model_version": "1"}, {"model_version": "3", "predictions": [{}, {}, {}]}, False),
        ({"model_version": "3"}, {"model_version": "3", "predictions": [{}]}, False),
    ],
)
def test_exercise_5_checks_the_live_answers(metadata, answer, expected) -> None:
    assert module04.exercise_5(metadata, answer, "3").status == {True: "pass", False: "fail", None: "todo"}[expected]
