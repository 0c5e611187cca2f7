"""The seeded generator: reproducible, variant-dependent, and its ledgers tell the truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_kit import datagen
from mlops_kit.data import REFERENCE_FILE, file_period, load_orders
from mlops_kit.datagen import (
    BATCH_DEFECTS_PER_KIND,
    BATCH_MONTHS,
    DATA_FOLDER,
    DEFECT_KINDS,
    DRIFT_EVENTS,
    DRIFT_EVENTS_PER_VARIANT,
    GENERATOR_VERSION,
    LEDGER_FOLDER,
    MAX_PLAUSIBLE_PREP_MIN,
    REFERENCE_DEFECTS_PER_KIND,
    SHIPPED_VARIANT_DIR,
    ensure_variant,
    generate_variant,
    read_defect_ledger,
    read_drift_ledger,
)
from mlops_kit.domain import ID_COLUMN, RAW_COLUMNS, TIMESTAMP_COLUMN, TIMESTAMP_FORMAT, raw_column
from mlops_kit.manifest import read_manifest, verify_manifest, write_manifest
from mlops_kit.scenarios import CANARY_FAULTS, SCENARIO_STREAM, SKEW_KINDS, draw_scenarios

pytestmark = pytest.mark.xdist_group("datasets")  # the generated variants (module fixture) are built once
VARIANTS = (0, 7)
NUMERIC_KINDS = ("float", "int", "label")
EXPECTED_ACTION = {kind.name: kind.expected_action for kind in DEFECT_KINDS}


@pytest.fixture(scope="module")
def variant_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Variants 0 and 7, generated once for this module."""
    root = tmp_path_factory.mktemp("variants")
    return {variant: generate_variant(variant, root / f"v{variant}") for variant in VARIANTS}


def _files_under(folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under the data and ledger folders."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for sub in (DATA_FOLDER, LEDGER_FOLDER)
        for path in sorted((folder / sub).rglob("*"))
        if path.is_file()
    }


def _load_files(variant_dir: Path) -> dict[str, pd.DataFrame]:
    """Every data file of a variant, keyed by its path relative to data/."""
    data_dir = variant_dir / DATA_FOLDER
    return {name: load_orders(data_dir, name) for name in read_manifest(data_dir)["files"]}


def _active_months(drift: pd.DataFrame) -> dict[str, list[str]]:
    """Event -> months it is active, from a drift ledger."""
    return {event: sorted(rows["month"]) for event, rows in drift.groupby("event")}


# ------------------------------------------------------------------ reproducibility


def test_regenerating_variant_0_reproduces_the_shipped_files(variant_dirs: dict[int, Path]) -> None:
    shipped = _files_under(SHIPPED_VARIANT_DIR)
    regenerated = _files_under(variant_dirs[0])
    assert sorted(regenerated) == sorted(shipped)
    changed = [name for name in shipped if shipped[name] != regenerated[name]]
    assert not changed, f"regenerated variant 0 differs from datasets/v0 in {changed}"


def test_variants_differ_in_defect_rows_and_drift(variant_dirs: dict[int, Path]) -> None:
    ledgers = {v: read_defect_ledger(variant_dirs[v]) for v in VARIANTS}
    rows = {v: set(zip(ledger["file"], ledger["row"], ledger["defect"], strict=False)) for v, ledger in ledgers.items()}
    assert rows[0] != rows[7]
    drifts = {v: _active_months(read_drift_ledger(variant_dirs[v])) for v in VARIANTS}
    assert drifts[0] != drifts[7]


def test_manifest_lists_every_data_file_with_rows_and_period(variant_dirs: dict[int, Path]) -> None:
    data_dir = variant_dirs[7] / DATA_FOLDER
    manifest = verify_manifest(data_dir)
    expected = [REFERENCE_FILE, *(f"batches/{month}.csv" for month in BATCH_MONTHS)]
    assert sorted(manifest["files"]) == sorted(expected)
    assert (manifest["dataset"], manifest["variant"], manifest["generator_version"]) == ("orders", 7, GENERATOR_VERSION)
    for name, frame in _load_files(variant_dirs[7]).items():
        assert manifest["files"][name]["rows"] == len(frame)
    assert manifest["files"][REFERENCE_FILE]["period_start"] == "2025-01-01"
    assert manifest["files"][REFERENCE_FILE]["period_end"] == "2025-07-01"
    assert manifest["files"]["batches/2025-12.csv"]["period_end"] == "2026-01-01"


