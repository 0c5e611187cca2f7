"""Artifact checks for module 7 (rollback & fault tolerance).

The truth comes from the graded variant: its ledger says which fault the faulty challenger has (so
which analysis must catch it), its data which orders the load replayed (their city zones, their
labels), its reference file the data version every registered challenger must carry. The notebook's
own records are recomputed, never trusted: the fault's signature in the canary's recorded calls,
client-visible failures counted from the load results (one row per request) and cross-checked with
the router's own counts, the champion alias read from the MLflow database with MLflow's client.
Integrity (manifest, variant, lineage of the challengers) is a precondition of every check.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from grading.artifact_tests.shared import expected_data_version, fail, require_manifest, rows_text
from mlops_kit.course import module_id
from mlops_kit.datagen import read_defect_ledger, read_scenarios
from mlops_kit.registry.policy import CHAMPION
from mlops_kit.registry.tracking import DEFAULT_MODEL_NAME

MODULE = module_id(7)
REQUIRED_FILES = (
    "events.jsonl",
    "rollout_spec.yaml",
    "load_faulty.csv",
    "load_good.csv",
    "calls_faulty.csv",
    "router_faulty.json",
    "router_good.json",
    "processes.json",
    "alias_state.json",
)
SCENARIOS = ("faulty", "good")
CATCHES = {"error_slice": "error_rate", "latency": "latency_p99", "prediction_shift": "prediction_shift"}
"""Which analysis should catch each kind of fault."""
JUDGING_SLACK_S = 2.0
"""Time allowed after the last failed interval ends to read it, judge it and set the weight to 0."""
REFERENCE_FILE = "reference.csv"


@dataclass(frozen=True)
class Module7:
    """What the notebook left: the module folder, its spec, events, load results and the registry."""

    folder: Path
    spec: dict[str, Any]
    events: list[dict[str, Any]]
    versions: dict[str, Any]
    aliases: dict[str, str]

    def json(self, name: str) -> Any:
        path = self.folder / name
        if not path.is_file():
            fail(f"{MODULE}/{name} is missing")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            fail(f"{MODULE}/{name} is not JSON: {error}")

    def csv(self, name: str) -> pd.DataFrame:
        path = self.folder / name
        if not path.is_file():
            fail(f"{MODULE}/{name} is missing")
        return pd.read_csv(path)

    def of(self, rollout: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("rollout") == rollout and (kind is None or e.get("event") == kind)]

    def version_of(self, candidate: str) -> str:
        found = [number for number, v in self.versions.items() if v.tags.get("candidate") == candidate]
        if not found:
            fail(f"no registered version of {DEFAULT_MODEL_NAME!r} is tagged candidate={candidate!r}")
        return max(found, key=int)

    def decisions(self, rollout: str) -> list[dict[str, Any]]:
        folder = self.folder / "decisions"
        found = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob(f"{rollout}_*.json"))]
        return sorted(found, key=lambda d: d.get("number", 0))


@pytest.fixture(scope="session")
def m7(artifacts_dir: Path, data_dir: Path, variant_dir: Path, variant: int) -> Module7:
    require_manifest(artifacts_dir, MODULE, variant, REQUIRED_FILES)
    folder = artifacts_dir / MODULE
    try:
        events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines() if line.strip()]
        spec = yaml.safe_load((folder / "rollout_spec.yaml").read_text())
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        fail(f"{MODULE}: the event log or the rollout spec cannot be read: {error}")
    database = artifacts_dir / "mlflow.db"
    if not database.is_file():
        fail("no MLflow database at ARTIFACTS_DIR/mlflow.db")
    from mlflow import MlflowClient

    uri = f"sqlite:///{database.resolve().as_posix()}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = {str(v.version): v for v in client.search_model_versions(f"name = '{DEFAULT_MODEL_NAME}'")}
    aliases = {a: str(v) for a, v in client.get_registered_model(DEFAULT_MODEL_NAME).aliases.items()}
    found = Module7(folder, spec, events, versions, aliases)
    raw = pd.read_csv(data_dir / REFERENCE_FILE, dtype=str, keep_default_na=False, na_values=[""])
    defects = read_defect_ledger(variant_dir)
    expected = expected_data_version(raw, defects[defects["file"] == REFERENCE_FILE])
    for candidate in ("canary_good", "canary_faulty"):
        tag = versions[found.version_of(candidate)].tags.get("data_version")
        if tag != expected:
            fail(f"the {candidate} challenger was trained on data version {tag}, not the graded data ({expected})")
    return found


@pytest.fixture(scope="session")
def fault(variant_dir: Path) -> dict[str, Any]:
    return read_scenarios(variant_dir)["canary_fault"]


@pytest.fixture(scope="session")
def month(data_dir: Path) -> pd.DataFrame:
    """The graded variant's newest month, raw, indexed by order id (what the load replayed)."""
    from mlops_kit.data import list_batches, load_orders

    orders = load_orders(data_dir, list_batches(data_dir)[-1])
    return orders.drop_duplicates("order_id").set_index("order_id")


