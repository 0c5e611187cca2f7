"""The course's own facts, declared once: its modules, its run limits and the data's ground rules.

The generator, the library, the self-checks, the artifact tests and the grading tools read
these names instead of writing the values again. Facts that belong to one object live on it
(the raw columns on the feature dictionary, metric directions on ``registry.metrics``); what is
here is shared by parts that do not otherwise depend on each other.
"""

from __future__ import annotations

MODULE_IDS: tuple[str, ...] = (
    "01_data_validation",
    "02_feature_pipeline",
    "03_model_registry",
    "04_cicd_gates",
    "05_monitoring",
    "06_consistency",
    "07_rollout",
)
"""Module ids in course order: each is its notebook's stem and its artifacts folder's name."""

DEFAULT_CELL_TIMEOUT_S = 120.0
"""Per-cell time limit, in seconds, when the course's tools execute a notebook."""

PREP_TIME_LIMIT_MIN = 120.0
"""Announced preparation times above this many minutes are data-entry errors (outliers).

The generator plants its outliers above it and keeps clean values well below; the reference
cleaning rules quarantine what lies above it.
"""

IMPUTABLE_COLUMNS: tuple[str, ...] = ("prep_time_min", "weather")
"""Raw columns whose gaps are imputed (the order itself is fine); a gap anywhere else rejects the row."""


def module_id(number: int) -> str:
    """The id of module ``number`` (1-based); ValueError naming the known modules otherwise."""
    by_number = {int(module[:2]): module for module in MODULE_IDS}
    if not isinstance(number, int) or isinstance(number, bool) or number not in by_number:
        raise ValueError(f"no module {number!r}; the course has modules {', '.join(MODULE_IDS)}")
    return by_number[number]
