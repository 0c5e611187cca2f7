"""Seeded generator of the course's food-delivery orders, with defect and drift ledgers.

A *variant* is a seed: it fixes every value, defect row and drift month, so the same
variant always gives byte-identical files and another variant gives a dataset of the same
shape that answers hard-coded for the shipped one do not fit. Layout of one variant::

    <out>/data/reference.csv, data/batches/YYYY-MM.csv, data/manifest.json
    <out>/data/services/planted_skew.token (module 6's skewed service, encoded: mlops_kit.scenarios)
    <out>/data/canary_release.json (module 7: the faulty challenger's fault, which the notebook plants)
    <out>/ledger/defects.csv  (file,row,order_id,defect,column,expected_action)
    <out>/ledger/drift.csv    (month,event,columns,description)
    <out>/ledger/scenarios.json (module 6's planted skew, module 7's canary fault: mlops_kit.scenarios)

Graded variants are *secret*: the seed mixes an instructor secret into the variant label
(``secret=...``), so knowing the label and this code is not enough to rebuild the graded data
or its ledger. Without a secret (the shipped data, ``grading run``) a variant is public.

Run ``python -m mlops_kit.datagen --variant N --out DIR``; see datasets/DATASHEET.md.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import hmac
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_kit.course import IMPUTABLE_COLUMNS, PREP_TIME_LIMIT_MIN
from mlops_kit.domain import (
    ID_COLUMN,
    LABEL_COLUMN,
    RAW_COLUMN_NAMES,
    TIMESTAMP_COLUMN,
    TIMESTAMP_FORMAT,
    raw_column,
)
from mlops_kit.io import atomic_write_json, atomic_write_text
from mlops_kit.manifest import ManifestError, read_manifest, verify_manifest, write_manifest
from mlops_kit.scenarios import CANARY_RELEASE_FILE, SCENARIO_STREAM, SKEW_FIXTURE, draw_scenarios, encode_skew

GENERATOR_VERSION = "1"
DATASET_NAME = "orders"
SEED_SALT = 20_250_701  # mixed into every variant's seed, so variant 0 is not plain seed 0
SHIPPED_VARIANT_DIR = Path(__file__).resolve().parents[1] / "datasets" / "v0"
"""Where a repository checkout keeps variant 0 (absent when mlops_kit is installed from a wheel)."""
DATA_FOLDER = "data"
REFERENCE_FILE = "reference.csv"
BATCH_FOLDER = "batches"
LEDGER_FOLDER = "ledger"
DEFECTS_FILE = "defects.csv"
DRIFT_FILE = "drift.csv"
SCENARIOS_FILE = "scenarios.json"
LEDGER_FILES = (DEFECTS_FILE, DRIFT_FILE, SCENARIOS_FILE)
DEFECT_LEDGER_COLUMNS = ("file", "row", "order_id", "defect", "column", "expected_action")
DRIFT_LEDGER_COLUMNS = ("month", "event", "columns", "description")

REFERENCE_MONTHS = tuple(f"2025-{month:02d}" for month in range(1, 7))
BATCH_MONTHS = tuple(f"2025-{month:02d}" for month in range(7, 13))
ORDERS_PER_MONTH = 1500
ORDERS_PER_MONTH_JITTER = 60
REFERENCE_DEFECTS_PER_KIND = (4, 15)  # inclusive range of rows per defect kind in reference.csv
BATCH_DEFECTS_PER_KIND = (1, 6)  # ... and in each batch
FUTURE_DAYS = (30, 400)  # a future timestamp lies this many days after the file's period end

# Clean values stay well inside the domain; prep times above this are data-entry errors.
MAX_PLAUSIBLE_PREP_MIN = PREP_TIME_LIMIT_MIN
DISTANCE_KM_RANGE = (0.3, 20.0)
PREP_TIME_MIN_RANGE = (5.0, 60.0)
MAX_BASKET_SIZE = 25
LUNCH_RUSH = (11, 13)  # hours, start inclusive, end exclusive
DINNER_RUSH = (18, 21)

# Weights of the hour of day at which orders are placed (index = hour).
HOUR_WEIGHTS = np.array([1, 0.5, 0, 0, 0, 0, 0, 0, 0, 0.5, 2, 6, 9, 5, 3, 2, 2, 4, 8, 10, 8, 5, 3, 2], dtype=float)
WEEKDAY_WEIGHTS = np.array([1.0, 0.95, 1.0, 1.05, 1.25, 1.35, 1.2])  # Monday .. Sunday
ZONE_WEIGHTS = {"center": 0.30, "north": 0.18, "south": 0.18, "east": 0.17, "west": 0.17}
ZONE_MEDIAN_KM = {"center": 2.4, "north": 4.0, "south": 3.8, "east": 4.2, "west": 4.0, "harbor": 7.5}
HARBOR_SHARE = 0.12
WEATHER_WEIGHTS = {"clear": 0.50, "cloudy": 0.32, "rain": 0.14, "storm": 0.04}
RAINY_WEATHER_WEIGHTS = {"clear": 0.15, "cloudy": 0.25, "rain": 0.45, "storm": 0.15}
VEHICLE_WEIGHTS = {"bike": 0.40, "scooter": 0.40, "car": 0.20}
EBIKE_VEHICLE_WEIGHTS = {"bike": 0.25, "ebike": 0.30, "scooter": 0.30, "car": 0.15}
KITCHEN_SLOWDOWN_FACTOR = 1.4

# Logistic model of lateness: logit = intercept + sum of the effects below.
LATE_INTERCEPT = -1.7
LATE_PER_KM = 0.16  # per km above 4 km
LATE_PER_PREP_MIN = 0.06  # per minute above 16 min
LATE_PER_ITEM = 0.04  # per item above 3 items
LATE_RUSH_HOUR = 0.6
LATE_WEEKEND = 0.3
LATE_WEATHER = {"clear": 0.0, "cloudy": 0.1, "rain": 0.8, "storm": 1.5}
LATE_VEHICLE = {"bike": 0.25, "ebike": -0.05, "scooter": 0.0, "car": -0.15}

NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one "
    "twenty-two twenty-three twenty-four twenty-five"
).split()
CATEGORY_TYPOS = {
    "city_zone": ("downtown", "Center", "nrth", "south ", "EAST"),
    "weather": ("Rain ", "sunny", "CLEAR", "fog", "cloudly"),
    "vehicle": ("bke", "SCOOTER", "Car", "truck", "e-bike"),
}


@dataclass(frozen=True)
class DefectKind:
    """A row-level defect: the columns it can hit and what cleaning should do with the row."""

    name: str
    columns: tuple[str, ...]
    expected_action: str  # "quarantine" or "impute"


DEFECT_KINDS: tuple[DefectKind, ...] = (
    DefectKind("missing_required", ("distance_km", "city_zone", "created_at"), "quarantine"),
    DefectKind("missing_imputable", IMPUTABLE_COLUMNS, "impute"),
    DefectKind("impossible_value", ("distance_km", "prep_time_min", "basket_size"), "quarantine"),
    DefectKind("outlier", ("prep_time_min",), "quarantine"),
    DefectKind("duplicate_id", (ID_COLUMN,), "quarantine"),
    DefectKind("wrong_type", ("distance_km", "basket_size", "prep_time_min"), "quarantine"),
    DefectKind("future_timestamp", (TIMESTAMP_COLUMN,), "quarantine"),
    DefectKind("unknown_category", tuple(CATEGORY_TYPOS), "quarantine"),
)


@dataclass(frozen=True)
class DriftEvent:
    """A scheduled change in the production batches: which columns drift and for how long."""

    name: str
    columns: tuple[str, ...]
    months: int | None  # months it lasts; None: persists to the last batch
    description: str


DRIFT_EVENTS: tuple[DriftEvent, ...] = (
    DriftEvent(
        "rainy_season", ("weather", LABEL_COLUMN), 2, "rain and storms far more frequent; more orders arrive late"
    ),
    DriftEvent("new_zone", ("city_zone", "distance_km"), None, "new city zone harbor, with longer distances"),
    DriftEvent("ebike_launch", ("vehicle",), None, "couriers on e-bikes (vehicle ebike) take about 30% of orders"),
    DriftEvent(
        "kitchen_slowdown",
        ("prep_time_min", LABEL_COLUMN),
        1,
        "restaurants announce 40% longer preparation times; more orders arrive late",
    ),
)
DRIFT_EVENTS_PER_VARIANT = 3
DriftSchedule = dict[str, tuple[str, ...]]  # month -> names of the events active in it


@dataclass(frozen=True)
class OrderFile:
    """One generated data file: its rows as strings and the ledger rows of its defects."""

    relpath: str
    period_start: pd.Timestamp
    period_end: pd.Timestamp  # exclusive
    cells: dict[str, np.ndarray]  # column -> object array of strings ("" = missing)
    defects: list[dict[str, object]]


# ---------------------------------------------------------------------------- public API


def variant_seed(variant: int, secret: str | None = None) -> list[int]:
    """The seed words of ``variant``: public, or keyed by ``secret`` (HMAC-SHA256 of the label)."""
    if variant < 0:
        raise ValueError(f"variant must be a non-negative integer, got {variant}")
    if secret is None:
        return [variant, SEED_SALT]
    if not secret:
        raise ValueError("the grading secret is empty")
    digest = hmac.new(secret.encode("utf-8"), f"{DATASET_NAME}:variant:{variant}".encode(), hashlib.sha256).digest()
    return [variant, SEED_SALT, *np.frombuffer(digest, dtype="<u4").tolist()]


def batch_file(month: str) -> str:
    """Path, relative to the data folder, of the batch for ``month`` (``YYYY-MM``)."""
    return f"{BATCH_FOLDER}/{month}.csv"


def variant_rng(variant: int, secret: str | None = None) -> np.random.Generator:
    """The random generator that fixes everything about ``variant`` (under ``secret``, if given)."""
    return np.random.default_rng(variant_seed(variant, secret))


def generate_variant(variant: int, out_dir: Path, secret: str | None = None, ledger: bool = True) -> Path:
    """Write variant ``variant`` (data, manifest and, unless ``ledger`` is False, ledgers) under ``out_dir``.

    ``secret`` keys the seed (a graded variant); the files never record it.
    """
    out_dir = Path(out_dir)
    rng = variant_rng(variant, secret)
    schedule = draw_drift_schedule(rng)
    files = draw_order_files(rng, schedule)
    data_dir = out_dir / DATA_FOLDER
    for order_file in files:
        text = _csv_text(RAW_COLUMN_NAMES, _rows(order_file))
        atomic_write_text(data_dir / order_file.relpath, text)
    write_manifest(
        data_dir,
        {f.relpath: _manifest_facts(f) for f in files},
        dataset=DATASET_NAME,
        variant=variant,
        generator_version=GENERATOR_VERSION,
    )
    scenarios = draw_scenarios(np.random.default_rng([*variant_seed(variant, secret), SCENARIO_STREAM]))
    atomic_write_text(data_dir / SKEW_FIXTURE, encode_skew(scenarios["skew"]))
    atomic_write_json(data_dir / CANARY_RELEASE_FILE, {"canary_fault": scenarios["canary_fault"]})
    if not ledger:
        return out_dir
    defects = sorted((row for f in files for row in f.defects), key=lambda r: (r["file"], r["row"]))
    defect_rows = ([row[column] for column in DEFECT_LEDGER_COLUMNS] for row in defects)
    ledger_dir = out_dir / LEDGER_FOLDER
    atomic_write_text(ledger_dir / DEFECTS_FILE, _csv_text(DEFECT_LEDGER_COLUMNS, defect_rows))
    atomic_write_text(ledger_dir / DRIFT_FILE, _csv_text(DRIFT_LEDGER_COLUMNS, _drift_rows(schedule)))
    atomic_write_json(ledger_dir / SCENARIOS_FILE, scenarios)
    return out_dir


def secret_fingerprint(secret: str) -> str:
    """A short name for a secret's variants (keyed hash: it reveals nothing about the secret)."""
    return hmac.new(secret.encode("utf-8"), b"variant-cache-folder", hashlib.sha256).hexdigest()[:16]


