"""The running example's raw data: what one food-delivery order looks like.

The raw order columns are derived from the feature dictionary (``mlops_kit.dictionary``),
their one declaration: its key, its inputs in order, then its label. The data generator
writes them in this order, the validation schema is built from them, and the service's
request model from the same dictionary, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlops_kit.dictionary import FieldSpec, load_feature_dictionary

ColumnKind = Literal["id", "timestamp", "float", "int", "category", "label"]


@dataclass(frozen=True)
class RawColumn:
    """One raw order column: its kind, unit, valid domain and meaning."""

    name: str
    kind: ColumnKind
    description: str
    unit: str = ""
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[str, ...] = ()


_INPUT_KINDS: dict[str, ColumnKind] = {"datetime": "timestamp", "float": "float", "int": "int", "category": "category"}


def raw_column_of(spec: FieldSpec, kind: ColumnKind | None = None) -> RawColumn:
    """The raw column a dictionary field declares (an input's kind follows from its dtype)."""
    if kind is None:
        if spec.dtype not in _INPUT_KINDS:
            raise ValueError(
                f"input {spec.name!r} has dtype {spec.dtype!r}; a raw input is one of {sorted(_INPUT_KINDS)}"
            )
        kind = _INPUT_KINDS[spec.dtype]
    return RawColumn(spec.name, kind, spec.description, spec.unit, spec.min, spec.max, spec.categories)


def raw_columns_of(key: FieldSpec, inputs: tuple[FieldSpec, ...], label: FieldSpec) -> tuple[RawColumn, ...]:
    """Key, inputs in order, label: the columns of a raw order file."""
    return (raw_column_of(key, "id"), *(raw_column_of(spec) for spec in inputs), raw_column_of(label, "label"))


_DICTIONARY = load_feature_dictionary()

RAW_COLUMNS: tuple[RawColumn, ...] = raw_columns_of(_DICTIONARY.key, _DICTIONARY.inputs, _DICTIONARY.label)
RAW_COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in RAW_COLUMNS)
ID_COLUMN = _DICTIONARY.key.name
TIMESTAMP_COLUMN = _DICTIONARY.timestamp.name
LABEL_COLUMN = _DICTIONARY.label.name
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def raw_column(name: str) -> RawColumn:
    """Return the declaration of raw column ``name``; KeyError names unknown columns."""
    for column in RAW_COLUMNS:
        if column.name == name:
            return column
    raise KeyError(f"unknown raw order column {name!r}; known: {', '.join(RAW_COLUMN_NAMES)}")