def test_files_are_sorted_sized_and_have_unix_line_endings(variant_dirs: dict[int, Path]) -> None:
    for name, frame in _load_files(variant_dirs[0]).items():
        raw = (variant_dirs[0] / DATA_FOLDER / name).read_bytes()
        assert b"\r" not in raw
        months = 6 if name == REFERENCE_FILE else 1
        assert 1400 * months <= len(frame) <= 1600 * months, name
        defect_rows = read_defect_ledger(variant_dirs[0]).query("file == @name")["row"]
        created = pd.to_datetime(frame[TIMESTAMP_COLUMN].drop(index=defect_rows), format=TIMESTAMP_FORMAT)
        assert created.is_monotonic_increasing, name


# ------------------------------------------------------------------ the defect ledger


@pytest.mark.parametrize("variant", VARIANTS)
def test_defect_ledger_is_well_formed(variant_dirs: dict[int, Path], variant: int) -> None:
    ledger = read_defect_ledger(variant_dirs[variant])
    files = _load_files(variant_dirs[variant])
    assert list(ledger.columns) == list(datagen.DEFECT_LEDGER_COLUMNS)
    assert ledger.equals(ledger.sort_values(["file", "row"], ignore_index=True))
    assert not ledger.duplicated(["file", "row"]).any(), "one defect per row at most"
    assert (ledger["expected_action"] == ledger["defect"].map(EXPECTED_ACTION)).all()
    for name, rows in ledger.groupby("file"):
        assert (files[name].loc[rows["row"], ID_COLUMN].to_numpy() == rows["order_id"].to_numpy()).all()
        low, high = REFERENCE_DEFECTS_PER_KIND if name == REFERENCE_FILE else BATCH_DEFECTS_PER_KIND
        counts = rows["defect"].value_counts()
        assert set(counts.index) == set(EXPECTED_ACTION), f"{name} lacks a defect kind"
        assert counts.between(low, high).all(), f"{name}: {counts.to_dict()}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_ledger_row_shows_its_defect_in_the_data(variant_dirs: dict[int, Path], variant: int) -> None:
    files = _load_files(variant_dirs[variant])
    data_dir = variant_dirs[variant] / DATA_FOLDER
    for entry in read_defect_ledger(variant_dirs[variant]).itertuples():
        frame = files[entry.file]
        value = frame.at[entry.row, entry.column]
        where = f"{entry.file} row {entry.row} ({entry.defect} in {entry.column}): {value!r}"
        match entry.defect:
            case "missing_required" | "missing_imputable":
                assert pd.isna(value), where
            case "impossible_value":
                column = raw_column(entry.column)
                assert float(value) < column.min_value or float(value) > column.max_value, where
            case "outlier":
                assert MAX_PLAUSIBLE_PREP_MIN < float(value) < raw_column(entry.column).max_value, where
            case "duplicate_id":
                earlier = frame.loc[: entry.row - 1]
                copies = earlier[earlier[ID_COLUMN] == value]
                assert len(copies) == 1, where
                assert copies.iloc[0].equals(frame.loc[entry.row]), f"{where} is not a copy"
            case "wrong_type":
                assert pd.isna(pd.to_numeric(value, errors="coerce")), where
            case "future_timestamp":
                _, period_end = file_period(data_dir, entry.file)
                assert pd.Timestamp(value) >= period_end + pd.Timedelta(days=30), where
                assert value == pd.Timestamp(value).strftime(TIMESTAMP_FORMAT), where
            case "unknown_category":
                assert value not in raw_column(entry.column).categories, where
            case _:
                pytest.fail(f"unexpected defect kind {entry.defect}")


