"""Outlier rules: declared plausible bounds inside a column's possible domain.

A value outside ``[lower, upper]`` is possible but not believable (a 180-minute preparation
time is a typo, not a slow kitchen), so the row goes to quarantine as ``outlier``. A value
already outside the domain is reported once, as ``impossible_value``, not again as an outlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlops_kit.domain import RAW_COLUMN_NAMES, raw_column
from mlops_kit.validation.defects import OUTLIER, Finding
from mlops_kit.validation.errors import ValidationInputError
from mlops_kit.validation.parse import NUMERIC_KINDS


@dataclass(frozen=True)
class OutlierRule:
    """Values of ``column`` below ``lower`` or above ``upper`` are outliers; ``reason`` says why."""

    column: str
    lower: float | None = None
    upper: float | None = None
    reason: str = ""


def check_outlier_rules(rules: Sequence[Any]) -> None:
    """ValidationInputError unless each rule is an OutlierRule on a known numeric column."""
    for position, rule in enumerate(rules):
        if not isinstance(rule, OutlierRule):
            raise ValidationInputError(f"outlier_rules[{position}] must be an OutlierRule, got {rule!r}")
        if rule.column not in RAW_COLUMN_NAMES:
            raise ValidationInputError(
                f"outlier rule names unknown column {rule.column!r}; known columns: {', '.join(RAW_COLUMN_NAMES)}"
            )
        if raw_column(rule.column).kind not in NUMERIC_KINDS:
            raise ValidationInputError(f"outlier rule on {rule.column!r}: the column is not numeric")
        if rule.lower is None and rule.upper is None:
            raise ValidationInputError(f"outlier rule on {rule.column!r} has neither a lower nor an upper bound")
        if rule.lower is not None and rule.upper is not None and rule.lower > rule.upper:
            raise ValidationInputError(f"outlier rule on {rule.column!r}: lower {rule.lower} > upper {rule.upper}")


def outlier_finding(typed: pd.DataFrame, rule: OutlierRule, impossible: pd.Series) -> Finding:
    """Rows whose value breaks the rule's bounds, leaving out values already ``impossible``."""
    values = typed[rule.column]
    outside = pd.Series(False, index=typed.index)
    if rule.lower is not None:
        outside |= (values < rule.lower).fillna(False).astype(bool)
    if rule.upper is not None:
        outside |= (values > rule.upper).fillna(False).astype(bool)
    return Finding(OUTLIER, rule.column, outside & ~impossible)
