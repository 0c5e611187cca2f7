"""Checks on the raw frame itself, before any row is looked at."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops_kit.domain import RAW_COLUMN_NAMES
from mlops_kit.validation.errors import ValidationInputError

_SHOWN_LABELS = 5


def check_raw_frame(raw: Any) -> None:
    """ValidationInputError unless ``raw`` is a non-empty frame with exactly the raw columns."""
    if not isinstance(raw, pd.DataFrame):
        raise ValidationInputError(f"validate() needs a pandas DataFrame of raw orders, got {type(raw).__name__}")
    if len(raw) == 0:
        raise ValidationInputError("the raw frame is empty (0 rows): there is nothing to validate")
    columns = list(raw.columns)
    repeated = sorted({str(name) for name in columns if columns.count(name) > 1})
    if repeated:
        raise ValidationInputError(f"the raw frame has repeated column names: {', '.join(repeated)}")
    missing = [name for name in RAW_COLUMN_NAMES if name not in columns]
    extra = [str(name) for name in columns if name not in RAW_COLUMN_NAMES]
    problems = [f"missing columns: {', '.join(missing)}"] if missing else []
    problems += [f"unexpected extra columns: {', '.join(extra)}"] if extra else []
    if problems:
        raise ValidationInputError(
            f"the raw frame does not have the raw order columns ({'; '.join(problems)}); "
            f"expected: {', '.join(RAW_COLUMN_NAMES)}"
        )
    if not raw.index.is_unique:
        repeated_rows = raw.index[raw.index.duplicated()].unique()[:_SHOWN_LABELS]
        raise ValidationInputError(
            f"the raw frame's index must name each source row once; repeated: {', '.join(map(str, repeated_rows))}"
        )
