"""Per-variant scenarios of the later modules: the planted training/serving skew (module 6) and the
faulty canary's fault (module 7).

They are drawn from the variant's own seed (on a separate random stream, so drawing them changes none
of the variant's data) and written to the variant's ledger as ``scenarios.json``; the grader reads the
truth from there, and an answer written for one variant does not fit another. This module only says
*what* is planted; the serving side (``mlops_kit.consistency``, ``mlops_kit.rollout``) plants it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SCENARIO_STREAM = 6029
"""Mixed into the variant's seed words to get the scenarios' own random stream."""


@dataclass(frozen=True)
class SkewKind:
    """A classic training/serving skew bug: which feature the serving path computes differently, and how."""

    feature: str
    bug: str  # unit | timezone | category_default | stale_encoding
    description: str


SKEW_KINDS: tuple[SkewKind, ...] = (
    SkewKind("distance_km", "unit", "the service receives the distance in miles and never converts it to km"),
    SkewKind(
        "prep_time_min", "unit", "the service takes the preparation time in seconds and never converts it to minutes"
    ),
    SkewKind("hour", "timezone", "the service takes the hour of day in local time instead of UTC"),
    SkewKind(
        "weather",
        "category_default",
        "the service maps a weather it does not know to 'clear' and 'storm' is not in its copy",
    ),
    SkewKind(
        "vehicle", "stale_encoding", "the service's copy of the vehicle encoding is stale and maps 'scooter' to 'bike'"
    ),
)
TIMEZONE_OFFSETS_H = (-3, -2, 1, 2, 3)
UNIT_FACTORS = {"distance_km": 0.621371, "prep_time_min": 60.0}
"""What the skewed service multiplies the feature by (km -> miles, minutes -> seconds)."""


@dataclass(frozen=True)
class CanaryFault:
    """What is wrong with module 7's faulty challenger."""

    kind: str  # error_slice | latency | prediction_shift
    description: str


CANARY_FAULTS: tuple[CanaryFault, ...] = (
    CanaryFault("error_slice", "the challenger fails (HTTP 500) on every order of one city zone"),
    CanaryFault("latency", "the challenger answers far slower than the latency budget"),
    CanaryFault("prediction_shift", "the challenger's late probabilities are shifted upwards"),
)
ERROR_SLICE_ZONES = ("center", "north", "south", "east", "west")
LATENCY_EXTRA_MS = (120, 250)  # inclusive range of the extra delay per request
PREDICTION_SHIFT = (0.15, 0.30)  # range of the upward shift of the late probability
CANARY_RELEASE_FILE = "canary_release.json"
"""In the data folder: the faulty challenger's build, i.e. its fault (the notebook plants it; the ledger
keeps the truth). Only the canary's fault is there: module 6's skew stays in the grader's ledger."""


def draw_scenarios(rng: np.random.Generator) -> dict[str, Any]:
    """The variant's scenarios as plain JSON data: ``{"skew": {...}, "canary_fault": {...}}``."""
    skew = SKEW_KINDS[int(rng.integers(len(SKEW_KINDS)))]
    skew_entry: dict[str, Any] = asdict(skew)
    if skew.bug == "timezone":
        skew_entry["offset_hours"] = int(rng.choice(TIMEZONE_OFFSETS_H))
    elif skew.bug == "unit":
        skew_entry["factor"] = UNIT_FACTORS[skew.feature]
    fault = CANARY_FAULTS[int(rng.integers(len(CANARY_FAULTS)))]
    fault_entry: dict[str, Any] = asdict(fault)
    if fault.kind == "error_slice":
        fault_entry["city_zone"] = str(rng.choice(ERROR_SLICE_ZONES))
    elif fault.kind == "latency":
        fault_entry["extra_ms"] = int(rng.integers(LATENCY_EXTRA_MS[0], LATENCY_EXTRA_MS[1] + 1))
    else:
        fault_entry["shift"] = round(float(rng.uniform(*PREDICTION_SHIFT)), 3)
    return {"skew": skew_entry, "canary_fault": fault_entry}
