"""What every module's artifact tests share: the manifest precondition and row lists in messages.

Integrity is never a source of points; when it fails, every check of the module fails with
the same clear message instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd

from mlops_kit.artifacts import read_module_manifest
from mlops_kit.manifest import ManifestError


def fail(message: str) -> NoReturn:
    """Fail the current check (or fixture) with ``message``, the text the learner reads."""
    raise AssertionError(message)


def require_manifest(artifacts_dir: Path, module: str, variant: int, required_files: Sequence[str]) -> dict[str, Any]:
    """The module's verified manifest, listing ``required_files``, for the graded ``variant``."""
    try:
        manifest = read_module_manifest(artifacts_dir, module)
    except ManifestError as error:
        fail(f"artifacts incomplete: {error}")
    missing = [name for name in required_files if name not in manifest["files"]]
    if missing:
        fail(f"the manifest does not list {missing}; run the notebook's last cell")
    if manifest.get("variant") != variant:
        fail(f"artifacts are for data variant {manifest.get('variant')}, the graded variant is {variant}")
    return manifest


def read_artifact_json(module_folder: Path, name: str) -> Any:
    """A JSON file the module's notebook wrote; a clear failure when it is missing or not JSON."""
    path = module_folder / name
    where = f"{module_folder.name}/{name}"
    if not path.is_file():
        fail(f"{where} is missing: run the notebook to the end")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        fail(f"{where} is not JSON: {error}")


def rows_text(rows: Iterable[Any], limit: int = 5) -> str:
    """The first ``limit`` of ``rows``, sorted, and how many more: for failure messages."""
    rows = sorted(rows)
    shown = ", ".join(str(row) for row in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def expected_clean_text(raw: pd.DataFrame, defects: pd.DataFrame) -> pd.DataFrame:
    """The clean rows of one raw file as text, from the ledger alone (not with mlops_kit.validation).

    Rows the ledger quarantines are dropped; imputable gaps are filled as the datasheet says:
    ``prep_time_min`` with the median of the kept valid values, ``weather`` with the most
    frequent kept value (alphabetical on a tie). Numbers are written as Python floats/ints write
    them, which is how the canonical clean CSV stores typed values.
    """
    quarantined = set(defects.loc[defects["expected_action"] == "quarantine", "row"].astype(int))
    clean = raw.drop(index=sorted(quarantined)).copy()
    prep = clean["prep_time_min"].astype(float)
    clean["prep_time_min"] = prep.fillna(float(prep.dropna().median())).map(repr)
    counts = clean["weather"].dropna().value_counts()
    clean["weather"] = clean["weather"].fillna(sorted(counts.index[counts == counts.max()])[0])
    clean["distance_km"] = clean["distance_km"].astype(float).map(repr)
    clean["basket_size"] = clean["basket_size"].astype(float).astype("int64").astype(str)
    clean["is_late"] = clean["is_late"].astype(float).astype("int64").astype(str)
    return clean


def expected_data_version(raw: pd.DataFrame, defects: pd.DataFrame) -> str:
    """The data version of the graded file's clean rows: sha256 of their canonical CSV, 16 hex digits."""
    clean = expected_clean_text(raw, defects)
    lines = ["source_row," + ",".join(clean.columns)]
    lines += [",".join([str(row), *values]) for row, values in zip(clean.index, clean.to_numpy().tolist(), strict=True)]
    return hashlib.sha256(("\n".join(lines) + "\n").encode("utf-8")).hexdigest()[:16]
