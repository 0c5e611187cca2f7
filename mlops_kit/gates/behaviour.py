"""Behavioural tests in the style of CheckList (Ribeiro et al. 2020): what the model must do, case by case.

Each test is a small declared object applied to many cases (rows of the evaluation batch,
drawn with the spec's seed), never to one hand-picked example:

- :class:`MinimumFunctionality`: rows made clearly riskier must get a higher P(late) than the
  same rows made clearly safer (a long trip in a storm at the dinner rush vs a short one on a
  clear morning), in at least ``min_functionality_pass_rate`` of the cases;
- :class:`Invariance`: a change to a field that must not matter (the order id) changes no
  prediction by more than ``invariance_tolerance``;
- :class:`Directional`: a change with a known direction (more preparation time) never moves
  P(late) the other way by more than ``directional_tolerance``.

A perturbation is a function ``rows -> rows`` (same index, same columns); the columns it
changed are recorded with the result, so a reader (and the grader) can see what was tested.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlops_kit.domain import ID_COLUMN, LABEL_COLUMN, TIMESTAMP_COLUMN
from mlops_kit.gates.decision import CheckResult
from mlops_kit.gates.spec import GateSpec
from mlops_kit.registry.candidates import late_probability

Perturbation = Callable[[pd.DataFrame], pd.DataFrame]
FAMILY = "behaviour"
SHOWN_FAILURES = 5


class BehaviourError(ValueError):
    """A behavioural test that cannot be applied (its perturbation returns the wrong shape...)."""


def behaviour_cases(eval_batch: pd.DataFrame, cases: int, seed: int) -> pd.DataFrame:
    """``cases`` model-input rows drawn from the batch with ``seed`` (with replacement only if it is smaller)."""
    inputs = eval_batch.drop(columns=[LABEL_COLUMN], errors="ignore")
    if inputs.empty:
        raise BehaviourError("the evaluation batch is empty: no cases to test")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(inputs), size=cases, replace=cases > len(inputs))
    return inputs.iloc[np.sort(picked)].reset_index(drop=True)


def changed_columns(before: pd.DataFrame, after: pd.DataFrame) -> list[str]:
    """Columns whose values differ in at least one row."""
    changed = []
    for column in before.columns:
        left, right = before[column], after[column]
        if not (left.isna().equals(right.isna()) and (left[left.notna()] == right[left.notna()]).all()):
            changed.append(column)
    return changed


def _apply(test_name: str, perturb: Perturbation, rows: pd.DataFrame) -> pd.DataFrame:
    result = perturb(rows.copy())
    if not isinstance(result, pd.DataFrame):
        raise BehaviourError(f"{test_name}: the perturbation must return a DataFrame, got {type(result).__name__}")
    if list(result.columns) != list(rows.columns) or not result.index.equals(rows.index):
        raise BehaviourError(
            f"{test_name}: the perturbation must keep the rows and columns (return rows.assign(...)); "
            f"got columns {list(result.columns)} for {len(result)} rows"
        )
    return result


@dataclass(frozen=True)
class MinimumFunctionality:
    """``riskier(rows)`` must be likelier late than ``safer(rows)`` in enough cases."""

    name: str
    riskier: Perturbation
    safer: Perturbation
    description: str = ""
    kind: Literal["minimum_functionality"] = "minimum_functionality"

    def threshold(self, spec: GateSpec) -> float:
        return spec.min_functionality_pass_rate

    def run(self, model: Any, rows: pd.DataFrame, spec: GateSpec) -> CheckResult:
        risky, safe = _apply(self.name, self.riskier, rows), _apply(self.name, self.safer, rows)
        p_risky, p_safe = late_probability(model, risky), late_probability(model, safe)
        ok = p_risky > p_safe
        rate = float(ok.mean())
        passed = rate >= spec.min_functionality_pass_rate
        failures = _examples(rows, ~ok, riskier=p_risky, safer=p_safe)
        message = (
            f"{rate:.1%} of {len(rows)} cases rank the riskier order above the safer one "
            f"(need ≥ {spec.min_functionality_pass_rate:.0%})"
        )
        return CheckResult(
            self.name,
            FAMILY,
            passed,
            rate,
            spec.min_functionality_pass_rate,
            message,
            details=self._details(rows, risky, safe, int((~ok).sum()), failures),
        )

    def _details(self, rows: pd.DataFrame, risky: pd.DataFrame, safe: pd.DataFrame, n: int, shown: list) -> dict:
        return {
            "kind": self.kind,
            "description": self.description,
            "cases": len(rows),
            "failing_cases": n,
            "changed_columns": sorted(set(changed_columns(rows, risky)) | set(changed_columns(rows, safe))),
            "case_ids": _ids(rows),
            "examples": shown,
        }


@dataclass(frozen=True)
class Invariance:
    """``perturb`` changes only fields that must not matter: no prediction may move."""

    name: str
    perturb: Perturbation
    description: str = ""
    kind: Literal["invariance"] = "invariance"

    def threshold(self, spec: GateSpec) -> float:
        return spec.invariance_tolerance

    def run(self, model: Any, rows: pd.DataFrame, spec: GateSpec) -> CheckResult:
        after = _apply(self.name, self.perturb, rows)
        p0, p1 = late_probability(model, rows), late_probability(model, after)
        change = np.abs(p1 - p0)
        bad = change > spec.invariance_tolerance
        largest = float(change.max())
        message = (
            f"largest change of P(late) {largest:.2g} over {len(rows)} cases, "
            f"{int(bad.sum())} above the tolerance {spec.invariance_tolerance:g}"
        )
        return CheckResult(
            self.name,
            FAMILY,
            not bad.any(),
            largest,
            spec.invariance_tolerance,
            message,
            details={
                "kind": self.kind,
                "description": self.description,
                "cases": len(rows),
                "failing_cases": int(bad.sum()),
                "changed_columns": changed_columns(rows, after),
                "case_ids": _ids(rows),
                "examples": _examples(rows, bad, before=p0, after=p1),
            },
        )


@dataclass(frozen=True)
class Directional:
    """After ``perturb``, P(late) must not move against ``direction`` by more than the tolerance."""

    name: str
    perturb: Perturbation
    direction: Literal["up", "down"] = "up"
    description: str = ""
    kind: Literal["directional"] = "directional"

    def __post_init__(self) -> None:
        if self.direction not in ("up", "down"):
            raise BehaviourError(f"{self.name}: direction is 'up' or 'down', got {self.direction!r}")

    def threshold(self, spec: GateSpec) -> int:
        return spec.max_directional_violations

    def run(self, model: Any, rows: pd.DataFrame, spec: GateSpec) -> CheckResult:
        after = _apply(self.name, self.perturb, rows)
        p0, p1 = late_probability(model, rows), late_probability(model, after)
        moved = (p1 - p0) if self.direction == "up" else (p0 - p1)
        bad = moved < -spec.directional_tolerance
        violations = int(bad.sum())
        passed = violations <= spec.max_directional_violations
        message = (
            f"{violations} of {len(rows)} cases move P(late) {'down' if self.direction == 'up' else 'up'} by more "
            f"than {spec.directional_tolerance:g} (allowed: {spec.max_directional_violations}); "
            f"largest move against the expectation {max(0.0, float(-moved.min())):.3f}"
        )
        return CheckResult(
            self.name,
            FAMILY,
            passed,
            violations,
            spec.max_directional_violations,
            message,
            details={
                "kind": self.kind,
                "direction": self.direction,
                "description": self.description,
                "cases": len(rows),
                "failing_cases": violations,
                "changed_columns": changed_columns(rows, after),
                "case_ids": _ids(rows),
                "mean_move": float(np.mean(moved)),
                "examples": _examples(rows, bad, before=p0, after=p1),
            },
        )


BehaviouralTest = MinimumFunctionality | Invariance | Directional


def _ids(rows: pd.DataFrame) -> list[str]:
    return [str(value) for value in rows[ID_COLUMN]] if ID_COLUMN in rows.columns else []


def _examples(rows: pd.DataFrame, mask: Any, **probabilities: Any) -> list[dict[str, Any]]:
    """The first few failing cases: order id and each probability."""
    positions = np.flatnonzero(np.asarray(mask))[:SHOWN_FAILURES]
    examples = []
    for position in positions:
        example = {"order_id": str(rows[ID_COLUMN].iloc[position]) if ID_COLUMN in rows.columns else int(position)}
        example.update({key: round(float(values[position]), 4) for key, values in probabilities.items()})
        examples.append(example)
    return examples


def _at_hour(rows: pd.DataFrame, hour: int, minute: int = 30) -> pd.Series:
    times = pd.to_datetime(rows[TIMESTAMP_COLUMN])
    return times.dt.normalize() + pd.Timedelta(hours=hour, minutes=minute)


def _new_ids(rows: pd.DataFrame) -> pd.Series:
    return pd.Series([f"X{position:07d}" for position in range(len(rows))], index=rows.index, dtype="str")


def _shifted_seconds(rows: pd.DataFrame) -> pd.Series:
    times = pd.to_datetime(rows[TIMESTAMP_COLUMN]).dt.floor("min")
    return times + pd.to_timedelta((np.arange(len(rows)) * 7) % 60, unit="s")


def default_behaviours() -> list[BehaviouralTest]:
    """The course's behavioural suite for the late-delivery model."""
    return [
        MinimumFunctionality(
            "mft_storm_rush_long_trip",
            riskier=lambda rows: rows.assign(weather="storm", distance_km=12.0, created_at=_at_hour(rows, 19)),
            safer=lambda rows: rows.assign(weather="clear", distance_km=1.5, created_at=_at_hour(rows, 9)),
            description="a 12 km trip in a storm at the dinner rush is likelier late than a 1.5 km trip on a "
            "clear morning (all else equal)",
        ),
        Invariance(
            "inv_order_id",
            perturb=lambda rows: rows.assign(order_id=_new_ids(rows)),
            description="the order id identifies a request; it must not change the prediction",
        ),
        Invariance(
            "inv_seconds_of_order_time",
            perturb=lambda rows: rows.assign(created_at=_shifted_seconds(rows)),
            description="the seconds of the order time carry no information",
        ),
        Directional(
            "dir_more_prep_time",
            perturb=lambda rows: rows.assign(prep_time_min=(rows["prep_time_min"] + 15.0).clip(upper=240.0)),
            direction="up",
            description="15 more minutes of preparation never lowers P(late)",
        ),
    ]


def run_behaviours(
    model: Any, eval_batch: pd.DataFrame, spec: GateSpec, behaviours: Sequence[BehaviouralTest] | None = None
) -> list[CheckResult]:
    """Every behavioural test on the spec's cases; a test whose perturbation is broken fails with why."""
    rows = behaviour_cases(eval_batch, spec.behaviour_cases, spec.behaviour_seed)
    results = []
    for test in default_behaviours() if behaviours is None else behaviours:
        try:
            results.append(test.run(model, rows, spec))
        except BehaviourError as error:
            results.append(CheckResult(test.name, FAMILY, False, None, test.threshold(spec), str(error)))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            why = f"{test.name}: the test raised {type(error).__name__}: {error}"
            results.append(CheckResult(test.name, FAMILY, False, None, test.threshold(spec), why))
    return results
