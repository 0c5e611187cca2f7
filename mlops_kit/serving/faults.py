"""Module 7's planted fault: a challenger service that fails in one declared way (off by default).

``ServiceConfig.fault`` carries a ``Fault``; the ``/predict`` endpoint calls ``apply_fault`` after the
model answered. The three kinds match ``mlops_kit.scenarios.CANARY_FAULTS``:

- ``error_slice``: every request holding an order of ``city_zone`` fails (the service answers 500);
- ``latency``: every request is held back ``extra_ms`` milliseconds;
- ``prediction_shift``: every late probability is raised by ``shift`` (capped at 1).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FAULT_PARAMETERS = {"error_slice": "city_zone", "latency": "extra_ms", "prediction_shift": "shift"}
"""The one parameter each fault kind needs."""


class Fault(BaseModel):
    """What is wrong with a (deliberately) faulty service: its kind and that kind's one parameter."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["error_slice", "latency", "prediction_shift"]
    city_zone: str | None = Field(default=None, min_length=1)
    extra_ms: float | None = Field(default=None, gt=0, le=10_000)
    shift: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _parameter_given(self) -> Fault:
        needed = FAULT_PARAMETERS[self.kind]
        if getattr(self, needed) is None:
            raise ValueError(f"a {self.kind} fault needs {needed}")
        return self


def apply_fault(fault: Fault, columns: Mapping[str, Sequence[Any]], probabilities: list[float]) -> str | None:
    """Plant ``fault`` into one answer: sleep, shift ``probabilities`` in place, or return why it fails."""
    if fault.kind == "latency":
        time.sleep(float(fault.extra_ms) / 1000.0)
    elif fault.kind == "prediction_shift":
        probabilities[:] = [min(1.0, p + float(fault.shift)) for p in probabilities]
    elif fault.city_zone in columns.get("city_zone", ()):
        return f"internal error (planted fault: orders of city zone {fault.city_zone!r} fail)"
    return None
