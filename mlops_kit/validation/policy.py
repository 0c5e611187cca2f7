"""Missing-value policy: per column, impute a missing value or reject the row.

A column the policy does not list is rejected (the safe default). Fill values are computed
from the valid values of the frame being validated (rows that stay clean), and recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import pandera.pandas as pa

from mlops_kit.domain import RAW_COLUMN_NAMES, RawColumn, raw_column
from mlops_kit.validation.errors import ValidationInputError
from mlops_kit.validation.parse import NUMERIC_KINDS, as_text, parse_column
from mlops_kit.validation.schema import column_schema

Strategy = Literal["median", "most_frequent", "constant"]
STRATEGIES: tuple[str, ...] = ("median", "most_frequent", "constant")
_NEVER_IMPUTED = {"id": "an id identifies the order", "label": "a made-up label would train the model on guesses"}


@dataclass(frozen=True)
class Impute:
    """Fill a missing value: the column's median, its most frequent value, or a constant."""

    strategy: Strategy
    value: Any = None

    def __post_init__(self) -> None:
        """Fail at the exercise, not cells later: an unknown strategy is named with the allowed ones."""
        if self.strategy not in STRATEGIES:
            raise ValidationInputError(
                f"Impute({self.strategy!r}): unknown strategy; choose one of {', '.join(map(repr, STRATEGIES))}"
            )


@dataclass(frozen=True)
class Reject:
    """Send a row with a missing value in this column to quarantine (``missing_required``)."""


MissingAction = Impute | Reject


@dataclass(frozen=True)
class Imputation:
    """What was filled in one column: the strategy, the typed fill value and how many rows."""

    column: str
    strategy: str
    value: Any
    rows: int


def imputed_columns(policy: Mapping[str, MissingAction]) -> list[str]:
    """Columns the policy imputes, in raw column order."""
    return [name for name in RAW_COLUMN_NAMES if isinstance(policy.get(name), Impute)]


def check_missing_policy(policy: Any) -> None:
    """ValidationInputError unless ``policy`` maps known columns to a usable Impute or Reject."""
    if not isinstance(policy, Mapping):
        raise ValidationInputError(
            f"missing_policy must be a mapping from column to Impute(...) or Reject(), got {type(policy).__name__}"
        )
    unknown = [name for name in policy if name not in RAW_COLUMN_NAMES]
    if unknown:
        raise ValidationInputError(
            f"missing_policy names unknown column(s) {', '.join(map(repr, unknown))}; "
            f"known columns: {', '.join(RAW_COLUMN_NAMES)}"
        )
    for name, action in policy.items():
        _check_action(raw_column(name), action)


def fill_values(
    typed: pd.DataFrame, missing: pd.DataFrame, kept: pd.Series, policy: Mapping[str, MissingAction]
) -> dict[str, Any]:
    """Fill value per imputed column, from its non-missing values in ``kept`` rows (None if none)."""
    fills = {}
    for name in imputed_columns(policy):
        action = policy[name]
        valid = typed.loc[kept & ~missing[name], name]
        fills[name] = fill_value(valid, action, raw_column(name))
    return fills


def fill_value(valid: pd.Series, action: Impute, column: RawColumn) -> Any:
    """The value ``action`` fills with, given a column's valid values; None if there are none."""
    if action.strategy == "constant":
        return constant_value(column, action.value)
    if valid.empty:
        return None
    if action.strategy == "median":
        median = float(valid.median())
        return math.floor(median + 0.5) if column.kind != "float" else median
    counts = valid.value_counts(sort=False)
    return sorted(counts.index[counts == counts.max()])[0]


def impute(
    clean: pd.DataFrame, fills: Mapping[str, Any], policy: Mapping[str, MissingAction]
) -> tuple[pd.DataFrame, list[Imputation]]:
    """Fill the missing values of clean rows; return the filled frame and what was filled.

    A column without a fill value (no valid value to learn it from) has no gaps left among
    clean rows: the validator sends those rows to quarantine as ``missing_required``.
    """
    filled = clean.copy()
    imputations = []
    for name, value in fills.items():
        gaps = int(filled[name].isna().sum())
        if value is not None:
            filled[name] = filled[name].fillna(value)
        imputations.append(Imputation(name, policy[name].strategy, value, gaps))
    return filled, imputations


def constant_value(column: RawColumn, value: Any) -> Any:
    """``value`` parsed as the column's kind; ValidationInputError unless it is a valid value."""
    typed, _, unparsed = parse_column(as_text(pd.Series([value])), column)
    problem = f"Impute('constant', {value!r}) for {column.name!r}"
    if typed.isna().iloc[0]:
        reason = "does not parse" if unparsed.iloc[0] else "is missing"
        raise ValidationInputError(f"{problem}: the value {reason} as the column's kind ({column.kind})")
    try:
        pa.DataFrameSchema({column.name: column_schema(column, nullable=False)}).validate(
            pd.DataFrame({column.name: typed})
        )
    except pa.errors.SchemaError as error:
        raise ValidationInputError(f"{problem}: the value is outside the column's domain ({error})") from error
    return typed.iloc[0]


def _check_action(column: RawColumn, action: Any) -> None:
    """ValidationInputError naming the column unless ``action`` is usable for it."""
    where = f"missing_policy[{column.name!r}]"
    if isinstance(action, type):
        raise ValidationInputError(f"{where} is the class {action.__name__}; use an instance, e.g. Reject()")
    if isinstance(action, Reject):
        return
    if not isinstance(action, Impute):
        raise ValidationInputError(f"{where} must be Impute(...) or Reject(), got {action!r}")
    if column.kind in _NEVER_IMPUTED:
        raise ValidationInputError(
            f"{where}: {column.name} cannot be imputed ({_NEVER_IMPUTED[column.kind]}); use Reject()"
        )
    if action.strategy == "median" and column.kind not in NUMERIC_KINDS:
        raise ValidationInputError(
            f"{where}: Impute('median') needs a numeric column, {column.name} is {column.kind}; "
            "use Impute('most_frequent') or Impute('constant', value)"
        )
    if action.strategy == "constant" and action.value is None:
        raise ValidationInputError(f"{where}: Impute('constant') needs a value, e.g. Impute('constant', value=...)")
    if action.strategy != "constant" and action.value is not None:
        raise ValidationInputError(f"{where}: a value is only used with Impute('constant', value)")
    if action.strategy == "constant":
        constant_value(column, action.value)