@pytest.mark.parametrize("variant", VARIANTS)
def test_rows_outside_the_ledger_satisfy_the_domain(variant_dirs: dict[int, Path], variant: int) -> None:
    ledger = read_defect_ledger(variant_dirs[variant])
    data_dir = variant_dirs[variant] / DATA_FOLDER
    for name, frame in _load_files(variant_dirs[variant]).items():
        clean = frame.drop(index=ledger.loc[ledger["file"] == name, "row"])
        assert not clean.isna().any().any(), name
        assert clean[ID_COLUMN].is_unique, name
        start, end = file_period(data_dir, name)
        created = pd.to_datetime(clean[TIMESTAMP_COLUMN], format=TIMESTAMP_FORMAT)
        assert created.between(start, end, inclusive="left").all(), name
        for column in RAW_COLUMNS:
            if column.kind in NUMERIC_KINDS:
                values = pd.to_numeric(clean[column.name])  # raises on a stray non-number
                assert values.between(column.min_value, column.max_value).all(), (name, column.name)
                if column.kind != "float":
                    assert (values == values.round()).all(), (name, column.name)
            if column.kind == "category":
                assert clean[column.name].isin(column.categories).all(), (name, column.name)
        assert pd.to_numeric(clean["prep_time_min"]).max() <= 90, name


@pytest.mark.parametrize("variant", VARIANTS)
def test_reference_has_no_production_only_categories(variant_dirs: dict[int, Path], variant: int) -> None:
    reference = load_orders(variant_dirs[variant] / DATA_FOLDER)
    assert "harbor" not in set(reference["city_zone"])
    assert "ebike" not in set(reference["vehicle"])
    assert 0.25 <= pd.to_numeric(reference["is_late"]).mean() <= 0.35


# ------------------------------------------------------------------ the drift ledger


@pytest.mark.parametrize("variant", VARIANTS)
def test_drift_schedule_follows_the_rules(variant_dirs: dict[int, Path], variant: int) -> None:
    drift = read_drift_ledger(variant_dirs[variant])
    assert list(drift.columns) == list(datagen.DRIFT_LEDGER_COLUMNS)
    active = _active_months(drift)
    assert len(active) == DRIFT_EVENTS_PER_VARIANT
    starts = [months[0] for months in active.values()]
    assert len(set(starts)) == len(starts) and min(starts) >= "2025-08"
    for event in DRIFT_EVENTS:
        if event.name in active:
            start = BATCH_MONTHS.index(active[event.name][0])
            end = len(BATCH_MONTHS) if event.months is None else start + event.months
            assert active[event.name] == list(BATCH_MONTHS[start:end]), event.name
            assert set(drift.loc[drift["event"] == event.name, "columns"]) == {";".join(event.columns)}


@pytest.mark.parametrize("variant", VARIANTS)
def test_drift_ledger_matches_the_data(variant_dirs: dict[int, Path], variant: int) -> None:
    ledger = read_defect_ledger(variant_dirs[variant])
    clean = {
        name: frame.drop(index=ledger.loc[ledger["file"] == name, "row"])
        for name, frame in _load_files(variant_dirs[variant]).items()
    }
    reference = clean.pop(REFERENCE_FILE)
    active = _active_months(read_drift_ledger(variant_dirs[variant]))
    rain_share = reference["weather"].isin(["rain", "storm"]).mean()
    prep_mean = pd.to_numeric(reference["prep_time_min"]).mean()
    for month in BATCH_MONTHS:
        batch = clean[f"batches/{month}.csv"]
        on = {event for event, months in active.items() if month in months}
        rainy = batch["weather"].isin(["rain", "storm"]).mean() > rain_share + 0.2
        assert rainy == ("rainy_season" in on), month
        assert (batch["city_zone"] == "harbor").any() == ("new_zone" in on), month
        assert ((batch["vehicle"] == "ebike").mean() > 0.2) == ("ebike_launch" in on), month
        assert (batch["vehicle"] == "ebike").any() == ("ebike_launch" in on), month
        slow = pd.to_numeric(batch["prep_time_min"]).mean() > 1.25 * prep_mean
        assert slow == ("kitchen_slowdown" in on), month


