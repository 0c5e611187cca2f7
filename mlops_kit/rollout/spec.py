"""The rollout spec, declared (YAML or a dict) and validated by pydantic: steps, analysis, fallback.

    spec = load_rollout_spec("rollout.yaml")       # RolloutSpecError naming the file and the field

``steps`` are the canary's weights (percent of traffic), strictly increasing, each below 100: each is
held for one analysis ``interval_s`` (more while the analysis is inconclusive) and must pass before
the next; after the last one passes, the canary takes 100 % and is promoted. ``analysis`` says how a
step is judged (see ``analysis.py``): a minimum sample count per arm (fewer: inconclusive, which holds
the step and never passes), the allowed increase of the error rate and of the p99 latency over the
stable arm, and the prediction-shift test (Mann-Whitney U p-value below ``shift_alpha`` *and* a
Hodges-Lehmann shift at least ``min_shift``). ``failure_limit`` failed analyses without a pass between them roll back (a pass starts the count again);
``inconclusive_limit`` holds in a row abort the rollout (a rollback: no data never promotes).
``fallback`` is the router's per-request deadline and the rule-based baseline that answers when both
models fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlops_kit.features import load_feature_dictionary
from mlops_kit.gates.spec import load_declared
from mlops_kit.rollout.baseline import BaselineRule


class RolloutSpecError(ValueError):
    """A rollout spec that cannot be read or does not validate; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnalysisSpec(_Strict):
    """How one step is judged: interval, sample floor, success conditions, failure and hold limits."""

    interval_s: float = Field(gt=0, le=600)
    min_samples: int = Field(ge=1)
    max_error_rate_increase: float = Field(ge=0, lt=1)
    max_p99_increase_ms: float = Field(gt=0)
    min_latency_shift_ms: float = Field(default=60.0, gt=0)
    """A latency failure also needs the canary's calls to be slower as a whole (Hodges-Lehmann shift of its
    latencies over the stable arm's at least this): a few slow calls on a busy machine, or the first calls of
    a freshly started process, raise a p99 over a few dozen calls without the model being slower. A good
    canary measured +44 ms on a CI machine whose two cores also ran a notebook, so the floor sits above that
    and at half the smallest delay the course plants (120 ms)."""
    shift_alpha: float = Field(gt=0, lt=1)
    min_shift: float = Field(gt=0, lt=1)
    failure_limit: int = Field(default=1, ge=1)
    inconclusive_limit: int = Field(default=3, ge=1)


class FallbackSpec(_Strict):
    """Per-request deadline of the canary (over it: the stable arm answers) and the last-resort baseline."""

    deadline_ms: float = Field(gt=0, le=60_000)
    stable_deadline_ms: float = Field(default=5_000, gt=0, le=60_000)
    baseline: BaselineRule

    @field_validator("baseline")
    @classmethod
    def _numeric_input(cls, rule: BaselineRule) -> BaselineRule:
        numeric = [spec.name for spec in load_feature_dictionary().inputs if spec.dtype in ("float", "int")]
        if rule.feature not in numeric:
            raise ValueError(
                f"feature {rule.feature!r} is not a numeric input of the feature dictionary ({', '.join(numeric)})"
            )
        return rule


class RolloutSpec(_Strict):
    """A canary rollout: which model, the sticky key, the steps, the analysis, the fallback."""

    model_name: str = Field(min_length=1)
    sticky_key: str = Field(min_length=1)
    steps: list[int] = Field(min_length=1)
    analysis: AnalysisSpec
    fallback: FallbackSpec

    @field_validator("sticky_key")
    @classmethod
    def _known_field(cls, value: str) -> str:
        dictionary = load_feature_dictionary()
        known = [dictionary.key.name, *dictionary.input_names]
        if value not in known:
            raise ValueError(f"{value!r} is not a field of an order ({', '.join(known)})")
        return value

    @field_validator("steps")
    @classmethod
    def _increasing(cls, weights: list[int]) -> list[int]:
        for weight in weights:
            if not 1 <= weight <= 99:
                raise ValueError(
                    f"a step's weight is a percentage from 1 to 99 (100 comes with promotion), got {weight}"
                )
        if any(later <= earlier for earlier, later in zip(weights, weights[1:], strict=False)):
            raise ValueError(f"weights must increase strictly from step to step, got {weights}")
        return weights

    @model_validator(mode="after")
    def _deadline_fits(self) -> RolloutSpec:
        if self.fallback.deadline_ms >= self.analysis.interval_s * 1000:
            raise ValueError("fallback.deadline_ms must be shorter than analysis.interval_s")
        return self

    @property
    def rollback_bound_s(self) -> float:
        """Longest time from the first failed interval's start to weight 0 the spec allows (analysis time aside)."""
        return self.analysis.failure_limit * self.analysis.interval_s


def load_rollout_spec(source: str | Path | dict[str, Any] | RolloutSpec) -> RolloutSpec:
    """Validate a rollout spec (a dict, or a YAML/JSON file); RolloutSpecError naming the field otherwise."""
    if isinstance(source, RolloutSpec):
        return source
    return load_declared(RolloutSpec, source, "rollout spec", RolloutSpecError)


def write_rollout_spec(spec: RolloutSpec, path: str | Path) -> Path:
    """Write ``spec`` as YAML (atomically)."""
    import yaml

    from mlops_kit.io import atomic_write_text

    return atomic_write_text(path, yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
