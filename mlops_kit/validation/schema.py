"""The pandera schema of a typed order frame, built from ``mlops_kit.domain``.

The domain declares each column once (kind, range, categories); this file turns that into
pandera columns, and the rows failing each declared check into findings. Each declared check carries
its defect code as its pandera ``error``, so a failing check names the defect directly.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandas.api.types import is_bool_dtype

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
    """One finding per declared check of the schema: the rows that fail it.

    ``unparsed`` marks cells that did not parse: they are missing in ``typed``, but their
    defect is the wrong type (already found), not a missing value.
    """
    failed_rows = _failed_rows(typed, schema)
    findings = []
    for defect, column in declared_defects(schema):
        failed = pd.Series(failed_rows.get((defect, column), False), index=typed.index)
        if defect == MISSING_REQUIRED:
            failed = failed & ~unparsed[column]
        findings.append(Finding(defect, column, failed))
    return findings


def _failed_rows(typed: pd.DataFrame, schema: pa.DataFrameSchema) -> dict[tuple[str, str], Any]:
    """(defect, column) -> a boolean mask of the rows failing that declared check.

    pandera validates the frame's shape (columns, order, dtypes) on none of its rows, and each declared
    check is pandera's own ``Check`` run on its column (missing values skipped, as pandera does); the
    column options are pandas' ``isna`` (not nullable) and ``duplicated(keep="first")`` (unique: the
    first kept, missing values never duplicates, as pandera reports them). The same rows as
    ``schema.validate(lazy=True)``'s failure cases (a test holds them equal), without the consolidation
    of its error report, which cost 10 ms per failing column and three quarters of a validation.
    """
    try:
        schema.validate(typed.iloc[:0], lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        data_checks = cases["check"].isin([*_PANDERA_DEFECTS, *(code for code, _ in declared_defects(schema))])
        if not data_checks.all():  # a wrong column, order or dtype: the parse step's bug, never the data's
            wrong = cases.loc[~data_checks].head(10)
            raise RuntimeError(f"typed frame does not match the order schema:\n{wrong}") from None
    failed: dict[tuple[str, str], Any] = {}
    for name, column in schema.columns.items():
        values = typed[name]
        if not column.nullable:
            failed[(MISSING_REQUIRED, name)] = values.isna().to_numpy()
        for check in column.checks:
            failed[(check.error, name)] = _check_failures(check, name, values)
        if column.unique:
            failed[(DUPLICATE_ID, name)] = (values.duplicated(keep="first") & values.notna()).to_numpy()
    return failed


def _check_failures(check: pa.Check, column: str, values: pd.Series) -> Any:
    """Rows of ``values`` that ``check`` fails (missing values pass); ValidationInputError if it cannot run."""
    how = "a column check gets the column as a pandas Series and returns a boolean Series, True where valid"
    try:
        output = check(values).check_output
    except Exception as error:  # noqa: BLE001 - a learner's check may raise anything: say which one
        raise ValidationInputError(
            f"the check {check.error!r} on column {column!r} failed to run: {type(error).__name__}({error}) ({how})"
        ) from None
    if isinstance(output, (bool, np.bool_)) and output:  # one True for the whole column: pandera passes it
        return np.zeros(len(values), dtype=bool)
    checked = values.dropna() if check.ignore_na else values
    if not (isinstance(output, pd.Series) and output.index.equals(checked.index) and is_bool_dtype(output.dtype)):
        raise ValidationInputError(
            f"the check {check.error!r} on column {column!r} failed to run: it returned "
            f"{type(output).__name__}, not one boolean per row ({how})"
        )
    failing = pd.Series(False, index=values.index)
    failing.loc[output.index[~output.astype(bool).to_numpy()]] = True  # as pandera reads a check's output
    return failing.to_numpy()


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
