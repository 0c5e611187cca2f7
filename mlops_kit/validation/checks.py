"""Custom checks: a learner's (or the course's) own rules, beyond what the domain declares.

Two forms. A **column check** is a pandera ``Check`` on one column (``ValidationRules.column_checks``):
it joins the order schema, its ``error`` is the defect code of the rows it fails, and validation runs it
with the domain's checks, every failure collected (lazily). A **row check** (``RowCheck``) is a function of the whole
typed frame returning a boolean Series, True where the row fails. A column check given as None, or a row
check whose ``flags`` returns None, is "not implemented yet": it is skipped and reported, so a notebook
with unfinished exercises still runs from top to bottom.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa

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


def check_column_checks(column_checks: Any) -> None:
    """ValidationInputError unless ``column_checks`` maps known columns to lists of pandera checks (or None)."""
    if not isinstance(column_checks, Mapping):
        raise ValidationInputError(f"column_checks must be a dict of column -> list of checks, got {column_checks!r}")
    for column, checks in column_checks.items():
        if column not in RAW_COLUMN_NAMES:
            raise ValidationInputError(
                f"column_checks names unknown column {column!r}; known columns: {', '.join(RAW_COLUMN_NAMES)}"
            )
        if not isinstance(checks, (list, tuple)):
            raise ValidationInputError(f"column_checks[{column!r}] must be a list of checks, got {checks!r}")
        for position, check in enumerate(checks):
            where = f"column_checks[{column!r}][{position}]"
            if check is None:
                continue
            if not isinstance(check, pa.Check):
                raise ValidationInputError(f"{where} must be a pandera Check (pa.Check(...)), got {check!r}")
            if not isinstance(check.error, str) or not check.error.isidentifier():
                raise ValidationInputError(
                    f"{where}: give the check error='<defect code>', a code like 'future_timestamp' that names "
                    f"the defect in the quarantine reasons (letters, digits, underscores), got error={check.error!r}"
                )


def declared_column_checks(column_checks: Mapping[str, Sequence[Any]]) -> dict[str, list[pa.Check]]:
    """The column checks that are written (None entries left out), per column."""
    return {column: [check for check in checks if check is not None] for column, checks in column_checks.items()}


def skipped_column_checks(column_checks: Mapping[str, Sequence[Any]]) -> list[SkippedCheck]:
    """One skip per column check given as None (an exercise not done yet)."""
    return [
        SkippedCheck(f"column_checks[{column!r}][{position}]", column, "", "not implemented yet: the check is None")
        for column, checks in column_checks.items()
        for position, check in enumerate(checks)
        if check is None
    ]


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