def ensure_variant(variant: int, cache_root: Path, secret: str | None = None, ledger: bool = True) -> Path:
    """Return ``cache_root/v{variant}`` (``v{variant}-<fingerprint>`` under a secret), generated if needed.

    The variant is (re)generated unless it is complete and current; it is generated in a
    temporary folder and renamed into place, so a crash never leaves half a variant and
    concurrent callers each see a whole one. ``ledger=False``: the data alone, in a folder
    of its own (``...-data``) that never holds a ledger.
    """
    cache_root = Path(cache_root)
    target = cache_root / (f"v{variant}" if secret is None else f"v{variant}-{secret_fingerprint(secret)}")
    if not ledger:
        target = target.with_name(f"{target.name}-data")
    if is_current_variant(target, variant, ledger):
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".v{variant}-", dir=cache_root))
    try:
        generate_variant(variant, staging, secret, ledger)
        _discard(target)
        try:
            os.replace(staging, target)
        except OSError:  # another process put a variant there first
            if not is_current_variant(target, variant, ledger):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def is_current_variant(variant_dir: Path, variant: int, ledger: bool = True) -> bool:
    """True if ``variant_dir`` holds ``variant`` from this generator version, untouched (with its ledger,
    or with ``ledger=False`` without one)."""
    try:
        manifest = read_manifest(variant_dir / DATA_FOLDER)
        if ledger:
            complete = all((variant_dir / LEDGER_FOLDER / name).is_file() for name in LEDGER_FILES)
        else:
            complete = not (variant_dir / LEDGER_FOLDER).exists()
        current = manifest.get("generator_version") == GENERATOR_VERSION and manifest.get("variant") == variant
        return complete and current and bool(verify_manifest(variant_dir / DATA_FOLDER))
    except (ManifestError, KeyError, TypeError):  # missing, stale or malformed manifest
        return False