@pytest.mark.points(4)
def test_faulty_challenger_rolled_back_by_the_analysis_that_catches_its_fault(
    m7: Module7, fault: dict[str, Any], month: pd.DataFrame
) -> None:
    """The faulty challenger was rolled back by the analysis that catches its fault, within the spec's bound, and stopped."""
    metric = CATCHES[fault["kind"]]
    rollbacks = m7.of("faulty", "rollback")
    assert rollbacks, "the faulty challenger was never rolled back (no rollback event for rollout 'faulty')"
    rollback = rollbacks[-1]
    assert metric in (rollback.get("failed_metrics") or []), (
        f"this variant's faulty challenger has a {fault['kind']} fault, which {metric} should catch; the rollback "
        f"names {rollback.get('failed_metrics')}"
    )
    decisions = m7.decisions("faulty")
    assert decisions and decisions[-1].get("verdict") == "fail", "the last decision record of 'faulty' is not a fail"
    verdicts = {m.get("name"): m.get("verdict") for m in decisions[-1].get("metrics", [])}
    assert verdicts.get(metric) == "fail", f"the last decision record says {metric}: {verdicts.get(metric)}"
    analysis = m7.spec.get("analysis") or {}
    bound = float(analysis.get("failure_limit", 1)) * float(analysis.get("interval_s", 0)) + JUDGING_SLACK_S
    took = float(rollback["weight_zero_t"]) - float(rollback["first_breach_t"])
    assert took <= bound, (
        f"the weight reached 0 {took:.1f} s after the first failed interval began; the spec allows {bound:.1f} s"
    )
    weights = [e.get("weight") for e in m7.of("faulty", "weight") if e["t"] <= rollback["t"]]
    assert weights and weights[-1] == 0, "the canary's weight was not set to 0 at the rollback"
    assert m7.of("faulty", "canary_stopped"), "no canary_stopped event: the faulty canary kept running"
    calls = m7.csv("calls_faulty.csv")
    window = calls[(calls["t"] >= rollback["first_breach_t"]) & (calls["t"] <= rollback["weight_zero_t"])]
    canary, stable = window[window["arm"] == "canary"], window[window["arm"] == "stable"]
    assert len(canary) > 0, "the canary made no call in the failed interval"
    if fault["kind"] == "error_slice":
        failed = canary[canary["outcome"] == "error"]
        zones = month.reindex(failed["key"])["city_zone"]
        assert len(failed) > 0 and (zones == fault["city_zone"]).all(), (
            f"the canary's errors should all be orders of city zone {fault['city_zone']!r}; got zones "
            f"{rows_text(sorted(set(zones.dropna())))}"
        )
    elif fault["kind"] == "latency":
        slower = float(canary["latency_ms"].median() - stable["latency_ms"].median())
        assert slower >= 0.8 * fault["extra_ms"], (
            f"the canary's calls should be about {fault['extra_ms']} ms slower; they are {slower:.0f} ms slower"
        )
    else:
        shift = float(canary["probability"].median() - stable["probability"].median())
        assert shift >= 0.5 * fault["shift"], (
            f"the canary's probabilities should be shifted up by about {fault['shift']}; medians differ by {shift:.3f}"
        )


@pytest.mark.points(3)
def test_good_challenger_promoted_after_every_step_passed(m7: Module7) -> None:
    """The good challenger passed an analysis at every step (never failure_limit failures in a row), took 100 % and was promoted."""
    good = m7.version_of("canary_good")
    decisions = m7.decisions("good")
    assert decisions, "no decision records for rollout 'good' (decisions/good_*.json)"
    limit = int((m7.spec.get("analysis") or {}).get("failure_limit", 1))
    failed, run = [], 0
    for decision in decisions:
        run = 0 if decision.get("verdict") == "pass" else run + (decision.get("verdict") == "fail")
        failed += [decision.get("number")] if decision.get("verdict") == "fail" else []
        assert run < limit, (
            f"analyses {failed} of the good challenger failed, {run} in a row: the failure limit is {limit}"
        )
    passed = [d.get("weight") for d in decisions if d.get("verdict") == "pass"]
    assert passed == m7.spec.get("steps"), (
        f"passed analyses at weights {passed}; the spec's steps are {m7.spec.get('steps')}"
    )
    promotions = m7.of("good", "promotion")
    assert promotions and str(promotions[-1].get("version")) == good, f"no promotion event for version {good}"
    weights = [e.get("weight") for e in m7.of("good", "weight")]
    assert weights and weights[-1] == 100, "the canary never took 100 % of the traffic"
    assert m7.of("good", "stable_stopped"), "the old stable service was not stopped after the promotion"


@pytest.mark.points(2)
def test_final_champion_alias_is_the_good_challenger(m7: Module7) -> None:
    """The champion alias (read from the MLflow database) is on the good challenger; the faulty one holds nothing."""
    good, faulty = m7.version_of("canary_good"), m7.version_of("canary_faulty")
    assert m7.aliases.get(CHAMPION) == good, (
        f"champion points to version {m7.aliases.get(CHAMPION)}, the promoted good challenger is version {good}"
    )
    held = [alias for alias, version in m7.aliases.items() if version == faulty]
    assert not held, f"the faulty challenger (version {faulty}) holds {held}"
    tags = m7.versions[good].tags
    assert (tags.get("audit.decision"), tags.get("audit.alias")) == ("approved", CHAMPION), (
        f"version {good} carries no approved audit record for {CHAMPION!r}: promote it through the audited promotion"
    )


