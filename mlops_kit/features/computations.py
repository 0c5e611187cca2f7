"""Built-in feature computations, referred to by name from the feature dictionary.

A computation receives a DataFrame holding the feature's declared input columns (in the
order the dictionary lists them) and returns one value per row. They are plain, importable
functions, so a fitted transformer that names them can be saved and loaded safely (skops).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

LUNCH_RUSH: tuple[int, int] = (11, 13)
"""Lunch rush hours: first hour inclusive, last hour exclusive."""
DINNER_RUSH: tuple[int, int] = (18, 21)
"""Dinner rush hours: first hour inclusive, last hour exclusive."""

Computation = Callable[[pd.DataFrame], "pd.Series"]


def _first(inputs: pd.DataFrame) -> pd.Series:
    """The first (for most computations the only) input column."""
    return inputs.iloc[:, 0]


def _timestamps(inputs: pd.DataFrame) -> pd.Series:
    """The first input column as datetimes (ISO strings are accepted, as a service receives them)."""
    values = _first(inputs)
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = pd.to_datetime(values)
    return values


def identity(inputs: pd.DataFrame) -> pd.Series:
    """The input column unchanged."""
    return _first(inputs)


def hour_of_day(inputs: pd.DataFrame) -> pd.Series:
    """Hour of the day, 0-23."""
    return _timestamps(inputs).dt.hour


def day_of_week(inputs: pd.DataFrame) -> pd.Series:
    """Day of the week, 0 = Monday ... 6 = Sunday."""
    return _timestamps(inputs).dt.dayofweek


def is_weekend(inputs: pd.DataFrame) -> pd.Series:
    """True on Saturdays and Sundays."""
    return _timestamps(inputs).dt.dayofweek >= 5


def is_rush_hour(inputs: pd.DataFrame) -> pd.Series:
    """True during the lunch or dinner rush (see LUNCH_RUSH and DINNER_RUSH)."""
    hour = _timestamps(inputs).dt.hour.to_numpy()
    rush = np.zeros(len(hour), dtype=bool)
    for first, end in (LUNCH_RUSH, DINNER_RUSH):
        rush |= (hour >= first) & (hour < end)
    return pd.Series(rush, index=inputs.index)


COMPUTATIONS: dict[str, Computation] = {
    "identity": identity,
    "hour_of_day": hour_of_day,
    "day_of_week": day_of_week,
    "is_weekend": is_weekend,
    "is_rush_hour": is_rush_hour,
}
"""Computations a dictionary entry can name in its ``compute`` field."""