def read_defect_ledger(variant_dir: Path) -> pd.DataFrame:
    """The defect ledger of a generated variant (``row`` as int, the rest as strings)."""
    return pd.read_csv(
        Path(variant_dir) / LEDGER_FOLDER / DEFECTS_FILE,
        dtype={name: str for name in DEFECT_LEDGER_COLUMNS} | {"row": int},
        keep_default_na=False,
    )


def read_scenarios(variant_dir: Path) -> dict[str, Any]:
    """The variant's scenarios (``skew``, ``canary_fault``; see ``mlops_kit.scenarios``)."""
    return json.loads((Path(variant_dir) / LEDGER_FOLDER / SCENARIOS_FILE).read_text(encoding="utf-8"))


def read_drift_ledger(variant_dir: Path) -> pd.DataFrame:
    """The drift ledger of a generated variant; ``columns`` is ``;``-joined."""
    return pd.read_csv(Path(variant_dir) / LEDGER_FOLDER / DRIFT_FILE, dtype=str, keep_default_na=False)


# ---------------------------------------------------------------------------- drift schedule


def draw_drift_schedule(rng: np.random.Generator) -> DriftSchedule:
    """Pick the variant's drift events and distinct start months; return month -> events."""
    picked = sorted(rng.choice(len(DRIFT_EVENTS), size=DRIFT_EVENTS_PER_VARIANT, replace=False))
    starts = rng.choice(np.arange(1, len(BATCH_MONTHS)), size=len(picked), replace=False)
    schedule: dict[str, list[str]] = {month: [] for month in BATCH_MONTHS}
    for event_index, start in zip(picked, starts, strict=False):
        event = DRIFT_EVENTS[event_index]
        end = len(BATCH_MONTHS) if event.months is None else start + event.months
        for month in BATCH_MONTHS[start:end]:
            schedule[month].append(event.name)
    return {month: tuple(sorted(events)) for month, events in schedule.items()}


