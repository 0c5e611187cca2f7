"""ValidationRules: the missing-value policy, outlier rules, column checks and row checks, as one value.

Also the course's reference rules, which the solution notebook and later modules use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pandera.pandas as pa

from mlops_kit.course import IMPUTABLE_COLUMNS, PREP_TIME_LIMIT_MIN
from mlops_kit.domain import TIMESTAMP_COLUMN, raw_column
from mlops_kit.validation.checks import RowCheck, check_column_checks, check_row_checks
from mlops_kit.validation.defects import FUTURE_TIMESTAMP
from mlops_kit.validation.errors import ValidationInputError
from mlops_kit.validation.outliers import OutlierRule, check_outlier_rules
from mlops_kit.validation.policy import Impute, MissingAction, check_missing_policy

REFERENCE_PREP_TIME_LIMIT_MIN = PREP_TIME_LIMIT_MIN


@dataclass(frozen=True)
class ValidationRules:
    """What to do with missing values (unlisted columns: Reject), outliers and custom checks.

    ``column_checks`` maps a column to pandera checks that join the order schema (see ``checks``).
    """

    missing_policy: Mapping[str, MissingAction]
    outlier_rules: Sequence[OutlierRule] = field(default=())
    row_checks: Sequence[RowCheck] = field(default=())
    column_checks: Mapping[str, Sequence[pa.Check | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Store the rule lists as tuples, so a list given by hand cannot change later."""
        for name in ("outlier_rules", "row_checks"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(value))
        if isinstance(self.column_checks, Mapping):
            frozen = {
                column: tuple(checks) if isinstance(checks, (list, tuple)) else checks
                for column, checks in self.column_checks.items()
            }
            object.__setattr__(self, "column_checks", frozen)


def check_rules(rules: Any) -> None:
    """ValidationInputError naming the problem unless ``rules`` can be applied to orders."""
    if not isinstance(rules, ValidationRules):
        raise ValidationInputError(f"rules must be a ValidationRules, got {type(rules).__name__}")
    check_missing_policy(rules.missing_policy)
    check_outlier_rules(_as_sequence(rules.outlier_rules, "outlier_rules"))
    check_row_checks(_as_sequence(rules.row_checks, "row_checks"))
    check_column_checks(rules.column_checks)


def reference_rules(cutoff: pd.Timestamp) -> ValidationRules:
    """The course's reference solution for orders extracted at ``cutoff`` (local time).

    Impute the imputable columns (numbers: median; categories: most frequent); reject every
    other missing value; prep times above the course's limit are data-entry errors; an order
    created at or after the extraction cutoff has a future timestamp.
    """
    limit = _naive_timestamp(cutoff)
    return ValidationRules(
        missing_policy={name: _imputation(name) for name in IMPUTABLE_COLUMNS},
        outlier_rules=(
            OutlierRule(
                "prep_time_min",
                upper=REFERENCE_PREP_TIME_LIMIT_MIN,
                reason=f"prep times above {REFERENCE_PREP_TIME_LIMIT_MIN:g} min are data-entry errors",
            ),
        ),
        column_checks={TIMESTAMP_COLUMN: (future_timestamp_check(limit),)},
    )


def future_timestamp_check(cutoff: pd.Timestamp) -> pa.Check:
    """The reference check of ``created_at``: an order created at or after ``cutoff`` fails it."""
    return pa.Check(lambda created_at: created_at < cutoff, error=FUTURE_TIMESTAMP)


def _imputation(name: str) -> Impute:
    """The reference fill of an imputable column: the median of a number, the most frequent category."""
    return Impute("median" if raw_column(name).kind in ("float", "int") else "most_frequent")


def _naive_timestamp(value: Any) -> pd.Timestamp:
    """``value`` as a time-zone-naive Timestamp, like ``created_at``; ValidationInputError if not."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise ValidationInputError(f"cutoff must be a timestamp, got {value!r}") from error
    if pd.isna(stamp):
        raise ValidationInputError("cutoff must be a timestamp, got a missing value")
    if stamp.tzinfo is not None:
        raise ValidationInputError(f"cutoff {stamp} has a time zone; created_at is local time without one")
    return stamp


def _as_sequence(value: Any, name: str) -> Sequence[Any]:
    """``value`` if it is a list or tuple; ValidationInputError naming the field otherwise."""
    if not isinstance(value, (list, tuple)):
        raise ValidationInputError(f"{name} must be a tuple or list, got {type(value).__name__}")
    return value
