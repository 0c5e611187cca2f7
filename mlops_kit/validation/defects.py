"""Defect codes, and what one check found: which rows failed it, in which column.

A quarantined row carries its reasons as ``defect:column`` codes joined with ``;``, e.g.
``wrong_type:distance_km;duplicate_id:order_id``, in the order the checks run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_kit.domain import RAW_COLUMN_NAMES

WRONG_TYPE = "wrong_type"
MISSING_REQUIRED = "missing_required"
IMPOSSIBLE_VALUE = "impossible_value"
UNKNOWN_CATEGORY = "unknown_category"
DUPLICATE_ID = "duplicate_id"
OUTLIER = "outlier"
FUTURE_TIMESTAMP = "future_timestamp"

DEFECT_KINDS: tuple[str, ...] = (
    WRONG_TYPE,
    MISSING_REQUIRED,
    IMPOSSIBLE_VALUE,
    UNKNOWN_CATEGORY,
    DUPLICATE_ID,
    OUTLIER,
    FUTURE_TIMESTAMP,
)
"""Codes that send a row to quarantine, in the order the checks run."""

MISSING_IMPUTABLE = "missing_imputable"
"""A missing value in a column the policy imputes: counted in the report, the row stays clean."""

REASON_SEPARATOR = ";"
_REPORT_ORDER = (WRONG_TYPE, MISSING_REQUIRED, MISSING_IMPUTABLE, *DEFECT_KINDS[2:])


@dataclass(frozen=True)
class Finding:
    """The outcome of one check on one column: ``failed`` is True for each row that fails."""

    defect: str
    column: str
    failed: pd.Series

    @property
    def code(self) -> str:
        """The reason code a failing row carries, ``defect:column``."""
        return f"{self.defect}:{self.column}"

    @property
    def quarantines(self) -> bool:
        """Whether a failing row goes to quarantine (every defect but an imputable gap)."""
        return self.defect != MISSING_IMPUTABLE

    @property
    def count(self) -> int:
        """How many rows fail."""
        return int(self.failed.sum())


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (defect, column), rows OR-ed together, sorted in check order.

    Built-in defects come first in ``DEFECT_KINDS`` order, then custom row-check defects in
    the order they were declared; within a defect, columns follow the raw column order.
    """
    merged: dict[tuple[str, str], pd.Series] = {}
    for finding in findings:
        key = (finding.defect, finding.column)
        merged[key] = merged[key] | finding.failed if key in merged else finding.failed
    declared = list(merged)
    ordered = sorted(declared, key=lambda key: (_rank(key[0], declared), _column_rank(key[1])))
    return [Finding(defect, column, merged[(defect, column)]) for defect, column in ordered]


def failing_rows(findings: Iterable[Finding], index: pd.Index) -> pd.Series:
    """True for each row that fails at least one quarantining finding."""
    masks = [finding.failed.to_numpy(dtype=bool) for finding in findings if finding.quarantines]
    return pd.Series(np.logical_or.reduce(masks) if masks else False, index=index, dtype=bool)


def _rank(defect: str, declared: list[tuple[str, str]]) -> int:
    """Position of a defect: built-in order first, then custom defects as first declared."""
    if defect in _REPORT_ORDER:
        return _REPORT_ORDER.index(defect)
    custom = list(dict.fromkeys(d for d, _ in declared if d not in _REPORT_ORDER))
    return len(_REPORT_ORDER) + custom.index(defect)


def _column_rank(column: str) -> int:
    """Position of a column in the raw column order."""
    return RAW_COLUMN_NAMES.index(column)