def _drift_rows(schedule: DriftSchedule) -> list[list[str]]:
    """Rows of the drift ledger: one per (month, active event)."""
    events = {event.name: event for event in DRIFT_EVENTS}
    return [
        [month, name, ";".join(events[name].columns), events[name].description]
        for month in sorted(schedule)
        for name in schedule[month]
    ]


# ---------------------------------------------------------------------------- clean orders


def draw_order_files(rng: np.random.Generator, schedule: DriftSchedule) -> list[OrderFile]:
    """Draw the reference file and one file per batch month, defects injected."""
    layout = [(REFERENCE_FILE, REFERENCE_MONTHS, REFERENCE_DEFECTS_PER_KIND)]
    layout += [(batch_file(month), (month,), BATCH_DEFECTS_PER_KIND) for month in BATCH_MONTHS]
    next_id = 1
    files = []
    for relpath, months, defects_per_kind in layout:
        orders = pd.concat([draw_month(rng, month, schedule.get(month, ())) for month in months])
        orders = orders.sort_values(TIMESTAMP_COLUMN, kind="stable", ignore_index=True)
        numbers = range(next_id, next_id + len(orders))
        orders.insert(0, ID_COLUMN, [f"O{number:07d}" for number in numbers])
        next_id += len(orders)
        start = pd.Timestamp(f"{months[0]}-01")
        end = pd.Timestamp(f"{months[-1]}-01") + pd.offsets.MonthBegin(1)
        cells, defects = inject_defects(rng, format_orders(orders), relpath, end, defects_per_kind)
        files.append(OrderFile(relpath, start, end, cells, defects))
    return files


