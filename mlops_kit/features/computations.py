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
ColumnComputation = Callable[[pd.Series], "pd.Series | np.ndarray"]


def timestamps(values: pd.Series) -> pd.Series:
    """A column as datetimes (ISO strings are accepted, as a service receives them)."""
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = pd.to_datetime(values)
    return values


def _hour(times: pd.Series) -> pd.Series:
    return times.dt.hour


def _weekday(times: pd.Series) -> pd.Series:
    return times.dt.dayofweek


def _weekend(times: pd.Series) -> pd.Series:
    return times.dt.dayofweek >= 5


def _rush(times: pd.Series) -> np.ndarray:
    hour = times.dt.hour.to_numpy()
    rush = np.zeros(len(hour), dtype=bool)
    for first, end in (LUNCH_RUSH, DINNER_RUSH):
        rush |= (hour >= first) & (hour < end)
    return rush


ON_COLUMN: dict[str, tuple[ColumnComputation, bool]] = {
    "identity": (lambda values: values, False),
    "hour_of_day": (_hour, True),
    "day_of_week": (_weekday, True),
    "is_weekend": (_weekend, True),
    "is_rush_hour": (_rush, True),
}
"""Each built-in computation on its one input column: (function, whether it takes the column as datetimes).

``OrderFeatures`` calls these directly (parsing a time column once for all its features); the
functions below are the same computations with the interface a learner's computation has."""


def _computed(inputs: pd.DataFrame, name: str) -> pd.Series:
    """The built-in ``name`` on the first (its only) input column, as a Series with the inputs' index."""
    function, on_times = ON_COLUMN[name]
    column = inputs.iloc[:, 0]
    values = function(timestamps(column) if on_times else column)
    return values if isinstance(values, pd.Series) else pd.Series(values, index=inputs.index)


def identity(inputs: pd.DataFrame) -> pd.Series:
    """The input column unchanged."""
    return _computed(inputs, "identity")


def hour_of_day(inputs: pd.DataFrame) -> pd.Series:
    """Hour of the day, 0-23."""
    return _computed(inputs, "hour_of_day")


def day_of_week(inputs: pd.DataFrame) -> pd.Series:
    """Day of the week, 0 = Monday ... 6 = Sunday."""
    return _computed(inputs, "day_of_week")


def is_weekend(inputs: pd.DataFrame) -> pd.Series:
    """True on Saturdays and Sundays."""
    return _computed(inputs, "is_weekend")


def is_rush_hour(inputs: pd.DataFrame) -> pd.Series:
    """True during the lunch or dinner rush (see LUNCH_RUSH and DINNER_RUSH)."""
    return _computed(inputs, "is_rush_hour")


COMPUTATIONS: dict[str, Computation] = {
    "identity": identity,
    "hour_of_day": hour_of_day,
    "day_of_week": day_of_week,
    "is_weekend": is_weekend,
    "is_rush_hour": is_rush_hour,
}
"""Computations a dictionary entry can name in its ``compute`` field."""
