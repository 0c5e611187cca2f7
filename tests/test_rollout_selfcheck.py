"""Module 7's self-checks: a stub is "not done", a wrong answer says what is wrong, a right one passes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from grading.selfcheck import module07
from mlops_kit.rollout.reference import reference_reading, reference_rollout

LATENCIES = np.random.default_rng(0).gamma(4.0, 10.0, 300)
ORDERS = pd.DataFrame(
    {"distance_km": np.linspace(0.5, 15, 200), "is_late": (np.linspace(0.5, 15, 200) > 9).astype(int)}
)


def test_exercise_1_wants_the_declared_skeleton(capsys) -> None:
    assert module07.exercise_1(None).status == "todo"
    assert module07.exercise_1(reference_rollout("late-delivery")).status == "pass"
    wrong = {**reference_rollout("late-delivery"), "steps": [50, 25]}
    assert module07.exercise_1(wrong).status == "fail"
    assert "25, then 50" in capsys.readouterr().out


def test_exercise_2_wants_the_rules_applied_to_the_evidence(capsys) -> None:
    spread = np.percentile(LATENCIES, 99) - np.percentile(LATENCIES, 50)
    budget = min(100, max(50, int(np.ceil(2 * spread))))
    assert module07.exercise_2(None, None, 0.004, LATENCIES).status == "todo"
    assert module07.exercise_2(0.05, budget, 0.004, LATENCIES).status == "pass"
    assert module07.exercise_2(0.05, budget, 0.03, LATENCIES).status == "fail"  # 3 × 0.03 = 0.09
    assert "3 × the size" in capsys.readouterr().out
    assert module07.exercise_2(0.05, 120, 0.004, LATENCIES).status == "fail"


def test_exercise_3_wants_the_best_threshold_and_the_deadline(capsys) -> None:
    p99 = np.percentile(LATENCIES, 99)
    deadline = min(1000, max(600, int(np.ceil(4 * p99 / 50)) * 50))
    from mlops_kit.rollout import rule_accuracy

    best = float(rule_accuracy(ORDERS, "distance_km").idxmax())
    assert 8.5 < best < 9.5
    right = {"deadline_ms": deadline, "baseline": {"feature": "distance_km", "above": best}}
    assert module07.exercise_3(None, lambda _: best, ORDERS, LATENCIES).status == "todo"
    assert module07.exercise_3(right, lambda _: best, ORDERS, LATENCIES).status == "pass"
    assert module07.exercise_3(right, lambda _: 5.0, ORDERS, LATENCIES).status == "fail"
    assert "highest accuracy" in capsys.readouterr().out
    assert module07.exercise_3({**right, "deadline_ms": 50}, lambda _: best, ORDERS, LATENCIES).status == "fail"


def test_exercise_4_wants_the_reading_of_the_records(capsys) -> None:
    events = [
        {"event": "analysis", "verdict": "pass", "weight": 25},
        {"event": "analysis", "verdict": "fail", "weight": 50},
        {"event": "rollback", "failed_metrics": ["error_rate"], "first_breach_t": 10.0, "weight_zero_t": 12.5},
    ]
    load = pd.DataFrame({"t": [9.0, 10.0, 11.0, 12.5, 13.0], "arm": ["stable", "canary", "stable", "canary", "stable"]})
    assert reference_reading(events, load)["requests_to_weight_zero"] == 3
    assert module07.exercise_4(lambda events, load: None, events, load).status == "todo"
    assert module07.exercise_4(reference_reading, events, load).status == "pass"
    off_by_one = lambda events, load: {**reference_reading(events, load), "requests_to_weight_zero": 2}  # noqa: E731
    assert module07.exercise_4(off_by_one, events, load).status == "fail"
    assert "sent between the first breach" in capsys.readouterr().out
