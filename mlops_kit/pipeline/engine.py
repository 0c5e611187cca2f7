"""``Pipeline``: declared stages, run in dependency order with content-hash caching and lineage.

Each stage's **cache key** is a hash of its name, its code version, its parameters and the
*output hashes* of its inputs. A stage whose key is in the cache is not run (``cached``);
otherwise it runs (``ran``) and its output is stored atomically. Because keys use the
content of the inputs, a stage that re-runs but produces the same output leaves every
downstream stage cached. A stage that raises is ``failed``: nothing of it is stored, the
failure hook is called, and the stages that depend on it are ``skipped``.

Every run writes a **run record** (``runs/<run id>.json`` and ``run_record.json``, the
latest): per stage its status, cache key, input and output hashes, rows in and out,
facts, duration and error.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_kit.hashing import hash_value, to_canonical
from mlops_kit.io import atomic_write_json
from mlops_kit.pipeline.cache import Cache, CacheEntry
from mlops_kit.pipeline.errors import PipelineDefinitionError, StageFailed
from mlops_kit.pipeline.notify import NOTIFICATIONS_FILE, FailureHook, NotificationLog, StageFailure
from mlops_kit.pipeline.stage import Output, Stage

RUNS_FOLDER = "runs"
LATEST_RECORD = "run_record.json"
CACHE_FOLDER = "cache"
STATUSES = ("ran", "cached", "failed", "skipped")


class Pipeline:
    """Stages in dependency order. Declaring checks names, inputs and cycles; ``run`` executes."""

    def __init__(self, stages: Iterable[Stage], name: str = "pipeline") -> None:
        stages = list(stages)
        if not stages:
            raise PipelineDefinitionError("a pipeline needs at least one stage")
        bad = [type(stage).__name__ for stage in stages if not isinstance(stage, Stage)]
        if bad:
            raise PipelineDefinitionError(f"every stage must be a Stage, got {bad}")
        self.name = name
        self.stages: tuple[Stage, ...] = tuple(_dependency_order(stages))

    @property
    def names(self) -> list[str]:
        """Stage names in run order."""
        return [stage.name for stage in self.stages]

    def stage(self, name: str) -> Stage:
        """The stage called ``name``; KeyError naming the stages otherwise."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"no stage {name!r} in pipeline {self.name!r}; stages: {', '.join(self.names)}")

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(upstream, downstream) pairs."""
        return [(source, stage.name) for stage in self.stages for source in stage.inputs]

    def downstream(self, name: str) -> list[str]:
        """Stages that depend on ``name``, directly or not, in run order."""
        self.stage(name)
        affected = {name}
        for stage in self.stages:
            if affected & set(stage.inputs):
                affected.add(stage.name)
        return [stage for stage in self.names if stage in affected and stage != name]

    def replace(self, stage: Stage) -> Pipeline:
        """A new pipeline with the stage of the same name replaced by ``stage``."""
        self.stage(stage.name)
        return Pipeline([stage if old.name == stage.name else old for old in self.stages], self.name)

    def with_params(self, name: str, **params: Any) -> Pipeline:
        """A new pipeline with some parameters of stage ``name`` changed."""
        return self.replace(self.stage(name).with_params(**params))

    def add(self, stage: Stage) -> Pipeline:
        """A new pipeline with one more stage."""
        return Pipeline([*self.stages, stage], self.name)

    def describe(self) -> pd.DataFrame:
        """One row per stage: inputs, function, parameters (shortened), code version."""
        rows = []
        for stage in self.stages:
            params = ", ".join(f"{key}={_short(value)}" for key, value in stage.params.items())
            rows.append((stage.name, ", ".join(stage.inputs) or "—", getattr(stage.func, "__name__", "?"), params))
        return pd.DataFrame(rows, columns=["stage", "inputs", "function", "params"])

    def run(self, workdir: str | Path, on_failure: FailureHook | None = None) -> RunResult:
        """Run every stage that is not cached; return the run's result (never raises for a stage failure).

        ``on_failure`` is called with a StageFailure for each failed stage; the default
        appends a line to ``<workdir>/notifications.log``.
        """
        return _Run(self, Path(workdir), on_failure).execute()

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}: {' → '.join(self.names)})"


class RunResult:
    """The outcome of one run: its record, and the outputs of its stages (loaded on demand)."""

    def __init__(self, pipeline: Pipeline, workdir: Path, record: dict[str, Any], memory: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.workdir = workdir
        self.record = record
        self._memory = memory
        self._cache = Cache(workdir / CACHE_FOLDER)

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def ok(self) -> bool:
        """True when no stage failed."""
        return self.record["status"] == "succeeded"

    @property
    def path(self) -> Path:
        """The run's record file, ``runs/<run id>.json``."""
        return self.workdir / RUNS_FOLDER / f"{self.run_id}.json"

    @property
    def facts(self) -> dict[str, Any]:
        """Facts of every stage that has an output (data version, feature-set version, ...)."""
        return dict(self.record.get("facts", {}))

    def stage(self, name: str) -> dict[str, Any]:
        """The record of stage ``name`` in this run."""
        for entry in self.record["stages"]:
            if entry["name"] == name:
                return entry
        raise KeyError(f"no stage {name!r} in run {self.run_id}; stages: {', '.join(self.statuses())}")

    def statuses(self) -> dict[str, str]:
        """Stage name → ran, cached, failed or skipped."""
        return {entry["name"]: entry["status"] for entry in self.record["stages"]}

    def output(self, name: str) -> Any:
        """The output of stage ``name`` (from this run or the cache); StageFailed if it has none."""
        entry = self.stage(name)
        if entry["status"] not in ("ran", "cached"):
            reason = entry.get("error") or "an upstream stage failed"
            raise StageFailed(f"stage {name!r} has no output in run {self.run_id}: it {entry['status']} ({reason})")
        if name not in self._memory:
            cached = self._cache.lookup(name, entry["cache_key"])
            if cached is None:
                raise StageFailed(
                    f"the cached output of stage {name!r} ({entry['cache_key']}) is gone from {self._cache.root}"
                )
            self._memory[name] = self._cache.load(cached)
        return self._memory[name]

    def raise_for_failure(self) -> RunResult:
        """StageFailed naming the failed stage and its error, unless the run succeeded."""
        failed = [entry for entry in self.record["stages"] if entry["status"] == "failed"]
        if failed:
            first = failed[0]
            raise StageFailed(f"run {self.run_id}: stage {first['name']!r} failed: {first['error']}")
        return self

    def table(self) -> pd.DataFrame:
        """One row per stage: status, rows in and out, cache key, output hash, error (no durations)."""
        rows = [
            (
                entry["name"],
                entry["status"],
                entry["rows_in"],
                entry["rows_out"],
                entry["cache_key"] or "",
                entry["output_hash"] or "",
                entry["error"] or "",
            )
            for entry in self.record["stages"]
        ]
        columns = ["stage", "status", "rows_in", "rows_out", "cache_key", "output_hash", "error"]
        table = pd.DataFrame(rows, columns=columns)
        for column in ("rows_in", "rows_out"):
            table[column] = table[column].astype("Int64")
        return table.set_index("stage")

    def __repr__(self) -> str:
        statuses = ", ".join(f"{name}={status}" for name, status in self.statuses().items())
        return f"RunResult(run {self.run_id}, {self.record['status']}: {statuses})"


