"""mlops_kit.data: loads verified order files as strings and names the file when it can't."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlops_kit.data import (
    SHIPPED_DATA_DIR,
    DataLoadError,
    data_variant,
    file_period,
    list_batches,
    load_orders,
)
from mlops_kit.domain import RAW_COLUMN_NAMES
from mlops_kit.manifest import MANIFEST_NAME, read_manifest, write_manifest

MONTHS = ["2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12"]


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped data folder, safe to damage."""
    return Path(shutil.copytree(SHIPPED_DATA_DIR, tmp_path / "data"))


def _write_listed_csv(data_dir: Path, name: str, text: str) -> None:
    """Write ``text`` as ``data_dir/name`` and list it (alone) in a fresh manifest."""
    (data_dir / name).parent.mkdir(parents=True, exist_ok=True)
    (data_dir / name).write_text(text, encoding="utf-8")
    write_manifest(data_dir, {name: {"rows": text.count("\n") - 1}}, variant=0)


# ------------------------------------------------------------------ happy path


def test_shipped_data_dir_is_inside_the_repo() -> None:
    assert SHIPPED_DATA_DIR == Path(__file__).resolve().parents[1] / "datasets" / "v0" / "data"
    assert (SHIPPED_DATA_DIR / MANIFEST_NAME).is_file()


def test_load_reference_as_strings_with_file_row_index() -> None:
    orders = load_orders(SHIPPED_DATA_DIR)
    assert tuple(orders.columns) == RAW_COLUMN_NAMES
    assert isinstance(orders.index, pd.RangeIndex) and orders.index.start == 0
    assert len(orders) == read_manifest(SHIPPED_DATA_DIR)["files"]["reference.csv"]["rows"]
    assert all(pd.api.types.is_string_dtype(dtype) for dtype in orders.dtypes)
    assert orders["distance_km"].isna().any(), "empty fields are missing values"


@pytest.mark.parametrize("name", ["2025-08", "batches/2025-08.csv"])
def test_load_a_batch_by_month_or_path(name: str) -> None:
    batch = load_orders(SHIPPED_DATA_DIR, name)
    assert batch.equals(load_orders(SHIPPED_DATA_DIR, "2025-08"))
    assert len(batch) == read_manifest(SHIPPED_DATA_DIR)["files"]["batches/2025-08.csv"]["rows"]


def test_batches_periods_and_variant() -> None:
    assert list_batches(SHIPPED_DATA_DIR) == MONTHS
    assert file_period(SHIPPED_DATA_DIR, "reference") == (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-07-01"))
    assert file_period(SHIPPED_DATA_DIR, "2025-12") == (pd.Timestamp("2025-12-01"), pd.Timestamp("2026-01-01"))
    assert data_variant(SHIPPED_DATA_DIR) == 0


def test_only_empty_fields_are_missing(tmp_path: Path) -> None:
    header = ",".join(RAW_COLUMN_NAMES)
    row = 'O1,2025-01-01 12:00:00,NA,"4,25",None,Rain ,null,three,1'
    _write_listed_csv(tmp_path, "reference.csv", f"{header}\n{row}\nO2,,,,,,,,\n")
    orders = load_orders(tmp_path)
    assert orders.loc[0].tolist() == ["O1", "2025-01-01 12:00:00", "NA", "4,25", "None", "Rain ", "null", "three", "1"]
    assert orders.loc[1].drop("order_id").isna().all()


def test_loader_stays_light() -> None:
    code = "import sys, mlops_kit.data; print(sorted({'mlflow', 'evidently', 'sklearn', 'pandera'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


# ------------------------------------------------------------------ errors name the file


def test_corrupted_file_is_named(data_copy: Path) -> None:
    path = data_copy / "batches" / "2025-08.csv"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DataLoadError, match=r"corrupted.*2025-08\.csv"):
        load_orders(data_copy, "2025-08")
    load_orders(data_copy, "2025-07")  # the other files still load


def test_missing_file_is_named(data_copy: Path) -> None:
    (data_copy / "reference.csv").unlink()
    with pytest.raises(DataLoadError, match=r"missing.*reference\.csv"):
        load_orders(data_copy)


def test_missing_manifest_is_named(data_copy: Path) -> None:
    (data_copy / MANIFEST_NAME).unlink()
    with pytest.raises(DataLoadError, match=r"manifest missing.*manifest\.json"):
        load_orders(data_copy)
    with pytest.raises(DataLoadError, match="manifest missing"):
        list_batches(data_copy)


def test_missing_data_dir_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataLoadError, match=r"data folder missing.*nowhere"):
        load_orders(tmp_path / "nowhere")


def test_unknown_batch_lists_the_available_ones() -> None:
    with pytest.raises(DataLoadError, match=r"'2026-01'.*available: reference, 2025-07, .*2025-12"):
        load_orders(SHIPPED_DATA_DIR, "2026-01")
    with pytest.raises(DataLoadError, match="available"):
        file_period(SHIPPED_DATA_DIR, "training")


def test_file_not_in_manifest_is_named(data_copy: Path) -> None:
    shutil.copy(data_copy / "batches" / "2025-12.csv", data_copy / "batches" / "2026-01.csv")
    with pytest.raises(DataLoadError, match=r"2026-01\.csv is not listed"):
        load_orders(data_copy, "2026-01")


def test_bad_header_names_missing_and_extra_columns(tmp_path: Path) -> None:
    header = ",".join(RAW_COLUMN_NAMES).replace("basket_size", "items")
    _write_listed_csv(tmp_path, "batches/2025-07.csv", f"{header}\n")
    with pytest.raises(
        DataLoadError,
        match=r"2025-07\.csv.*missing columns \['basket_size'\].*"
        r"unexpected columns \['items'\]",
    ):
        load_orders(tmp_path, "2025-07")


def test_reordered_header_is_rejected(tmp_path: Path) -> None:
    header = ",".join(reversed(RAW_COLUMN_NAMES))
    _write_listed_csv(tmp_path, "reference.csv", f"{header}\n")
    with pytest.raises(DataLoadError, match="out of order"):
        load_orders(tmp_path)


def test_errors_are_value_errors() -> None:
    assert issubclass(DataLoadError, ValueError)
