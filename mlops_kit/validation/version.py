"""Data version: a short content hash of the clean frame, and the file it is the hash of.

The canonical CSV has ``source_row`` (the input's index) as its first column, then the raw
columns in their declared order, timestamps in ``TIMESTAMP_FORMAT`` and ``\\n`` line
endings, so the same clean rows always give the same bytes, and ``clean.csv`` is those bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from mlops_kit.domain import RAW_COLUMN_NAMES, TIMESTAMP_FORMAT
from mlops_kit.validation.errors import ValidationInputError
from mlops_kit.validation.parse import parse_frame

SOURCE_ROW = "source_row"
VERSION_LENGTH = 16


def frame_csv_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as UTF-8 CSV: index as ``source_row``, timestamps in TIMESTAMP_FORMAT, ``\\n`` endings."""
    text = frame.to_csv(index_label=SOURCE_ROW, lineterminator="\n", date_format=TIMESTAMP_FORMAT)
    return text.encode("utf-8")


def canonical_csv_bytes(clean: pd.DataFrame) -> bytes:
    """The canonical CSV bytes of a typed clean frame (the raw columns in declared order)."""
    missing = [name for name in RAW_COLUMN_NAMES if name not in clean.columns]
    if missing:
        raise ValidationInputError(f"a clean order frame needs the columns {', '.join(missing)}")
    return frame_csv_bytes(clean.loc[:, list(RAW_COLUMN_NAMES)])


def data_version(clean: pd.DataFrame) -> str:
    """First 16 hex characters of the sha256 of the clean frame's canonical CSV bytes."""
    return hashlib.sha256(canonical_csv_bytes(clean)).hexdigest()[:VERSION_LENGTH]


def read_clean(path: str | Path) -> pd.DataFrame:
    """Read a ``clean.csv`` back: same dtypes as ``ValidationResult.clean``, ``source_row`` as index."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], index_col=SOURCE_ROW)
    if tuple(frame.columns) != RAW_COLUMN_NAMES:
        raise ValidationInputError(
            f"{path} is not a clean order file: columns {list(frame.columns)}, expected {list(RAW_COLUMN_NAMES)}"
        )
    frame.index = _source_rows(frame.index)
    parsed = parse_frame(frame)
    unparsed = parsed.wrong_type.stack()
    if unparsed.any():
        row, column = unparsed[unparsed].index[0]
        raise ValidationInputError(f"{path}: source_row {row}, column {column!r} does not parse; the file is corrupt")
    return parsed.typed


def _source_rows(index: pd.Index) -> pd.Index:
    """The ``source_row`` index as integers when every label is one, else as read."""
    try:
        return index.astype("int64").rename(SOURCE_ROW)
    except (TypeError, ValueError):
        return index.rename(SOURCE_ROW)
