"""The stage cache: one folder per (stage, cache key), written atomically, never changed after.

Layout under the pipeline's work folder::

    cache/<stage>/<cache key>/data.parquet       a DataFrame output
    cache/<stage>/<cache key>/<part>.parquet     a dict-of-DataFrames output (e.g. train, valid)
    cache/<stage>/<cache key>/data.json          a JSON output
    cache/<stage>/<cache key>/meta.json          output hash, rows, facts (written last)

An entry is written into ``cache/<stage>/.tmp-<key>-<random>/`` and renamed into place
only when every file is complete, so a stage that fails half-way leaves nothing behind and
an existing entry is never half-overwritten.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_kit.hashing import UnhashableError, output_hash, to_canonical
from mlops_kit.io import atomic_write_json
from mlops_kit.pipeline.errors import PipelineError

META_FILE = "meta.json"
FRAME_FILE = "data.parquet"
JSON_FILE = "data.json"
TEMP_PREFIX = ".tmp-"
_PART_NAME = re.compile(r"[A-Za-z0-9_-]+")


class StageOutputError(PipelineError, TypeError):
    """A stage returned something the cache cannot store."""


@dataclass(frozen=True)
class CacheEntry:
    """A stored stage output: where it is, its content hash, its size and its facts."""

    stage: str
    key: str
    path: Path
    output_hash: str
    kind: str
    rows: int | None
    parts: dict[str, int] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()


class Cache:
    """Content-addressed storage of stage outputs under ``root`` (``<work folder>/cache``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def entry_dir(self, stage: str, key: str) -> Path:
        """Folder of the entry for ``stage`` and ``key`` (it may not exist)."""
        return self.root / stage / key

    def lookup(self, stage: str, key: str) -> CacheEntry | None:
        """The complete entry for ``stage`` and ``key``, or None (missing or damaged: a miss)."""
        folder = self.entry_dir(stage, key)
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            entry = CacheEntry(
                stage=stage,
                key=key,
                path=folder,
                output_hash=str(meta["output_hash"]),
                kind=str(meta["kind"]),
                rows=meta.get("rows"),
                parts=dict(meta.get("parts", {})),
                facts=dict(meta.get("facts", {})),
                files=tuple(meta["files"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not all((folder / name).is_file() for name in entry.files):
            return None
        return entry

    def store(self, stage: str, key: str, value: Any, facts: Mapping[str, Any] | None = None) -> CacheEntry:
        """Write ``value`` (a DataFrame, a dict of DataFrames or JSON data) atomically; return its entry."""
        kind = output_kind(value)
        try:
            clean_facts = to_canonical(dict(facts or {}), f"stage {stage!r} facts")
        except UnhashableError as error:
            raise StageOutputError(str(error)) from error
        stage_dir = self.root / stage
        stage_dir.mkdir(parents=True, exist_ok=True)
        temporary = stage_dir / f"{TEMP_PREFIX}{key}-{uuid.uuid4().hex[:8]}"
        temporary.mkdir()
        try:
            files, rows, parts = _write_value(temporary, kind, value)
            meta = {
                "stage": stage,
                "cache_key": key,
                "output_hash": output_hash(value),
                "kind": kind,
                "files": files,
                "rows": rows,
                "parts": parts,
                "facts": clean_facts,
            }
            atomic_write_json(temporary / META_FILE, meta)
            final = self.entry_dir(stage, key)
            if final.exists():
                if self.lookup(stage, key) is not None:  # written meanwhile: same key, same content
                    shutil.rmtree(temporary, ignore_errors=True)
                    return self.lookup(stage, key)  # type: ignore[return-value]
                shutil.rmtree(final)  # a damaged entry: replace it
            os.rename(temporary, final)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        entry = self.lookup(stage, key)
        assert entry is not None, f"cache entry {final} unreadable right after writing it"
        return entry

    def load(self, entry: CacheEntry) -> Any:
        """Read a stored output back (same dtypes and index as stored)."""
        if entry.kind == "frame":
            return pd.read_parquet(entry.path / FRAME_FILE)
        if entry.kind == "frames":
            return {Path(name).stem: pd.read_parquet(entry.path / name) for name in entry.files}
        return json.loads((entry.path / JSON_FILE).read_text(encoding="utf-8"))

    def entries(self, stage: str) -> list[CacheEntry]:
        """Every complete entry of ``stage``, oldest first."""
        folder = self.root / stage
        if not folder.is_dir():
            return []
        found = [self.lookup(stage, path.name) for path in folder.iterdir() if not path.name.startswith(".")]
        return sorted((entry for entry in found if entry is not None), key=lambda entry: entry.path.stat().st_mtime)

    def remove_temporary(self) -> list[Path]:
        """Delete leftovers of writes that were killed (not raised: those clean up themselves)."""
        removed = []
        for path in self.root.glob(f"*/{TEMP_PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        return removed


def output_kind(value: Any) -> str:
    """``frame``, ``frames`` or ``json``; StageOutputError for anything the cache cannot store."""
    if isinstance(value, pd.DataFrame):
        return "frame"
    if isinstance(value, Mapping) and value and all(isinstance(part, pd.DataFrame) for part in value.values()):
        bad = [name for name in value if not isinstance(name, str) or not _PART_NAME.fullmatch(name)]
        if bad:
            raise StageOutputError(f"output part names must be letters, digits, _ or -: {bad}")
        return "frames"
    if isinstance(value, pd.Series):
        raise StageOutputError("a stage output cannot be a Series; return series.to_frame()")
    try:
        to_canonical(value, "output")
    except UnhashableError as error:
        raise StageOutputError(
            f"a stage must return a DataFrame, a dict of DataFrames or JSON data, not {type(value).__name__} ({error})"
        ) from error
    return "json"


def _write_value(folder: Path, kind: str, value: Any) -> tuple[list[str], int | None, dict[str, int]]:
    """Write the output files; return their names, the rows and the rows per part."""
    if kind == "frame":
        value.to_parquet(folder / FRAME_FILE)
        return [FRAME_FILE], len(value), {}
    if kind == "frames":
        files = []
        for name, part in value.items():
            part.to_parquet(folder / f"{name}.parquet")
            files.append(f"{name}.parquet")
        parts = {name: len(part) for name, part in value.items()}
        return files, sum(parts.values()), parts
    (folder / JSON_FILE).write_text(json.dumps(to_canonical(value), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return [JSON_FILE], None, {}
