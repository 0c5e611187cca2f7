"""Per-row type parsing: raw text in, typed columns out, with the cells that did not parse.

Parsing comes before the pandera schema on purpose: a value that fails pandera's coercion
makes its later range checks crash, so each cell is parsed here and a bad one becomes a
``wrong_type`` finding and a missing value in the typed frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from mlops_kit.domain import RAW_COLUMNS, TIMESTAMP_FORMAT, ColumnKind, RawColumn

KIND_DTYPES: dict[ColumnKind, str] = {
    "id": "str",
    "timestamp": "datetime64[us]",
    "float": "float64",
    "int": "Int64",
    "label": "Int64",
    "category": "str",
}
"""The dtype of each column kind in a typed (clean) frame."""

NUMERIC_KINDS: frozenset[ColumnKind] = frozenset({"float", "int", "label"})
PARSED_KINDS: frozenset[ColumnKind] = frozenset({"timestamp", "float", "int", "label"})
"""Kinds whose text must parse; any text is a valid id or category spelling."""

_LARGEST_EXACT_INT = 2**53


class ParsedColumn(NamedTuple):
    """One parsed column: typed values, and masks of missing and unparsable cells."""

    typed: pd.Series
    missing: pd.Series
    wrong_type: pd.Series


@dataclass(frozen=True)
class ParsedFrame:
    """A raw frame as text, its typed twin, and boolean masks of missing and unparsable cells."""

    text: pd.DataFrame
    typed: pd.DataFrame
    missing: pd.DataFrame
    wrong_type: pd.DataFrame


def as_text(values: pd.Series) -> pd.Series:
    """The column as raw strings (dtype ``str``, missing stays missing), whatever it arrived as."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = values.dt.strftime(TIMESTAMP_FORMAT)
    elif pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype("Int64")
    return values.astype("str")


def is_missing(text: pd.Series) -> pd.Series:
    """True where a raw value is missing: NA or only whitespace."""
    blank = text.str.strip().eq("")
    return text.isna() | blank.fillna(False).astype(bool)


def parse_column(text: pd.Series, column: RawColumn) -> ParsedColumn:
    """Parse one text column as its kind: typed values, missing cells, unparsable cells."""
    missing = is_missing(text)
    present = text.where(~missing)
    if column.kind == "timestamp":
        typed = pd.to_datetime(present, format=TIMESTAMP_FORMAT, errors="coerce")
        typed = typed.astype(KIND_DTYPES["timestamp"])
    elif column.kind == "float":
        typed = pd.to_numeric(present, errors="coerce").astype("float64")
    elif column.kind in ("int", "label"):
        typed = _parse_whole_numbers(present)
    else:
        typed = present.astype(KIND_DTYPES[column.kind])
    return ParsedColumn(typed, missing, ~missing & typed.isna())


def parse_frame(raw: pd.DataFrame) -> ParsedFrame:
    """Parse every raw column (by name, output in the raw column order) of a frame."""
    text = pd.DataFrame({column.name: as_text(raw[column.name]) for column in RAW_COLUMNS})
    columns = {column.name: parse_column(text[column.name], column) for column in RAW_COLUMNS}
    return ParsedFrame(
        text,
        pd.DataFrame({name: parsed.typed for name, parsed in columns.items()}),
        pd.DataFrame({name: parsed.missing for name, parsed in columns.items()}),
        pd.DataFrame({name: parsed.wrong_type for name, parsed in columns.items()}),
    )


def _parse_whole_numbers(present: pd.Series) -> pd.Series:
    """Numbers with no fractional part (``7`` or ``7.0``) as Int64; anything else missing."""
    numbers = pd.to_numeric(present, errors="coerce").astype("float64")
    whole = np.isfinite(numbers) & (numbers == np.round(numbers)) & (numbers.abs() <= _LARGEST_EXACT_INT)
    return numbers.where(whole).astype("Int64")