def read_run_record(workdir: str | Path, run_id: str | None = None) -> dict[str, Any]:
    """A run record from a pipeline folder: ``run_id``'s, or the latest. FileNotFoundError if absent."""
    folder = Path(workdir)
    path = folder / LATEST_RECORD if run_id is None else folder / RUNS_FOLDER / f"{run_id}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no run record {path}; run the pipeline first")
    return json.loads(path.read_text(encoding="utf-8"))


def list_runs(workdir: str | Path) -> list[str]:
    """Run ids recorded in a pipeline folder, oldest first."""
    folder = Path(workdir) / RUNS_FOLDER
    if not folder.is_dir():
        return []
    return sorted((path.stem for path in folder.glob("*.json")), key=lambda run_id: (len(run_id), run_id))


class _Run:
    """The state of one run while it executes."""

    def __init__(self, pipeline: Pipeline, workdir: Path, on_failure: FailureHook | None) -> None:
        self.pipeline = pipeline
        self.workdir = workdir
        self.cache = Cache(workdir / CACHE_FOLDER)
        self.hook = on_failure if on_failure is not None else NotificationLog(workdir / NOTIFICATIONS_FILE)
        self.entries: dict[str, CacheEntry] = {}
        self.memory: dict[str, Any] = {}
        self.records: list[dict[str, Any]] = []

    def execute(self) -> RunResult:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cache.remove_temporary()
        started = time.perf_counter()
        record = _claim_run(self.workdir / RUNS_FOLDER, self.pipeline.name)
        run_id = record["run_id"]
        record["stages"] = self.records
        unavailable: set[str] = set()
        for stage in self.pipeline.stages:
            if unavailable & set(stage.inputs):
                self.records.append(self._skipped(stage))
                unavailable.add(stage.name)
                continue
            entry = self._run_stage(stage, run_id)
            self.records.append(entry)
            if entry["status"] == "failed":
                unavailable.add(stage.name)
                skipped = tuple(self.pipeline.downstream(stage.name))
                entry["notified"] = self._notify(stage, entry, run_id, skipped)
        record["status"] = "failed" if unavailable else "succeeded"
        record["finished_at"] = _now()
        record["duration_s"] = round(time.perf_counter() - started, 3)
        record["facts"] = {
            key: value
            for entry in self.records
            if entry["status"] in ("ran", "cached")
            for key, value in entry["facts"].items()
        }
        atomic_write_json(self.workdir / RUNS_FOLDER / f"{run_id}.json", record)
        atomic_write_json(self.workdir / LATEST_RECORD, record)
        return RunResult(self.pipeline, self.workdir, record, self.memory)

    def _run_stage(self, stage: Stage, run_id: str) -> dict[str, Any]:
        started = time.perf_counter()
        input_hashes = {name: self.entries[name].output_hash for name in stage.inputs}
        code = stage.code_version()
        key = hash_value({"stage": stage.name, "code_version": code, "params": stage.params, "inputs": input_hashes})
        upstream_rows = [self.entries[name].rows for name in stage.inputs if self.entries[name].rows is not None]
        entry = _stage_entry(stage, "cached", code, key, input_hashes, sum(upstream_rows) if upstream_rows else None)
        stored = self.cache.lookup(stage.name, key)
        if stored is None:
            try:
                arguments = {name: self._load(name) for name in stage.inputs}
                value = stage.func(**arguments, **stage.params, **stage.context)
                facts: Mapping[str, Any] = {}
                if isinstance(value, Output):
                    value, facts = value.value, value.facts
                stored = self.cache.store(stage.name, key, value, facts)
            except Exception as error:  # a stage's failure is recorded, never raised
                entry.update(
                    status="failed",
                    error=f"{type(error).__name__}: {error}",
                    traceback="".join(traceback.format_exception(error)[-3:]),
                    duration_s=round(time.perf_counter() - started, 3),
                )
                return entry
            self.memory[stage.name] = value
            entry["status"] = "ran"
        self.entries[stage.name] = stored
        entry.update(
            output_hash=stored.output_hash,
            rows_out=stored.rows,
            parts=stored.parts,
            facts=stored.facts,
            duration_s=round(time.perf_counter() - started, 3),
        )
        return entry

    def _load(self, name: str) -> Any:
        if name not in self.memory:
            self.memory[name] = self.cache.load(self.entries[name])
        return self.memory[name]

    def _skipped(self, stage: Stage) -> dict[str, Any]:
        inputs = {name: self.entries[name].output_hash if name in self.entries else None for name in stage.inputs}
        entry = _stage_entry(stage, "skipped", stage.code_version(), None, inputs, None)
        entry.update(error="skipped: an upstream stage failed", duration_s=0.0)
        return entry

    def _notify(self, stage: Stage, entry: dict[str, Any], run_id: str, skipped: tuple[str, ...]) -> bool | str:
        failure = StageFailure(
            pipeline=self.pipeline.name,
            run_id=run_id,
            stage=stage.name,
            error=entry["error"],
            cache_key=entry["cache_key"],
            skipped=skipped,
            workdir=str(self.workdir),
        )
        try:
            self.hook(failure)
        except Exception as error:  # a broken hook must not hide the stage's own failure
            entry["notification_error"] = f"{type(error).__name__}: {error}"
            return False
        return True


