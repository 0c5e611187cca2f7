"""The gate spec: every threshold the gate applies, declared once and validated by pydantic.

A spec is data (a dict, a YAML file, a block of a deploy spec)::

    spec = GateSpec.model_validate({"metric": "roc_auc", "tolerance": 0.02, "floor": 0.6, "latency_p95_ms": 50})

An invalid spec raises pydantic's ValidationError, which names the field (``tolerance``:
"Input should be greater than or equal to 0"); unknown fields are refused, so a typo
(``tolerence``) is an error instead of a default silently applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlops_kit.registry.metrics import METRIC_DIRECTIONS
from mlops_kit.registry.versions import LINEAGE_TAGS

SpecT = TypeVar("SpecT", bound=BaseModel)

CHECK_FAMILIES: tuple[str, ...] = ("safe_format", "schema", "governance", "metric", "behaviour", "latency")
"""The gate's check families, in the order they run (the format check comes before anything is loaded)."""


class GateSpecError(ValueError):
    """A gate spec file that cannot be read or does not validate; the message names the field."""


class GateSpec(BaseModel):
    """Thresholds of the gate between a challenger and the champion.

    - ``metric``, ``tolerance``, ``floor``: the challenger's ``metric`` on the evaluation batch must
      be no worse than the champion's by more than ``tolerance``, and no worse than ``floor``
      (for a lower-is-better metric such as ``log_loss``, ``floor`` is the largest value accepted);
    - ``behaviour_cases``, ``behaviour_seed``: how many evaluation rows each behavioural test
      perturbs (drawn with this seed); ``min_functionality_pass_rate``: share of minimum-functionality
      cases that must come out right; ``invariance_tolerance``: largest change of P(late) a field that
      must not matter may cause; ``directional_tolerance``: how far P(late) may move against the
      expected direction before a case counts as a violation; ``max_directional_violations``: how
      many such cases are allowed (0: "never");
    - ``latency_p95_ms``, ``latency_samples``: budget for the 95th percentile of single-row in-process
      predictions, measured over that many calls;
    - ``required_tags``, ``require_model_card``: governance (module 3's rules);
    - ``extra_trusted_types``: types to accept besides the course's allow-list;
    - ``checks``: which check families run (default: all of CHECK_FAMILIES).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = "roc_auc"
    tolerance: float = Field(0.02, ge=0.0, le=1.0)
    floor: float | None = 0.6
    behaviour_cases: int = Field(200, ge=10, le=100_000)
    behaviour_seed: int = Field(0, ge=0)
    min_functionality_pass_rate: float = Field(0.95, ge=0.0, le=1.0)
    invariance_tolerance: float = Field(1e-6, ge=0.0)
    directional_tolerance: float = Field(0.01, ge=0.0, le=1.0)
    max_directional_violations: int = Field(0, ge=0)
    latency_p95_ms: float = Field(50.0, gt=0.0)
    latency_samples: int = Field(200, ge=20, le=100_000)
    required_tags: tuple[str, ...] = LINEAGE_TAGS
    require_model_card: bool = True
    extra_trusted_types: tuple[str, ...] = ()
    checks: tuple[str, ...] = CHECK_FAMILIES

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRIC_DIRECTIONS:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(METRIC_DIRECTIONS)}")
        return value

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in CHECK_FAMILIES]
        if unknown:
            raise ValueError(f"unknown check families {unknown}; known: {', '.join(CHECK_FAMILIES)}")
        if not value:
            raise ValueError("a gate with no checks passes anything: name at least one check family")
        return tuple(name for name in CHECK_FAMILIES if name in value)

    @model_validator(mode="after")
    def _floor_in_range(self) -> GateSpec:
        if self.floor is not None and METRIC_DIRECTIONS[self.metric] and not 0.0 <= self.floor <= 1.0:
            raise ValueError(f"floor: {self.metric} lies between 0 and 1, got {self.floor}")
        return self

    def runs(self, family: str) -> bool:
        """True when check family ``family`` is part of this gate."""
        return family in self.checks


def load_gate_spec(source: str | Path | dict[str, Any]) -> GateSpec:
    """A GateSpec from a dict or a YAML/JSON file; GateSpecError naming the file and field otherwise."""
    return load_declared(GateSpec, source, "gate spec", GateSpecError)


def load_declared(model: type[SpecT], source: str | Path | dict[str, Any], kind: str, error: type[Exception]) -> SpecT:
    """Validate ``source`` (a dict, or a YAML/JSON file) as ``model``; ``error`` naming the file and field otherwise."""
    where = kind
    if not isinstance(source, dict):
        import yaml

        path = Path(source)
        where = str(path)
        try:
            source = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as problem:
            raise error(f"cannot read the {kind} {path}: {problem}") from problem
        if not isinstance(source, dict):
            raise error(f"{path}: a {kind} is a mapping of field → value, got {type(source).__name__}")
    try:
        return model.model_validate(source)
    except ValidationError as problem:
        raise error(f"{where}: {describe_validation_error(problem)}") from None


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem: ``field 'tolerance': Input should be ...``."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(spec)"
        lines.append(f"field {field!r}: {problem['msg']}")
    return "; ".join(lines)