@pytest.mark.points(3)
def test_no_client_visible_failure_in_any_scenario(m7: Module7, month: pd.DataFrame) -> None:
    """Every request of every scenario got an answer (0 client-visible failures), as the router's own counts confirm."""
    for name in SCENARIOS:
        load = m7.csv(f"load_{name}.csv")
        assert len(load) >= 100, f"load_{name}.csv holds {len(load)} requests: too few to judge"
        unknown = sorted(set(load["key"].astype(str)) - set(month.index.astype(str)))
        assert not unknown, f"load_{name}.csv replays orders that are not in the graded month: {rows_text(unknown)}"
        status = pd.to_numeric(load["status"], errors="coerce")
        failed = load[status.isna() | (status >= 500) | (status != 200)]
        assert failed.empty, (
            f"{len(failed)} client-visible failures in {name}: requests {rows_text(failed['seq'].tolist())}"
        )
        counts = m7.json(f"router_{name}.json").get("counts", {})
        assert counts.get("requests") == len(load), (
            f"the router counted {counts.get('requests')} requests in {name}, the load results hold {len(load)}"
        )
        assert counts.get("server_errors_sent") == 0, (
            f"the router sent {counts.get('server_errors_sent')} 5xx in {name}"
        )
        degraded = int(load["degraded"].astype(str).str.lower().eq("true").sum())
        assert counts.get("degraded") == degraded, (
            f"the router counted {counts.get('degraded')} degraded answers in {name}, the clients saw {degraded}"
        )


@pytest.mark.points(1)
def test_no_process_left_running(m7: Module7) -> None:
    """Every service and router the notebook started was stopped."""
    records = dict(m7.json("processes.json"))
    records.update({f"router_{name}": m7.json(f"router_{name}.json") for name in SCENARIOS})
    running = [name for name, record in records.items() if record.get("running") is not False]
    assert not running, f"still running when the notebook ended: {running}"
    for name, record in records.items():
        cmdline = Path(f"/proc/{record.get('pid')}/cmdline")
        if cmdline.is_file():
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            assert "mlops_kit.serving" not in text and "mlops_kit.rollout" not in text, f"{name} is still alive"


@pytest.mark.points(1)
def test_baseline_rule_uses_the_most_accurate_distance_threshold(m7: Module7, data_dir: Path) -> None:
    """Exercise 3: the fallback's baseline is late above the most accurate distance threshold of the graded month."""
    from mlops_kit.gates import evaluation_batch

    batch = evaluation_batch(data_dir)
    distance, late = batch["distance_km"].astype(float), batch["is_late"].astype(int)
    candidates = sorted({round(float(distance.quantile(q)), 2) for q in np.arange(0.05, 0.96, 0.05)})
    accuracy = [float(((distance > t).astype(int) == late).mean()) for t in candidates]
    best = candidates[int(np.argmax(accuracy))]
    baseline = ((m7.spec.get("fallback") or {}).get("baseline")) or {}
    assert baseline.get("feature") == "distance_km", f"the baseline rule reads {baseline.get('feature')!r}"
    above = float(baseline.get("above", math.nan))
    assert math.isclose(above, best), f"the baseline is late above {above} km; the most accurate threshold is {best} km"


@pytest.mark.points(2)
def test_rollback_reading_matches_the_records(m7: Module7) -> None:
    """Exercise 4: the reading of the rollback matches the event log and the load results."""
    reading = m7.json("rollback_reading.json")
    rollback = m7.of("faulty", "rollback")[-1] if m7.of("faulty", "rollback") else fail("no rollback to read")
    failed = [e for e in m7.of("faulty", "analysis") if e.get("verdict") == "fail"]
    load = m7.csv("load_faulty.csv")
    sent = load[load["t"].between(rollback["first_breach_t"], rollback["weight_zero_t"])]
    assert reading.get("weight") == failed[-1]["weight"], (
        f"weight {reading.get('weight')}: the failing analysis ran at {failed[-1]['weight']} %"
    )
    assert sorted(reading.get("failed_metrics") or []) == sorted(rollback["failed_metrics"]), (
        "failed_metrics differ from the rollback event"
    )
    assert math.isclose(
        float(reading.get("seconds_to_weight_zero", -1)),
        rollback["weight_zero_t"] - rollback["first_breach_t"],
        abs_tol=1e-3,
    ), "seconds_to_weight_zero is off"
    assert reading.get("requests_to_weight_zero") == len(sent), (
        f"requests_to_weight_zero {reading.get('requests_to_weight_zero')}; the load results hold {len(sent)} in that window"
    )
    assert reading.get("answered_by_canary") == int((sent["arm"] == "canary").sum()), "answered_by_canary is off"