def draw_month(rng: np.random.Generator, month: str, events: Sequence[str]) -> pd.DataFrame:
    """Clean orders placed in ``month`` under the drift ``events`` active then."""
    n = ORDERS_PER_MONTH + int(rng.integers(-ORDERS_PER_MONTH_JITTER, ORDERS_PER_MONTH_JITTER + 1))
    created_at = _draw_timestamps(rng, pd.Timestamp(f"{month}-01"), n)
    zone_weights = dict(ZONE_WEIGHTS)
    if "new_zone" in events:
        zone_weights = {zone: w * (1 - HARBOR_SHARE) for zone, w in zone_weights.items()}
        zone_weights["harbor"] = HARBOR_SHARE
    city_zone = _draw_category(rng, "city_zone", zone_weights, n)
    median_km = np.array([ZONE_MEDIAN_KM[zone] for zone in city_zone])
    distance_km = np.clip(median_km * rng.lognormal(0.0, 0.55, n), *DISTANCE_KM_RANGE)
    prep_time_min = np.clip(rng.gamma(6.0, 2.7, n), *PREP_TIME_MIN_RANGE)
    if "kitchen_slowdown" in events:
        prep_time_min = prep_time_min * KITCHEN_SLOWDOWN_FACTOR
    weather_weights = RAINY_WEATHER_WEIGHTS if "rainy_season" in events else WEATHER_WEIGHTS
    weather = _draw_category(rng, "weather", weather_weights, n)
    vehicle_weights = EBIKE_VEHICLE_WEIGHTS if "ebike_launch" in events else VEHICLE_WEIGHTS
    vehicle = _draw_category(rng, "vehicle", vehicle_weights, n)
    extra_items = rng.poisson(2.2, n) + rng.binomial(1, 0.05, n) * rng.poisson(8.0, n)
    basket_size = np.minimum(1 + extra_items, MAX_BASKET_SIZE)
    orders = pd.DataFrame(
        {
            TIMESTAMP_COLUMN: created_at,
            "city_zone": city_zone,
            "distance_km": distance_km.round(2),
            "prep_time_min": prep_time_min.round(1),
            "weather": weather,
            "vehicle": vehicle,
            "basket_size": basket_size,
        }
    )
    orders[LABEL_COLUMN] = (rng.random(n) < late_probability(orders)).astype(int)
    return orders


