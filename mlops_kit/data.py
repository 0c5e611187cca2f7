"""Loading the order data: the reference period and the monthly production batches.

A data folder (the shipped ``datasets/v0/data`` or a generated variant's ``data``) holds::

    reference.csv            the reference (training) period
    batches/2025-07.csv ...  one file per production month
    manifest.json            sha256, row count and period of every file, plus the variant

Every read checks the file against the manifest first, so a changed or truncated file is
reported by name instead of silently feeding a model. Columns come back as strings, exactly
as written (an empty field is missing): parsing and validating them is module 1's job.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_kit.datagen import (
    BATCH_FOLDER,
    DATA_FOLDER,
    GENERATOR_VERSION,
    REFERENCE_FILE,
    SHIPPED_VARIANT_DIR,
    batch_file,
    ensure_variant,
)
from mlops_kit.domain import RAW_COLUMN_NAMES
from mlops_kit.manifest import MANIFEST_NAME, ManifestError, read_manifest, verify_file

REFERENCE_NAME = "reference"
GENERATED_ROOT: Path = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlops-kit" / f"generator-{GENERATOR_VERSION}"
)
"""Where an installed mlops_kit regenerates the shipped data (no repository next to it)."""
SHIPPED_DATA_DIR: Path = (
    SHIPPED_VARIANT_DIR / DATA_FOLDER
    if (SHIPPED_VARIANT_DIR / DATA_FOLDER).is_dir()
    else GENERATED_ROOT / "v0" / DATA_FOLDER
)
"""Variant 0: the repository's ``datasets/v0/data`` in a checkout, else its regenerated copy (see ``shipped_data_dir``)."""
_MONTH = re.compile(r"\d{4}-\d{2}")
_BATCH_FILE = re.compile(rf"{BATCH_FOLDER}/(\d{{4}}-\d{{2}})\.csv")


class DataLoadError(ValueError):
    """A data folder, its manifest or one of its files is missing, changed or malformed."""


def shipped_data_dir() -> Path:
    """The shipped data folder, regenerated once (byte for byte) when mlops_kit is installed without the repository.

    The wheel carries code only: the generator reproduces variant 0 exactly (tests/test_datasets.py
    checks it against the repository's copy) in about two seconds, so the 1 MB of CSV is not packaged twice.
    """
    if not (SHIPPED_DATA_DIR / MANIFEST_NAME).is_file() and SHIPPED_DATA_DIR.parent.parent == GENERATED_ROOT:
        ensure_variant(0, GENERATED_ROOT)
    return SHIPPED_DATA_DIR


def data_file(name: str) -> str:
    """Relative path of a named file: ``reference``, a month ``2025-07`` or a relative path."""
    if name == REFERENCE_NAME:
        return REFERENCE_FILE
    if _MONTH.fullmatch(name):
        return batch_file(name)
    return Path(name).as_posix()


def load_manifest(data_dir: str | Path) -> dict[str, Any]:
    """Read ``data_dir/manifest.json``; DataLoadError if the folder or manifest is missing."""
    folder = shipped_data_dir() if Path(data_dir) == SHIPPED_DATA_DIR else Path(data_dir)
    if not folder.is_dir():
        raise DataLoadError(f"data folder missing: {folder}")
    try:
        return read_manifest(folder)
    except ManifestError as error:
        raise DataLoadError(f"{error} (regenerate the folder with `python -m mlops_kit.datagen`)") from error


def list_batches(data_dir: str | Path) -> list[str]:
    """Months (``YYYY-MM``) of the production batches listed in the manifest, sorted."""
    return _batches_in(load_manifest(data_dir))


def data_variant(data_dir: str | Path) -> int:
    """The generator variant (seed) the data folder was made with."""
    return int(load_manifest(data_dir)["variant"])


def file_period(data_dir: str | Path, name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Period a file covers, from the manifest: (start inclusive, end exclusive)."""
    manifest = load_manifest(data_dir)
    entry = manifest["files"][_listed_file(data_dir, name, manifest)]
    return pd.Timestamp(entry["period_start"]), pd.Timestamp(entry["period_end"])


def load_orders(data_dir: str | Path, name: str = REFERENCE_NAME) -> pd.DataFrame:
    """Read one order file, every column as string, after checking its sha256.

    ``name`` is ``reference``, a month such as ``2025-07`` or a relative path such as
    ``batches/2025-07.csv``. The index is the 0-based data row in the file, which is how
    rows are matched to the generator's defect ledger.
    """
    manifest = load_manifest(data_dir)
    relpath = _listed_file(data_dir, name, manifest)
    try:
        verify_file(data_dir, relpath, manifest)
    except ManifestError as error:
        raise DataLoadError(str(error)) from error
    path = Path(data_dir) / relpath
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataLoadError(f"cannot read {path} as CSV: {error}") from error
    _check_header(path, list(frame.columns))
    return frame


def _batches_in(manifest: dict[str, Any]) -> list[str]:
    """Months of the batch files a manifest lists, sorted."""
    matches = (_BATCH_FILE.fullmatch(name) for name in manifest["files"])
    return sorted(match.group(1) for match in matches if match)


def _listed_file(data_dir: str | Path, name: str, manifest: dict[str, Any]) -> str:
    """Relative path of ``name`` if the manifest lists it; DataLoadError naming it otherwise."""
    relpath = data_file(name)
    if relpath in manifest["files"]:
        return relpath
    path = Path(data_dir) / relpath
    if path.is_file():
        raise DataLoadError(f"{path} is not listed in {Path(data_dir) / MANIFEST_NAME}")
    available = ", ".join([REFERENCE_NAME, *_batches_in(manifest)])
    raise DataLoadError(f"unknown data file {name!r} in {data_dir}; available: {available}")


def _check_header(path: Path, columns: list[str]) -> None:
    """DataLoadError naming missing and extra columns unless the header is the raw columns."""
    if tuple(columns) == RAW_COLUMN_NAMES:
        return
    missing = [name for name in RAW_COLUMN_NAMES if name not in columns]
    extra = [name for name in columns if name not in RAW_COLUMN_NAMES]
    problems = [f"missing columns {missing}"] if missing else []
    problems += [f"unexpected columns {extra}"] if extra else []
    problems = problems or [f"columns out of order {columns}, expected {list(RAW_COLUMN_NAMES)}"]
    raise DataLoadError(f"{path} does not have the raw order columns: {'; '.join(problems)}")
