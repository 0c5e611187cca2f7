"""mlops_kit.pipeline's engine: declared stages, content-hash cache, run records, atomic outputs, failures.

Toy stages on hand-made frames; the course's own pipeline is tested in test_pipeline_orders.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_kit.hashing import UnhashableError, to_canonical
from mlops_kit.pipeline import (
    LATEST_RECORD,
    NOTIFICATIONS_FILE,
    Cache,
    Output,
    Pipeline,
    PipelineDefinitionError,
    Stage,
    StageFailed,
    StageFailure,
    code_version,
    frame_hash,
    hash_value,
    list_runs,
    output_hash,
    read_notifications,
    read_run_record,
)


def numbers(count: int, folder: str = "") -> Output:
    """A source stage: ``count`` rows."""
    return Output(pd.DataFrame({"x": range(count)}), facts={"count": count})


def doubled(numbers: pd.DataFrame, factor: int = 2) -> pd.DataFrame:
    return numbers.assign(y=numbers["x"] * factor)


def clipped(numbers: pd.DataFrame, limit: int = 1000) -> pd.DataFrame:
    """Output independent of ``limit`` as long as it is above every x."""
    return numbers.assign(x=numbers["x"].clip(upper=limit))


def halves(doubled: pd.DataFrame) -> dict[str, pd.DataFrame]:
    middle = len(doubled) // 2
    return {"first": doubled.iloc[:middle], "second": doubled.iloc[middle:]}


def summary(doubled: pd.DataFrame) -> dict[str, Any]:
    return {"rows": len(doubled), "total": int(doubled["y"].sum())}


def failing(doubled: pd.DataFrame) -> pd.DataFrame:
    raise RuntimeError("the disk is full")


def halves_again(doubled: pd.DataFrame) -> dict[str, pd.DataFrame]:
    # same as ``halves``: a new code version, so only this stage runs again
    middle = len(doubled) // 2
    return {"first": doubled.iloc[:middle], "second": doubled.iloc[middle:]}


def after_broken(broken: pd.DataFrame) -> pd.DataFrame:
    return broken


def anything(**inputs: Any) -> pd.DataFrame:
    return pd.DataFrame()


def doubled_clipped(clipped: pd.DataFrame) -> pd.DataFrame:
    return clipped.assign(y=clipped["x"] * 2)


def doubled_again(numbers: pd.DataFrame, factor: int = 2) -> pd.DataFrame:
    # same computation as ``doubled``, different source: a new code version
    return numbers.assign(y=numbers["x"] * factor)


def toy(count: int = 6, factor: int = 2, folder: str = "/data/a") -> Pipeline:
    return Pipeline(
        [
            Stage("numbers", numbers, params={"count": count}, context={"folder": folder}),
            Stage("doubled", doubled, inputs=["numbers"], params={"factor": factor}),
            Stage("summary", summary, inputs=["doubled"]),
            Stage("halves", halves, inputs=["doubled"]),
        ],
        name="toy",
    )


def statuses(result: Any) -> dict[str, str]:
    return result.statuses()


def tree(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


# --- caching and lineage ----------------------------------------------------------------------


def test_first_run_runs_everything_and_records_lineage(tmp_path: Path) -> None:
    result = toy().run(tmp_path)
    assert result.ok and statuses(result) == dict.fromkeys(["numbers", "doubled", "summary", "halves"], "ran")
    record = read_run_record(tmp_path)
    assert record == json.loads((tmp_path / "runs" / "0001.json").read_text()) == result.record
    assert record["run_id"] == "0001" and record["status"] == "succeeded" and record["pipeline"] == "toy"
    by_name = {entry["name"]: entry for entry in record["stages"]}
    assert by_name["numbers"]["rows_in"] is None and by_name["numbers"]["rows_out"] == 6
    assert by_name["doubled"]["inputs"] == {"numbers": by_name["numbers"]["output_hash"]}
    assert by_name["doubled"]["rows_in"] == 6 and by_name["halves"]["parts"] == {"first": 3, "second": 3}
    assert by_name["summary"]["rows_out"] is None, "a JSON output has no rows"
    for entry in record["stages"]:
        assert len(entry["cache_key"]) == len(entry["output_hash"]) == len(entry["code_version"]) == 16
        assert entry["duration_s"] >= 0 and entry["error"] is None
    assert record["facts"] == {"count": 6}
    assert "duration_s" not in result.table().columns, "the notebook table shows no wall times"
    assert result.output("summary") == {"rows": 6, "total": 30}


def test_second_run_is_all_cache_hits_with_the_same_outputs(tmp_path: Path) -> None:
    first = toy().run(tmp_path)
    second = toy().run(tmp_path)
    assert set(statuses(second).values()) == {"cached"}
    assert [e["cache_key"] for e in first.record["stages"]] == [e["cache_key"] for e in second.record["stages"]]
    assert second.output("halves")["second"].equals(first.output("halves")["second"])
    assert second.output("summary") == first.output("summary")
    assert second.facts == {"count": 6}, "facts come back from the cache"
    assert list_runs(tmp_path) == ["0001", "0002"]
    assert read_run_record(tmp_path)["run_id"] == "0002"
    assert read_run_record(tmp_path, "0001")["stages"][0]["status"] == "ran"


def test_a_parameter_change_reruns_its_stage_and_downstream_only(tmp_path: Path) -> None:
    toy().run(tmp_path)
    result = toy(factor=3).run(tmp_path)
    assert statuses(result) == {"numbers": "cached", "doubled": "ran", "summary": "ran", "halves": "ran"}
    assert result.output("summary")["total"] == 45
    back = toy(factor=2).run(tmp_path)
    assert set(statuses(back).values()) == {"cached"}, "every version stays in the cache"


def test_same_output_keeps_downstream_cached(tmp_path: Path) -> None:
    """Keys use input *content*: a stage that re-runs to the same output invalidates nothing below it."""

    def pipeline(limit: int) -> Pipeline:
        return Pipeline(
            [
                Stage("numbers", numbers, params={"count": 4}),
                Stage("clipped", clipped, inputs=["numbers"], params={"limit": limit}),
                Stage("doubled", doubled_clipped, inputs=["clipped"]),
            ]
        )

    pipeline(100).run(tmp_path)
    assert statuses(pipeline(200).run(tmp_path)) == {"numbers": "cached", "clipped": "ran", "doubled": "cached"}
    assert statuses(pipeline(2).run(tmp_path)) == {"numbers": "cached", "clipped": "ran", "doubled": "ran"}


def test_code_change_reruns_and_context_change_does_not(tmp_path: Path) -> None:
    toy().run(tmp_path)
    moved = toy(folder="/data/elsewhere").run(tmp_path)
    assert set(statuses(moved).values()) == {"cached"}, "context is not part of the key"
    edited = toy().replace(toy().stage("doubled").replace(func=doubled_again)).run(tmp_path)
    assert statuses(edited) == {"numbers": "cached", "doubled": "ran", "summary": "cached", "halves": "cached"}
    assert code_version(doubled) != code_version(doubled_again)


def test_a_deleted_cache_entry_is_rebuilt(tmp_path: Path) -> None:
    first = toy().run(tmp_path)
    key = first.stage("numbers")["cache_key"]
    (tmp_path / "cache" / "numbers" / key / "meta.json").write_text("{broken")
    result = toy().run(tmp_path)
    assert statuses(result)["numbers"] == "ran" and statuses(result)["doubled"] == "cached"
    import shutil

    shutil.rmtree(tmp_path / "cache" / "doubled")
    result = toy(factor=2).run(tmp_path)
    assert statuses(result) == {"numbers": "cached", "doubled": "ran", "summary": "cached", "halves": "cached"}


# --- failures: recorded, notified, nothing half-written -------------------------------------------


def failing_pipeline(hook: Any = None) -> Pipeline:
    return Pipeline(
        [
            Stage("numbers", numbers, params={"count": 6}),
            Stage("doubled", doubled, inputs=["numbers"], params={"factor": 2}),
            Stage("broken", failing, inputs=["doubled"]),
            Stage("after", after_broken, inputs=["broken"]),
            Stage("summary", summary, inputs=["doubled"]),
        ]
    )


def test_a_failing_stage_is_recorded_skips_downstream_and_notifies(tmp_path: Path) -> None:
    calls: list[StageFailure] = []
    toy().run(tmp_path)
    before = tree(tmp_path / "cache")
    result = failing_pipeline().run(tmp_path, on_failure=calls.append)
    assert not result.ok and result.record["status"] == "failed"
    assert statuses(result) == {
        "numbers": "cached",
        "doubled": "cached",
        "broken": "failed",
        "after": "skipped",
        "summary": "cached",
    }
    broken = result.stage("broken")
    assert broken["error"] == "RuntimeError: the disk is full" and "RuntimeError" in broken["traceback"]
    assert broken["output_hash"] is None and broken["notified"] is True
    assert [(call.stage, call.run_id, call.skipped) for call in calls] == [("broken", result.run_id, ("after",))]
    assert tree(tmp_path / "cache") == before, "the last good outputs are untouched and nothing was added"
    with pytest.raises(StageFailed, match="stage 'broken' failed: RuntimeError: the disk is full"):
        result.raise_for_failure()
    with pytest.raises(StageFailed, match="'after' has no output"):
        result.output("after")
    assert result.output("summary") == {"rows": 6, "total": 30}, "other branches still ran"
    assert read_run_record(tmp_path)["status"] == "failed"


def test_default_hook_appends_to_the_notifications_log(tmp_path: Path) -> None:
    failing_pipeline().run(tmp_path)
    second = failing_pipeline().run(tmp_path)
    notes = read_notifications(tmp_path)
    assert notes == read_notifications(tmp_path / NOTIFICATIONS_FILE)
    assert [(note["event"], note["stage"], note["run_id"]) for note in notes] == [
        ("stage_failed", "broken", "0001"),
        ("stage_failed", "broken", second.run_id),
    ]
    assert notes[0]["error"] == "RuntimeError: the disk is full" and notes[0]["skipped"] == ["after"]
    assert read_notifications(tmp_path / "nowhere") == []


def test_a_broken_hook_does_not_hide_the_failure(tmp_path: Path) -> None:
    def hook(failure: StageFailure) -> None:
        raise ConnectionError("chat service down")

    result = failing_pipeline().run(tmp_path, on_failure=hook)
    broken = result.stage("broken")
    assert broken["status"] == "failed" and broken["notified"] is False
    assert broken["notification_error"] == "ConnectionError: chat service down"
    assert (tmp_path / LATEST_RECORD).is_file()


def test_an_output_the_cache_cannot_store_fails_the_stage(tmp_path: Path) -> None:
    def unstorable(numbers: pd.DataFrame) -> Any:
        return {1, 2, 3}

    result = Pipeline(
        [Stage("numbers", numbers, params={"count": 2}), Stage("bad", unstorable, inputs=["numbers"])]
    ).run(tmp_path)
    assert result.stage("bad")["status"] == "failed"
    assert "StageOutputError" in result.stage("bad")["error"] and "set" in result.stage("bad")["error"]
    assert not (tmp_path / "cache" / "bad").exists() or not any((tmp_path / "cache" / "bad").iterdir())


def test_a_write_that_fails_half_way_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first part is written, the second write raises: no entry, no temporary folder."""
    toy().run(tmp_path)
    before = tree(tmp_path / "cache")
    written: list[Any] = []
    original = pd.DataFrame.to_parquet

    def flaky(self: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        if written:
            raise OSError("No space left on device")
        written.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", flaky)
    pipeline = toy().replace(toy().stage("halves").replace(func=halves_again))
    result = pipeline.run(tmp_path, on_failure=lambda failure: None)
    assert len(written) == 1, "the first part was written before the failure"
    assert result.stage("halves")["status"] == "failed" and "No space left" in result.stage("halves")["error"]
    assert tree(tmp_path / "cache") == before
    assert not list((tmp_path / "cache").glob("*/.tmp-*"))


def test_leftovers_of_a_killed_write_are_removed(tmp_path: Path) -> None:
    leftover = tmp_path / "cache" / "numbers" / ".tmp-deadbeef-1234"
    leftover.mkdir(parents=True)
    (leftover / "data.parquet").write_bytes(b"half")
    toy().run(tmp_path)
    assert not leftover.exists()


# --- declarations are checked before anything runs ------------------------------------------------


def _opaque(numbers: pd.DataFrame, **anything: Any) -> pd.DataFrame:
    return numbers


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Pipeline([]), "at least one stage"),
        (
            lambda: Pipeline([Stage("a", numbers, params={"count": 1}), Stage("a", numbers, params={"count": 2})]),
            "two stages are called 'a'",
        ),
        (lambda: Pipeline([Stage("b", anything, inputs=["missing"])]), "takes the output of ['missing']"),
        (lambda: Pipeline([Stage("x", anything, inputs=["y"]), Stage("y", anything, inputs=["x"])]), "in a cycle"),
        (lambda: Stage("Bad Name", numbers), "stage name 'Bad Name'"),
        (lambda: Stage("a", numbers, params={"count": object()}), "cannot be hashed"),
        (lambda: Stage("a", numbers, params={"cuont": 3}), "cannot be called with"),
        (lambda: Stage("a", doubled, inputs=["numbers"], params={"numbers": 1}), "used twice"),
        (lambda: Stage("a", doubled, inputs=["a"]), "name the stage itself"),
        (lambda: Stage("a", "not a function"), "func must be a function"),
        (lambda: Pipeline(["ingest"]), "every stage must be a Stage"),
    ],
)
def test_bad_declarations_are_refused(build: Any, message: str) -> None:
    with pytest.raises(PipelineDefinitionError) as error:
        build()
    assert message in str(error.value)