def late_probability(orders: pd.DataFrame) -> np.ndarray:
    """P(is_late) of clean orders under the generator's logistic model."""
    hour = orders[TIMESTAMP_COLUMN].dt.hour.to_numpy()
    rush = np.zeros(len(orders), dtype=bool)
    for first_hour, end_hour in (LUNCH_RUSH, DINNER_RUSH):
        rush |= (hour >= first_hour) & (hour < end_hour)
    logit = (
        LATE_INTERCEPT
        + LATE_PER_KM * (orders["distance_km"] - 4.0)
        + LATE_PER_PREP_MIN * (orders["prep_time_min"] - 16.0)
        + LATE_PER_ITEM * (orders["basket_size"] - 3)
        + LATE_RUSH_HOUR * rush
        + LATE_WEEKEND * (orders[TIMESTAMP_COLUMN].dt.dayofweek >= 5)
        + orders["weather"].map(LATE_WEATHER)
        + orders["vehicle"].map(LATE_VEHICLE)
    )
    return (1.0 / (1.0 + np.exp(-logit))).to_numpy(dtype=float)


def _draw_timestamps(rng: np.random.Generator, month_start: pd.Timestamp, n: int) -> pd.Series:
    """``n`` order times in the month starting at ``month_start``: busy weekends and meal times."""
    days = pd.date_range(month_start, month_start + pd.offsets.MonthBegin(1), inclusive="left")
    day_weights = WEEKDAY_WEIGHTS[days.dayofweek]
    day = rng.choice(len(days), size=n, p=day_weights / day_weights.sum())
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    seconds = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, n)
    return pd.Series(month_start + pd.to_timedelta(seconds, unit="s"))


def _draw_category(rng: np.random.Generator, column: str, weights: dict[str, float], n: int) -> np.ndarray:
    """``n`` draws of ``column`` from the categories in ``weights`` (all in the domain)."""
    names = list(weights)
    unknown = set(names) - set(raw_column(column).categories)
    if unknown:
        raise ValueError(f"categories {sorted(unknown)} are not in the domain of {column}")
    p = np.array(list(weights.values()))
    return np.array(names, dtype=object)[rng.choice(len(names), size=n, p=p / p.sum())]


def format_orders(orders: pd.DataFrame) -> dict[str, np.ndarray]:
    """Clean orders as the strings written to CSV, one object array per raw column."""
    text = {
        ID_COLUMN: orders[ID_COLUMN],
        TIMESTAMP_COLUMN: orders[TIMESTAMP_COLUMN].dt.strftime(TIMESTAMP_FORMAT),
        "distance_km": orders["distance_km"].map("{:.2f}".format),
        "prep_time_min": orders["prep_time_min"].map("{:.1f}".format),
        "basket_size": orders["basket_size"].astype(str),
        LABEL_COLUMN: orders[LABEL_COLUMN].astype(str),
    }
    return {name: np.array(text.get(name, orders[name]), dtype=object) for name in RAW_COLUMN_NAMES}


# ---------------------------------------------------------------------------- defects


def inject_defects(
    rng: np.random.Generator,
    cells: dict[str, np.ndarray],
    relpath: str,
    period_end: pd.Timestamp,
    per_kind: tuple[int, int],
) -> tuple[dict[str, np.ndarray], list[dict[str, object]]]:
    """Damage distinct clean rows in place and append later copies of others (duplicate ids).

    Returns the file's cells and its ledger rows; ``row`` is the 0-based row in the file.
    """
    n = len(cells[ID_COLUMN])
    counts = {kind.name: int(rng.integers(per_kind[0], per_kind[1] + 1)) for kind in DEFECT_KINDS}
    duplicate = next(kind for kind in DEFECT_KINDS if kind.name == "duplicate_id")
    in_place = [kind for kind in DEFECT_KINDS if kind is not duplicate]
    rows = iter(rng.choice(n, size=sum(counts.values()), replace=False))
    hits = []  # (clean row, kind, column)
    for kind in in_place:
        for row in [next(rows) for _ in range(counts[kind.name])]:
            column = kind.columns[int(rng.integers(len(kind.columns)))]
            clean = cells[column][row]
            cells[column][row] = defect_value(rng, kind.name, column, clean, period_end)
            hits.append((row, kind, column))
    sources = np.sort(np.fromiter(rows, dtype=int))
    positions = rng.integers(sources + 1, n + 1)  # each copy lands somewhere after its source
    order = np.insert(np.arange(n), positions, sources)
    is_copy = np.insert(np.zeros(n, dtype=bool), positions, True)
    file_row = np.flatnonzero(~is_copy)  # clean row -> row in the file
    cells = {name: values[order] for name, values in cells.items()}
    hits = [(file_row[row], kind, column) for row, kind, column in hits]
    hits += [(row, duplicate, ID_COLUMN) for row in np.flatnonzero(is_copy)]
    ledger = [
        {
            "file": relpath,
            "row": int(row),
            "order_id": cells[ID_COLUMN][row],
            "defect": kind.name,
            "column": column,
            "expected_action": kind.expected_action,
        }
        for row, kind, column in hits
    ]
    return cells, ledger