def _stage_entry(
    stage: Stage,
    status: str,
    code_version: str,
    cache_key: str | None,
    inputs: Mapping[str, str | None],
    rows_in: int | None,
) -> dict[str, Any]:
    """The one shape of a stage's entry in a run record; outputs, facts and errors are filled in later."""
    return {
        "name": stage.name,
        "func": f"{getattr(stage.func, '__module__', '?')}.{getattr(stage.func, '__qualname__', '?')}",
        "status": status,
        "cache_key": cache_key,
        "code_version": code_version,
        "params": to_canonical(stage.params),
        "inputs": dict(inputs),
        "rows_in": rows_in,
        "output_hash": None,
        "rows_out": None,
        "parts": {},
        "facts": {},
        "error": None,
    }


def _dependency_order(stages: list[Stage]) -> list[Stage]:
    """Stages sorted so that each comes after its inputs (declaration order otherwise)."""
    by_name: dict[str, Stage] = {}
    for stage in stages:
        if stage.name in by_name:
            raise PipelineDefinitionError(f"two stages are called {stage.name!r}")
        by_name[stage.name] = stage
    for stage in stages:
        unknown = [name for name in stage.inputs if name not in by_name]
        if unknown:
            raise PipelineDefinitionError(
                f"stage {stage.name!r} takes the output of {unknown}, which is not a stage of this pipeline "
                f"(stages: {', '.join(by_name)})"
            )
    ordered: list[Stage] = []
    done: set[str] = set()
    pending = list(stages)
    while pending:
        ready = [stage for stage in pending if set(stage.inputs) <= done]
        if not ready:
            raise PipelineDefinitionError(
                f"the stages {[stage.name for stage in pending]} depend on each other in a cycle"
            )
        ordered.append(ready[0])
        done.add(ready[0].name)
        pending.remove(ready[0])
    return ordered


def _claim_run(folder: Path, pipeline: str) -> dict[str, Any]:
    """The record of a new run under the next free id (``0001``, ``0002``...), claimed by creating its file."""
    folder.mkdir(parents=True, exist_ok=True)
    number = max((int(path.stem) for path in folder.glob("*.json") if path.stem.isdigit()), default=0) + 1
    while True:
        record: dict[str, Any] = {
            "run_id": f"{number:04d}",
            "pipeline": pipeline,
            "started_at": _now(),
            "status": "running",
        }
        try:
            with open(folder / f"{record['run_id']}.json", "x", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            return record
        except FileExistsError:
            number += 1


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value) if isinstance(value, (int, float, str)) else f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"
