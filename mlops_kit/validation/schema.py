"""The pandera schema of a typed order frame, built from ``mlops_kit.domain``.

The domain declares each column once (kind, range, categories); this file turns that into
pandera columns, and pandera's lazy failure cases into findings. Each declared check carries
its defect code as its pandera ``error``, so the failure cases name the defect directly.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache

import pandas as pd
import pandera.pandas as pa

from mlops_kit.domain import RAW_COLUMNS, RawColumn
from mlops_kit.validation.defects import (
    DUPLICATE_ID,
    IMPOSSIBLE_VALUE,
    MISSING_REQUIRED,
    UNKNOWN_CATEGORY,
    Finding,
)
from mlops_kit.validation.errors import ValidationInputError
from mlops_kit.validation.parse import KIND_DTYPES

_PANDERA_DEFECTS = {"not_nullable": MISSING_REQUIRED, "field_uniqueness": DUPLICATE_ID}
"""Pandera's own names for the two rules that are column options rather than checks."""


def order_schema(nullable: Collection[str] = ()) -> pa.DataFrameSchema:
    """The schema of a typed order frame; columns in ``nullable`` may hold missing values."""
    return _order_schema(frozenset(nullable))


@lru_cache(maxsize=32)
def _order_schema(nullable: frozenset[str]) -> pa.DataFrameSchema:
    """Cached body of ``order_schema`` (the schema is immutable once built)."""
    columns = {column.name: column_schema(column, column.name in nullable) for column in RAW_COLUMNS}
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name="orders")


def with_column_checks(schema: pa.DataFrameSchema, checks: Mapping[str, Sequence[pa.Check]]) -> pa.DataFrameSchema:
    """``schema`` with ``checks`` added to their columns, after the domain's own checks."""
    extra = {column: {"checks": [*schema.columns[column].checks, *added]} for column, added in checks.items() if added}
    return schema.update_columns(extra) if extra else schema


def column_schema(column: RawColumn, nullable: bool) -> pa.Column:
    """One pandera column: dtype from the kind, range and category checks from the domain."""
    return pa.Column(
        KIND_DTYPES[column.kind],
        checks=_domain_checks(column),
        nullable=nullable,
        unique=column.kind == "id",
        report_duplicates="exclude_first",
        description=column.description,
    )


def declared_defects(schema: pa.DataFrameSchema) -> list[tuple[str, str]]:
    """Every (defect, column) the schema checks, read off the pandera declaration."""
    pairs = []
    for name, column in schema.columns.items():
        pairs += [(MISSING_REQUIRED, name)] if not column.nullable else []
        pairs += [(check.error, name) for check in column.checks]
        pairs += [(DUPLICATE_ID, name)] if column.unique else []
    return pairs


def schema_findings(typed: pd.DataFrame, schema: pa.DataFrameSchema, unparsed: pd.DataFrame) -> list[Finding]:
    """Validate lazily and turn pandera's failure cases into one finding per declared check.

    ``unparsed`` marks cells that did not parse: they are missing in ``typed``, but their
    defect is the wrong type (already found), not a missing value.
    """
    failures = _failure_cases(typed, schema)
    failed_rows = {key: rows.to_numpy() for key, rows in failures.groupby(["defect", "column"])["index"]}
    findings = []
    for defect, column in declared_defects(schema):
        rows = failed_rows.get((defect, column), [])
        failed = pd.Series(typed.index.isin(rows), index=typed.index)
        if defect == MISSING_REQUIRED:
            failed = failed & ~unparsed[column]
        findings.append(Finding(defect, column, failed))
    return findings


def _failure_cases(typed: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Pandera's failure cases with a ``defect`` column; RuntimeError on any undeclared failure."""
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return pd.DataFrame({"column": [], "defect": [], "index": []})
    cases = cases.assign(defect=cases["check"].replace(_PANDERA_DEFECTS))
    raised = cases.loc[cases["index"].isna() & cases["schema_context"].eq("Column")]
    if len(raised):  # a check that raised (or returned no booleans) has one case: its exception, no row
        first = raised.iloc[0]
        raise ValidationInputError(
            f"the check {first['check']!r} on column {first['column']!r} failed to run: {first['failure_case']} "
            "(a column check gets the column as a pandas Series and returns a boolean Series, True where valid)"
        )
    declared = {defect for defect, _ in declared_defects(schema)}
    unexpected = cases.loc[~cases["defect"].isin(declared)]
    if len(unexpected):
        raise RuntimeError(f"typed frame does not match the order schema:\n{unexpected.head(10)}")
    return cases


def _domain_checks(column: RawColumn) -> list[pa.Check]:
    """The range and category checks the domain declares for a column."""
    checks = []
    low, high = column.min_value, column.max_value
    if low is not None and high is not None:
        checks.append(pa.Check.in_range(low, high, error=IMPOSSIBLE_VALUE))
    elif low is not None:
        checks.append(pa.Check.greater_than_or_equal_to(low, error=IMPOSSIBLE_VALUE))
    elif high is not None:
        checks.append(pa.Check.less_than_or_equal_to(high, error=IMPOSSIBLE_VALUE))
    if column.categories:
        checks.append(pa.Check.isin(list(column.categories), error=UNKNOWN_CATEGORY))
    return checks
