"""Per-variant scenarios of the later modules: the planted training/serving skew (module 6) and the
faulty canary's fault (module 7).

They are drawn from the variant's own seed (on a separate random stream, so drawing them changes none
of the variant's data) and written to the variant's ledger as ``scenarios.json``; the grader reads the
truth from there, and an answer written for one variant does not fit another. This module only says
*what* is planted; the serving side (``mlops_kit.consistency``, ``mlops_kit.rollout``) plants it.
"""

from __future__ import annotations

import base64
import json
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
CATEGORY_REMAPS: dict[str, dict[str, str]] = {"weather": {"storm": "clear"}, "vehicle": {"scooter": "bike"}}
"""What the skewed service maps a category to (its default for an unknown weather, its stale vehicle encoding)."""


SKEW_FIXTURE = "services/planted_skew.token"
"""Where, relative to a variant's data folder, the skewed service's declaration is shipped.

The graded notebook never sees the ledger, yet module 6 must start the variant's skewed service:
the generator writes the skew there, encoded (base64 JSON, without the description) so that it is
not read by accident; the service decodes it. Decoding it is reading the answer, not finding it.
"""


def encode_skew(skew: dict[str, Any]) -> str:
    """The skew fixture's text: the ledger entry without its description, as base64 JSON."""
    entry = {key: value for key, value in sorted(skew.items()) if key != "description"}
    return base64.urlsafe_b64encode(json.dumps(entry, sort_keys=True).encode("utf-8")).decode("ascii") + "\n"


def decode_skew(text: str) -> dict[str, Any]:
    """The skew entry of a fixture written by ``encode_skew``; ValueError when it is not one."""
    try:
        entry = json.loads(base64.urlsafe_b64decode(text.strip().encode("ascii")))
    except (ValueError, UnicodeError) as error:
        raise ValueError(f"not a planted-skew fixture: {error}") from None
    if not isinstance(entry, dict) or "feature" not in entry or "bug" not in entry:
        raise ValueError("not a planted-skew fixture: it names no feature and bug")
    return entry


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