def defect_value(rng: np.random.Generator, defect: str, column: str, value: str, period_end: pd.Timestamp) -> str:
    """The damaged text that replaces clean ``value`` in ``column`` for defect kind ``defect``."""
    match defect, column:
        case (("missing_required" | "missing_imputable"), _):
            return ""
        case "impossible_value", "basket_size":
            return str(rng.choice(["0", "-1", "-2"]))
        case "impossible_value", _:
            return f"-{value}"
        case "outlier", _:
            domain_max = raw_column(column).max_value
            return f"{rng.uniform(MAX_PLAUSIBLE_PREP_MIN + 1, domain_max - 1):.1f}"
        case "wrong_type", "distance_km":
            return value.replace(".", ",") if rng.random() < 0.5 else f"{value} km"
        case "wrong_type", "basket_size":
            return NUMBER_WORDS[int(value)]
        case "wrong_type", _:
            return f"{round(float(value))} min"
        case "future_timestamp", _:
            days = int(rng.integers(FUTURE_DAYS[0], FUTURE_DAYS[1] + 1))
            later = pd.Timedelta(days=days, seconds=int(rng.integers(0, 86_400)))
            return (period_end + later).strftime(TIMESTAMP_FORMAT)
        case "unknown_category", _:
            return str(rng.choice(CATEGORY_TYPOS[column]))
    raise ValueError(f"no rule for defect {defect!r} in column {column!r}")


# ---------------------------------------------------------------------------- writing


def _rows(order_file: OrderFile) -> zip:
    """Data rows of a file, in raw column order."""
    return zip(*(order_file.cells[name] for name in RAW_COLUMN_NAMES), strict=False)


def _csv_text(header: Sequence[str], rows) -> str:
    """CSV text with ``\\n`` line endings, quoting only where needed (stable bytes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _manifest_facts(order_file: OrderFile) -> dict[str, object]:
    """Row count and period (end exclusive) recorded for a file in the manifest."""
    return {
        "rows": len(order_file.cells[ID_COLUMN]),
        "period_start": order_file.period_start.strftime("%Y-%m-%d"),
        "period_end": order_file.period_end.strftime("%Y-%m-%d"),
    }


def _discard(folder: Path) -> None:
    """Remove ``folder`` if present, by renaming it away first (safe against concurrent callers)."""
    if not folder.exists():
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}-stale-", dir=folder.parent))
    try:
        os.replace(folder, trash / folder.name)
    except FileNotFoundError:  # another caller discarded it first
        pass
    shutil.rmtree(trash, ignore_errors=True)


# ---------------------------------------------------------------------------- command line


def _variant_arg(text: str) -> int:
    """argparse type: a non-negative integer variant."""
    try:
        variant = int(text)
    except ValueError:
        variant = -1
    if variant < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return variant


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m mlops_kit.datagen --variant N --out DIR``."""
    parser = argparse.ArgumentParser(prog="python -m mlops_kit.datagen", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variant", type=_variant_arg, required=True, help="seed of the variant, a non-negative integer (0 is shipped)"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write data/ and ledger/ into")
    args = parser.parse_args(argv)
    out = generate_variant(args.variant, args.out)
    print(f"variant {args.variant} written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
