"""The running example's raw data: what one food-delivery order looks like.

This is the one declaration of the raw order columns. The data generator writes them in
this order, the validation schema is built from it, and the datasheet describes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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


RAW_COLUMNS: tuple[RawColumn, ...] = (
    RawColumn("order_id", "id", "Unique order identifier, e.g. O0001234."),
    RawColumn("created_at", "timestamp", "When the customer placed the order (local time, no zone)."),
    RawColumn(
        "city_zone",
        "category",
        "Delivery zone of the customer.",
        categories=("center", "north", "south", "east", "west", "harbor"),
    ),
    RawColumn("distance_km", "float", "Road distance from restaurant to customer.", "km", 0.0, 30.0),
    RawColumn("prep_time_min", "float", "Preparation time the restaurant announced.", "min", 0.0, 240.0),
    RawColumn("weather", "category", "Weather at order time.", categories=("clear", "cloudy", "rain", "storm")),
    RawColumn(
        "vehicle", "category", "Vehicle of the assigned courier.", categories=("bike", "ebike", "scooter", "car")
    ),
    RawColumn("basket_size", "int", "Number of items in the order.", "items", 1, 50),
    RawColumn("is_late", "label", "1 if the order arrived after the promised time, else 0.", min_value=0, max_value=1),
)

RAW_COLUMN_NAMES: tuple[str, ...] = tuple(column.name for column in RAW_COLUMNS)
ID_COLUMN = "order_id"
TIMESTAMP_COLUMN = "created_at"
LABEL_COLUMN = "is_late"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def raw_column(name: str) -> RawColumn:
    """Return the declaration of raw column ``name``; KeyError names unknown columns."""
    for column in RAW_COLUMNS:
        if column.name == name:
            return column
    raise KeyError(f"unknown raw order column {name!r}; known: {', '.join(RAW_COLUMN_NAMES)}")
