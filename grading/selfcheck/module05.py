"""Self-checks for module 5 (monitoring & alerting). Feedback only: grades come from artifacts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from grading.selfcheck import NotDone, self_check


@self_check("Exercise 1")
def exercise_1(join: Callable[[Any, Any], Any], log: pd.DataFrame, labels: pd.DataFrame) -> str:
    """One row per logged prediction with its label and month; duplicates refused."""
    joined = join(log, labels)
    if joined is None:
        raise NotDone("join_by_order returns None; join the labels to the log by order_id")
    assert isinstance(joined, pd.DataFrame), f"return a DataFrame, not {type(joined).__name__}"
    assert len(joined) == len(log), f"the join has {len(joined)} rows for {len(log)} logged predictions: one each"
    for column in ("order_id", "late_probability", "is_late", "month"):
        assert column in joined.columns, f"the joined table lacks {column!r}"
    truth = labels.set_index("order_id")
    mine = joined.set_index("order_id")
    common = mine.index.intersection(truth.index)
    assert len(common) == len(log), "some logged orders found no label: join on order_id"
    assert (mine.loc[common, "is_late"].astype(int) == truth.loc[common, "is_late"].astype(int)).all(), (
        "some orders got another order's label: join on order_id, not on the row position"
    )
    twice = pd.concat([labels, labels.head(1)], ignore_index=True)
    try:
        join(log, twice)
    except ValueError:
        pass
    else:
        raise AssertionError("an order id labelled twice went through: raise ValueError naming it")
    return f"{len(joined)} predictions joined to their labels; a duplicate order id is refused"


@self_check("Exercise 2")
def exercise_2(threshold: Any, noise: list[float], scores: list[float]) -> str:
    """Above every score of the reference halves (chance), below the scores that stand far apart."""
    if threshold is None:
        raise NotDone("set DRIFT_THRESHOLD from the plot")
    assert isinstance(threshold, (int, float)) and not isinstance(threshold, bool), "DRIFT_THRESHOLD is a number"
    top_noise = max(noise)
    assert threshold > 1.5 * top_noise, (
        f"{threshold:g} is within reach of chance: the two halves of the reference period (no drift) already "
        f"differ by up to {top_noise:.3f}; leave a margin"
    )
    alerting = int((np.asarray(scores) > threshold).sum())
    assert alerting > 0, f"nothing alerts at {threshold:g}: the plot shows scores far above the noise"
    assert threshold <= 0.5, f"{threshold:g} only catches the largest shifts: drift scores above 0.15 are big changes"
    return f"{alerting} month-input pairs above {threshold:g}; the reference halves stay below"


@self_check("Exercise 3")
def exercise_3(rule: Any, threshold: Any) -> str:
    """A valid column-drift rule with the threshold, firing in the month itself, and a runbook."""
    from mlops_kit.monitoring import load_rules

    if rule is None:
        raise NotDone("write DRIFT_RULE")
    (parsed,) = load_rules([rule])
    assert parsed.signal == "column_drift", f"watch each input's drift: signal 'column_drift', not {parsed.signal!r}"
    assert parsed.threshold == threshold, "use DRIFT_THRESHOLD, the threshold you chose"
    assert parsed.for_windows == 1, "a month is one window: alert in the drifted month itself (for_windows 1)"
    assert parsed.columns is None, "watch every input (leave columns out): the next drift may be in any of them"
    return f"rule {parsed.name!r} is valid"


@self_check("Exercise 4")
def exercise_4(formatter: Callable[[Any], Any], events: list[Any]) -> str:
    """A notification per event naming rule, column and month, with the runbook."""
    if not events:
        raise NotDone("no alert fired yet (exercises 2 and 3)")
    payload = formatter(events[0])
    if payload is None:
        raise NotDone("notification returns None")
    assert isinstance(payload, dict), f"return a dict, not {type(payload).__name__}"
    for key in ("title", "text", "runbook", "episode", "kind"):
        assert key in payload, f"the notification lacks {key!r}"
    for event in events:
        payload = formatter(event)
        words = f"{payload['title']} {payload['text']}"
        for fact in (event.rule, event.column or "", event.window):
            assert fact in words, f"the notification for {event.episode} ({event.kind}) does not name {fact!r}"
        assert payload["runbook"] == event.runbook, "carry the rule's runbook unchanged"
        assert payload["episode"] == event.episode and payload["kind"] == event.kind, "keep the episode and kind"
    return f"{len(events)} notifications name their rule, column and month"


@self_check("Exercise 5")
def exercise_5(reading: Any, evaluation: Any) -> str:
    """Month -> drifted columns, read from the alerts."""
    if reading is None:
        raise NotDone("drift_reading returns None")
    assert isinstance(reading, dict), f"return a dict month -> list of columns, not {type(reading).__name__}"
    firing = {
        (row["window"], row["column"]) for row in evaluation.timeline if row["state"] == "firing" and row["column"]
    }
    mine = {(month, column) for month, columns in reading.items() for column in columns}
    assert mine == firing, (
        f"{len(firing - mine)} firing month-column pairs are missing and {len(mine - firing)} are not firing: read "
        "every window of the timeline, firing rows only"
    )
    assert all(list(columns) == sorted(columns) for columns in reading.values()), "sort the columns of each month"
    return f"{len(reading)} drifted months read from the alerts"