# ------------------------------------------------------------------ cache and command line


def test_ensure_variant_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ensure_variant(3, tmp_path)
    assert first == tmp_path / "v3"
    assert read_manifest(first / DATA_FOLDER)["variant"] == 3

    def fail(*args: object) -> None:
        raise AssertionError("a current cached variant must not be regenerated")

    monkeypatch.setattr(datagen, "generate_variant", fail)
    assert ensure_variant(3, tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["v3"], "no staging folders left behind"


def test_ensure_variant_regenerates_a_stale_or_damaged_variant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(datagen, "GENERATOR_VERSION", "0-old")
        old = ensure_variant(3, tmp_path)
        assert read_manifest(old / DATA_FOLDER)["generator_version"] == "0-old"
    fresh = ensure_variant(3, tmp_path)
    assert read_manifest(fresh / DATA_FOLDER)["generator_version"] == GENERATOR_VERSION
    (fresh / DATA_FOLDER / "batches" / "2025-09.csv").write_text("order_id\n", encoding="utf-8")
    ensure_variant(3, tmp_path)
    verify_manifest(fresh / DATA_FOLDER)
    assert [p.name for p in tmp_path.iterdir()] == ["v3"]


def test_ensure_variant_regenerates_when_the_manifest_names_another_variant(tmp_path: Path) -> None:
    folder = ensure_variant(5, tmp_path)
    files = read_manifest(folder / DATA_FOLDER)["files"]
    write_manifest(folder / DATA_FOLDER, {name: {} for name in files}, variant=6, generator_version=GENERATOR_VERSION)
    assert read_manifest(ensure_variant(5, tmp_path) / DATA_FOLDER)["variant"] == 5


def test_cli_writes_a_variant(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlops_kit.datagen", "--variant", "2", "--out", str(tmp_path / "v2")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert read_manifest(tmp_path / "v2" / DATA_FOLDER)["variant"] == 2


@pytest.mark.parametrize("bad", ["-1", "two", "1.5"])
def test_cli_rejects_a_bad_variant(tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        datagen.main(["--variant", bad, "--out", str(tmp_path)])
    assert exit_info.value.code != 0
    assert "non-negative integer" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_generate_variant_rejects_a_negative_variant(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        generate_variant(-1, tmp_path)


# ------------------------------------------------------------------ the scenarios ledger (modules 6 and 7)


def test_scenarios_are_drawn_per_variant_and_well_formed(variant_dirs: dict[int, Path]) -> None:
    scenarios = {v: datagen.read_scenarios(variant_dirs[v]) for v in VARIANTS}
    skews = {(kind.feature, kind.bug) for kind in SKEW_KINDS}
    faults = {fault.kind for fault in CANARY_FAULTS}
    for variant, drawn in scenarios.items():
        assert (drawn["skew"]["feature"], drawn["skew"]["bug"]) in skews, variant
        assert drawn["canary_fault"]["kind"] in faults, variant
    assert scenarios[0]["skew"]["feature"] != scenarios[7]["skew"]["feature"], "variants 0 and 7 plant the same skew"
    assert scenarios[0]["canary_fault"]["kind"] != scenarios[7]["canary_fault"]["kind"]


def test_scenarios_change_no_data(tmp_path: Path, variant_dirs: dict[int, Path]) -> None:
    """The scenarios come from their own random stream: the data files do not depend on them."""
    rng = np.random.default_rng([*datagen.variant_seed(7), SCENARIO_STREAM])
    assert datagen.read_scenarios(variant_dirs[7]) == json.loads(json.dumps(draw_scenarios(rng)))
    reference = (variant_dirs[7] / DATA_FOLDER / REFERENCE_FILE).read_bytes()
    rng = datagen.variant_rng(7)
    files = datagen.draw_order_files(rng, datagen.draw_drift_schedule(rng))
    assert datagen._csv_text(datagen.RAW_COLUMN_NAMES, datagen._rows(files[0])).encode() == reference
