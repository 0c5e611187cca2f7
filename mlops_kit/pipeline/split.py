"""Time-based train/valid split: train on older months, validate on the newest ones.

A random split of time-stamped orders lets the model peek at the future (and, with a
repeated order id, at the very rows it is scored on). ``check_split`` refuses both.
"""

from __future__ import annotations

import pandas as pd

from mlops_kit.domain import ID_COLUMN, TIMESTAMP_COLUMN
from mlops_kit.pipeline.errors import SplitLeakageError

DEFAULT_VALID_MONTHS = 2


def valid_period_start(timestamps: pd.Series, valid_months: int) -> pd.Timestamp:
    """First instant of the validation period: the start of the ``valid_months``-th newest calendar month."""
    if isinstance(valid_months, bool) or not isinstance(valid_months, int) or valid_months < 1:
        raise ValueError(f"valid_months must be a whole number of 1 or more, got {valid_months!r}")
    stamps = timestamps.dropna()
    if stamps.empty:
        raise ValueError("cannot split orders without any timestamp")
    last_month = stamps.max().to_period("M")
    return (last_month - (valid_months - 1)).to_timestamp()


def check_split(
    train: pd.DataFrame, valid: pd.DataFrame, key: str = ID_COLUMN, timestamp: str = TIMESTAMP_COLUMN
) -> None:
    """SplitLeakageError unless no ``key`` is in both splits and every train order is older than every valid one."""
    for name, frame in (("train", train), ("valid", valid)):
        missing = [column for column in (key, timestamp) if column not in frame.columns]
        if missing:
            raise SplitLeakageError(f"the {name} split lacks the columns {missing}")
    shared = sorted(set(train[key]) & set(valid[key]))
    if shared:
        raise SplitLeakageError(
            f"{len(shared)} {key} values are in both train and valid (e.g. {', '.join(map(str, shared[:3]))}): "
            "the model would be scored on orders it was trained on"
        )
    if len(train) and len(valid) and train[timestamp].max() >= valid[timestamp].min():
        raise SplitLeakageError(
            f"train reaches {train[timestamp].max()}, after valid starts at {valid[timestamp].min()}: "
            "the model would learn from the future it is scored on"
        )


def time_split(features: pd.DataFrame, valid_months: int = DEFAULT_VALID_MONTHS) -> dict[str, pd.DataFrame]:
    """Orders of the newest ``valid_months`` calendar months → valid, older ones → train (checked)."""
    start = valid_period_start(features[TIMESTAMP_COLUMN], valid_months)
    is_valid = features[TIMESTAMP_COLUMN] >= start
    train, valid = features[~is_valid], features[is_valid]
    check_split(train, valid)
    return {"train": train, "valid": valid}
