"""Module 5's self-checks: a stub is "not done", a wrong answer says what is wrong, a right one passes."""

from __future__ import annotations

import pandas as pd

from grading.selfcheck import module05
from mlops_kit.monitoring import AlertRule, default_notification, drifted_windows, evaluate_rules, join_labels

RUNBOOK = "Open the drift report of the month and ask the data owners what changed."
LOG = pd.DataFrame({"order_id": ["a", "b", "c"], "late_probability": [0.2, 0.7, 0.4]})
LABELS = pd.DataFrame({"order_id": ["c", "a", "b"], "is_late": [1, 0, 1], "month": ["2025-08", "2025-07", "2025-07"]})
SIGNALS = [
    {"window": "2025-07", "column_drift": {"weather": 0.02, "vehicle": 0.01}},
    {"window": "2025-08", "column_drift": {"weather": 0.30, "vehicle": 0.35}},
    {"window": "2025-09", "column_drift": {"weather": 0.03, "vehicle": 0.33}},
]


def evaluation():
    return evaluate_rules(
        [AlertRule(name="InputDrift", signal="column_drift", threshold=0.12, runbook=RUNBOOK)], SIGNALS
    )


def test_exercise_1_wants_a_join_by_order_id_that_refuses_duplicates(capsys) -> None:
    assert module05.exercise_1(lambda log, labels: None, LOG, LABELS).status == "todo"
    assert module05.exercise_1(join_labels, LOG, LABELS).status == "pass"

    def by_position(log, labels):
        return pd.concat([log, labels.drop(columns=["order_id"])], axis=1)

    assert module05.exercise_1(by_position, LOG, LABELS).status == "fail"
    assert "another order's label" in capsys.readouterr().out

    def no_check(log, labels):
        return log.merge(labels, on="order_id", how="left").drop_duplicates("order_id")

    assert module05.exercise_1(no_check, LOG, LABELS).status == "fail"
    assert "labelled twice went through" in capsys.readouterr().out


def test_exercise_2_wants_a_threshold_between_noise_and_drift(capsys) -> None:
    noise, scores = [0.02, 0.05], [0.01, 0.03, 0.2, 0.4]
    assert module05.exercise_2(None, noise, scores).status == "todo"
    assert module05.exercise_2(0.12, noise, scores).status == "pass"
    assert module05.exercise_2(0.06, noise, scores).status == "fail"
    assert "within reach of chance" in capsys.readouterr().out
    assert module05.exercise_2(0.45, noise, scores).status == "fail"


def test_exercise_3_wants_a_valid_column_drift_rule() -> None:
    rule = {"name": "InputDrift", "signal": "column_drift", "threshold": 0.12, "for_windows": 1, "runbook": RUNBOOK}
    assert module05.exercise_3(None, 0.12).status == "todo"
    assert module05.exercise_3(rule, 0.12).status == "pass"
    assert module05.exercise_3({**rule, "for_windows": 2}, 0.12).status == "fail"
    assert module05.exercise_3({**rule, "signal": "drift_share"}, 0.12).status == "fail"
    assert module05.exercise_3({**rule, "threshold": "high"}, 0.12).status == "fail"  # refused, rule and field named


def test_exercise_4_wants_rule_column_month_and_runbook_in_every_notification() -> None:
    events = evaluation().events
    assert module05.exercise_4(lambda event: None, events).status == "todo"
    assert module05.exercise_4(default_notification, events).status == "pass"

    def no_column(event):
        return {**default_notification(event), "title": event.rule, "text": event.window}

    assert module05.exercise_4(no_column, events).status == "fail"
    assert module05.exercise_4(default_notification, []).status == "todo"


def test_exercise_5_wants_the_firing_pairs_of_the_timeline() -> None:
    result = evaluation()
    assert module05.exercise_5(None, result).status == "todo"
    assert module05.exercise_5(drifted_windows(result), result).status == "pass"
    assert module05.exercise_5({"2025-08": ["vehicle", "weather"]}, result).status == "fail"