def test_pipeline_orders_stages_by_their_inputs() -> None:
    stages = list(toy().stages)
    shuffled = Pipeline([stages[3], stages[2], stages[1], stages[0]])
    assert shuffled.names == ["numbers", "doubled", "halves", "summary"]
    assert toy().downstream("doubled") == ["summary", "halves"]
    assert ("numbers", "doubled") in toy().edges
    assert list(toy().describe()["stage"]) == toy().names
    Stage("a", _opaque, inputs=["numbers"], params={"anything": 1})  # **kwargs accepts any parameter
    with pytest.raises(KeyError, match="no stage 'nope'"):
        toy().stage("nope")


# --- hashes ------------------------------------------------------------------------------------------


def test_frame_hash_survives_parquet_and_sees_every_change(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "s": ["a", "b", None],
            "t": pd.to_datetime(["2025-01-01", None, "2025-02-01"]),
            "n": pd.array([1, None, 3], dtype="Int64"),
        },
        index=pd.Index([5, 6, 9], name="source_row"),
    ).astype({"s": "str"})
    frame.to_parquet(tmp_path / "f.parquet")
    assert frame_hash(pd.read_parquet(tmp_path / "f.parquet")) == frame_hash(frame)
    assert frame_hash(frame.rename(columns={"s": "S"})) != frame_hash(frame)
    assert frame_hash(frame.set_axis([5, 6, 10])) != frame_hash(frame)
    assert frame_hash(frame.astype({"n": "float64"})) != frame_hash(frame)
    assert frame_hash(frame.iloc[:0]) != frame_hash(frame)
    assert output_hash({"a": frame}) != output_hash({"b": frame})


def test_canonical_values() -> None:
    assert hash_value({"b": 1, "a": [1.0, "x"]}) == hash_value({"a": (1.0, "x"), "b": 1})
    assert to_canonical({"when": pd.Timestamp("2025-07-01"), "path": Path("a/b")}) == {
        "path": "a/b",
        "when": "2025-07-01T00:00:00",
    }
    assert to_canonical(doubled)["code_version"] == code_version(doubled)
    with pytest.raises(UnhashableError, match="dict keys must be strings"):
        to_canonical({1: "x"})
    with pytest.raises(UnhashableError, match="DataFrame cannot be hashed"):
        to_canonical(pd.DataFrame())


def test_cache_entries_are_listed(tmp_path: Path) -> None:
    toy().run(tmp_path)
    toy(count=4).run(tmp_path)
    entries = Cache(tmp_path / "cache").entries("numbers")
    assert sorted(entry.rows for entry in entries) == [4, 6]
    assert Cache(tmp_path / "cache").entries("nope") == []
