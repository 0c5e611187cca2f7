"""Custom row checks: a learner's (or the course's) own rule, run on the typed frame.

``flags`` gets a copy of the typed frame and returns a boolean Series, True where the row
fails. A check whose ``flags`` returns None is "not implemented yet": it is skipped and
reported, so a notebook with unfinished exercises still runs from top to bottom.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlops_kit.domain import RAW_COLUMN_NAMES
from mlops_kit.validation.defects import REASON_SEPARATOR, Finding
from mlops_kit.validation.errors import ValidationInputError


@dataclass(frozen=True)
class RowCheck:
    """A named row-level check: rows where ``flags(typed)`` is True get ``defect:column``."""

    name: str
    column: str
    defect: str
    flags: Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class SkippedCheck:
    """A row check that did not run, and why."""

    name: str
    column: str
    defect: str
    message: str


def check_row_checks(checks: Sequence[Any]) -> None:
    """ValidationInputError unless each entry is a RowCheck on a known column with a usable code."""
    for position, check in enumerate(checks):
        if not isinstance(check, RowCheck):
            raise ValidationInputError(f"row_checks[{position}] must be a RowCheck, got {check!r}")
        if not isinstance(check.name, str) or not check.name:
            raise ValidationInputError(f"row_checks[{position}] needs a name (a non-empty string), got {check.name!r}")
        if check.column not in RAW_COLUMN_NAMES:
            raise ValidationInputError(
                f"row check {check.name!r} names unknown column {check.column!r}; "
                f"known columns: {', '.join(RAW_COLUMN_NAMES)}"
            )
        if not isinstance(check.defect, str) or not check.defect.isidentifier():
            raise ValidationInputError(
                f"row check {check.name!r}: defect must be a code like 'future_timestamp' "
                f"(letters, digits, underscores; no {REASON_SEPARATOR!r} or ':'), got {check.defect!r}"
            )
        if not callable(check.flags):
            raise ValidationInputError(f"row check {check.name!r}: flags must be a function of the typed frame")


def run_row_check(check: RowCheck, typed: pd.DataFrame) -> Finding | SkippedCheck:
    """Run one check; a finding, a skip if it returned None, ValidationInputError otherwise."""
    try:
        flags = check.flags(typed.copy())
    except Exception as error:
        raise ValidationInputError(f"row check {check.name!r} raised {type(error).__name__}: {error}") from error
    if flags is None:
        return SkippedCheck(check.name, check.column, check.defect, "not implemented yet: flags returned None")
    return Finding(check.defect, check.column, _as_row_flags(check, flags, typed.index))


def _as_row_flags(check: RowCheck, flags: Any, index: pd.Index) -> pd.Series:
    """``flags`` as a bool Series on ``index``; ValidationInputError naming the check otherwise.

    A nullable boolean result (e.g. a comparison on an Int64 column) counts NA as not failing.
    """
    problem = f"row check {check.name!r} must return a boolean pandas Series with one value per row"
    if not isinstance(flags, pd.Series):
        raise ValidationInputError(f"{problem}; it returned {type(flags).__name__}")
    if len(flags) != len(index):
        raise ValidationInputError(f"{problem}; it returned {len(flags)} values for {len(index)} rows")
    if not flags.index.equals(index):
        raise ValidationInputError(f"{problem}; its index does not match the frame's rows")
    if not pd.api.types.is_bool_dtype(flags.dtype):
        raise ValidationInputError(f"{problem}; its dtype is {flags.dtype}")
    return flags.fillna(False).astype(bool)
