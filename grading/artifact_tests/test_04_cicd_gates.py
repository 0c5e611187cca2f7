"""Artifact checks for module 4 (CI/CD gates & auto-deploy).

Expected values are recomputed from the graded variant's data: the evaluation batch (its newest
production month, validated with module 1's reference rules), the models read back from the
MLflow database with MLflow's own client, ROC AUC with scikit-learn, a bootstrap of our own.
The deploy record is checked for the order of its steps (ready and smoke-tested before the alias
moved) and for a service that really ran and no longer runs. Integrity (manifest, variant, the
decision files) is a precondition of every check, not a source of points.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from grading.artifact_tests.shared import fail, read_artifact_json, require_manifest, rows_text
from mlops_kit.course import module_id
from mlops_kit.registry.policy import CHAMPION
from mlops_kit.registry.tracking import DEFAULT_MODEL_NAME

MODULE = module_id(4)
REQUIRED_FILES = ("gate_good.json", "gate_good.xml", "gate_bad.json", "gate_bad.xml")
GOOD_CANDIDATE, BAD_CANDIDATE = "retrain", "broken"
BROKEN_TEST = "dir_more_prep_time"
LEARNER_TEST = "dir_longer_trip"
_MODELS: dict[tuple[str, str], Any] = {}


@dataclass(frozen=True)
class Module4:
    """What the notebook left: the manifest, the module folder and the registry."""

    folder: Path
    manifest: dict[str, Any]
    uri: str
    versions: dict[str, Any]
    aliases: dict[str, str]

    def version_of(self, candidate: str) -> str:
        found = [number for number, v in self.versions.items() if v.tags.get("candidate") == candidate]
        if not found:
            fail(f"no registered version of {DEFAULT_MODEL_NAME!r} is tagged candidate={candidate!r}")
        return max(found, key=int)

    def json(self, name: str) -> Any:
        return read_artifact_json(self.folder, name)

    def model(self, version: str) -> Any:
        """The registered version, loaded (once) after checking its trusted types."""
        key = (self.uri, str(version))
        if key not in _MODELS:
            _MODELS[key] = self._load(str(version))
        return _MODELS[key]

    def _load(self, version: str) -> Any:
        from mlops_kit.registry import Tracking, load_model

        return load_model(Tracking.reader(self.uri), DEFAULT_MODEL_NAME, version=version)


@pytest.fixture(scope="session")
def m4(artifacts_dir: Path, variant: int, batch: pd.DataFrame) -> Module4:
    manifest = require_manifest(artifacts_dir, MODULE, variant, REQUIRED_FILES)
    for name in ("gate_good.json", "gate_bad.json"):
        require_judged_on(batch, artifacts_dir / MODULE / name)
    database = artifacts_dir / "mlflow.db"
    if not database.is_file():
        fail("no MLflow database at ARTIFACTS_DIR/mlflow.db")
    from mlflow import MlflowClient

    uri = f"sqlite:///{database.resolve().as_posix()}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = client.search_model_versions(f"name = '{DEFAULT_MODEL_NAME}'")
    versions = {str(v.version): v for v in found}
    aliases = {a: str(v) for a, v in client.get_registered_model(DEFAULT_MODEL_NAME).aliases.items()}
    return Module4(artifacts_dir / MODULE, manifest, uri, versions, aliases)


@pytest.fixture(scope="session")
def batch(data_dir: Path) -> pd.DataFrame:
    """The graded variant's evaluation batch: newest production month, validated with the reference rules."""
    from mlops_kit.data import file_period, list_batches, load_orders
    from mlops_kit.validation import reference_rules, validate

    month = list_batches(data_dir)[-1]
    _, cutoff = file_period(data_dir, month)
    return validate(load_orders(data_dir, month), reference_rules(cutoff), source=month).clean


def ids_digest(rows: pd.DataFrame) -> str:
    """Short sha256 of the sorted order ids, one per line: which orders a gate judged."""
    return hashlib.sha256("\n".join(sorted(rows["order_id"].astype(str))).encode()).hexdigest()[:16]


def require_judged_on(batch: pd.DataFrame, decision_path: Path) -> None:
    """Precondition: the gate judged this variant's evaluation batch (its order ids), not another data set."""
    try:
        evaluation = json.loads(decision_path.read_text(encoding="utf-8")).get("evaluation") or {}
    except (OSError, json.JSONDecodeError, AttributeError) as error:
        fail(f"{MODULE}/{decision_path.name} cannot be read: {error}")
    judged, expected = evaluation.get("ids_sha_head"), ids_digest(batch)
    if judged != expected:
        fail(
            f"{MODULE}/{decision_path.name}: the gate judged orders whose ids digest to {judged!r}, not this variant's "
            f"evaluation batch ({len(batch)} orders, digest {expected!r}): run the notebook on the graded data"
        )


def p_late(model: Any, rows: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(rows.drop(columns=["is_late"], errors="ignore"))[:, 1]


def check_named(decision: dict[str, Any], name: str) -> dict[str, Any]:
    for check in decision.get("checks", []):
        if check.get("name") == name:
            return check
    fail(f"the decision on version {decision.get('challenger')} has no check {name!r}")


def bootstrap_auc(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC of each resample (row), from average ranks: the Mann-Whitney U of the positives over n+ n-."""
    from scipy.stats import rankdata

    positive = labels.astype(bool)
    ranks = rankdata(scores, method="average", axis=1)
    n_pos = positive.sum(axis=1)
    return (np.where(positive, ranks, 0.0).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * (labels.shape[1] - n_pos))


def when(text: Any, what: str) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        fail(f"{what} {text!r} is not an ISO 8601 time")
    assert stamp.tzinfo is not None, f"{what} {text!r} has no time zone"
    return stamp


@pytest.mark.points(3)
def test_broken_challenger_blocked_by_the_directional_test(m4: Module4, batch: pd.DataFrame) -> None:
    """Exercise 2: the gate blocks the challenger with the turned-around preparation time, by the check that catches it."""
    decision = m4.json("gate_bad.json")
    bad = m4.version_of(BAD_CANDIDATE)
    assert str(decision.get("challenger")) == bad, (
        f"gate_bad.json judges version {decision.get('challenger')}, the broken challenger is version {bad}"
    )
    model = m4.model(bad)
    rows = batch.drop(columns=["is_late"])
    moved = p_late(model, rows.assign(prep_time_min=(rows["prep_time_min"] + 15).clip(upper=240))) - p_late(model, rows)
    assert (moved < -0.01).any(), "the broken challenger should lower P(late) when preparation takes longer"
    assert decision.get("passed") is False, "the gate let the broken challenger pass"
    check = check_named(decision, BROKEN_TEST)
    assert check.get("passed") is False, (
        f"{BROKEN_TEST} passed for the broken challenger, yet on this batch {int((moved < -0.01).sum())} of "
        f"{len(rows)} orders get a lower P(late) with 15 more minutes of preparation"
    )


@pytest.mark.points(3)
def test_good_challenger_passes_on_this_batch(m4: Module4, batch: pd.DataFrame) -> None:
    """Exercise 2: the retrained challenger passes every check, judged on the graded data's newest month."""
    from sklearn.metrics import roc_auc_score

    decision = m4.json("gate_good.json")
    good = m4.version_of(GOOD_CANDIDATE)
    assert str(decision.get("challenger")) == good, (
        f"gate_good.json judges version {decision.get('challenger')}, the retrained challenger is version {good}"
    )
    failed = [c["name"] for c in decision.get("checks", []) if not c.get("passed")]
    assert decision.get("passed") is True and not failed, f"the good challenger was blocked by {failed}"
    expected = roc_auc_score(batch["is_late"].astype(int), p_late(m4.model(good), batch))
    metric = check_named(decision, "metric_regression")
    assert metric.get("value") is not None and math.isclose(metric["value"], expected, abs_tol=1e-6), (
        f"the gate measured ROC AUC {metric.get('value')}, but on this variant's newest month the challenger "
        f"scores {expected:.4f}: judge it on evaluation_batch(DATA_DIR)"
    )
    rows = (decision.get("evaluation") or {}).get("rows")
    assert rows == len(batch), f"the gate judged {rows} orders; the validated newest month has {len(batch)}"


@pytest.mark.points(2)
def test_thresholds_from_evidence(m4: Module4, batch: pd.DataFrame) -> None:
    """Exercise 2: tolerance = twice the champion's bootstrap spread, floor = distance alone, on this batch."""
    from sklearn.metrics import roc_auc_score

    decision = m4.json("gate_good.json")
    spec = decision.get("spec") or {}
    baseline = roc_auc_score(batch["is_late"].astype(int), batch["distance_km"])
    assert spec.get("floor") is not None and math.isclose(spec["floor"], baseline, abs_tol=6e-4), (
        f"the floor is {spec.get('floor')}; ranking this batch by distance alone gives ROC AUC {baseline:.3f}"
    )
    champion = str(decision.get("champion"))
    assert champion in m4.versions, f"gate_good.json names champion version {champion!r}, not in the registry"
    y = batch["is_late"].astype(int).to_numpy()
    p = p_late(m4.model(champion), batch)
    rng = np.random.default_rng(20_2604)
    picked = rng.integers(0, len(y), (300, len(y)))
    spread = float(np.std(bootstrap_auc(y[picked], p[picked])))
    tolerance = spec.get("tolerance")
    assert tolerance is not None and 0.8 * 2 * spread <= tolerance <= 1.2 * 2 * spread, (
        f"the tolerance is {tolerance}; twice the champion's bootstrap spread on this batch is about {2 * spread:.3f}"
    )
    budget = spec.get("latency_p95_ms")
    assert budget is not None and float(budget).is_integer(), f"the latency budget {budget} is not a whole millisecond"


@pytest.mark.points(2)
def test_learners_behavioural_test_ran(m4: Module4, batch: pd.DataFrame) -> None:
    """Exercise 1: the gate ran your directional test on this batch's orders: 3 more km, P(late) up."""
    decision = m4.json("gate_good.json")
    check = check_named(decision, LEARNER_TEST)
    details = check.get("details") or {}
    assert details.get("kind") == "directional" and details.get("direction") == "up", (
        f"{LEARNER_TEST} is a {details.get('kind')} test with direction {details.get('direction')}: expected directional, up"
    )
    assert details.get("changed_columns") == ["distance_km"], (
        f"{LEARNER_TEST} changed {details.get('changed_columns')}; it must change distance_km only"
    )
    ids = details.get("case_ids") or []
    unknown = set(ids) - set(batch["order_id"].astype(str))
    assert len(ids) >= 100 and not unknown, (
        f"{LEARNER_TEST} ran on {len(ids)} cases; {len(unknown)} are not orders of this variant's newest month "
        f"({rows_text(unknown)})"
    )
    model = m4.model(str(decision["challenger"]))
    rows = batch.set_index(batch["order_id"].astype(str)).loc[ids].reset_index(drop=True).drop(columns=["is_late"])
    moved = p_late(model, rows.assign(distance_km=rows["distance_km"] + 3.0)) - p_late(model, rows)
    expected = int((moved < -(decision.get("spec") or {}).get("directional_tolerance", 0.01)).sum())
    assert check.get("value") == expected, (
        f"{LEARNER_TEST} reports {check.get('value')} violations, expected {expected}"
    )


@pytest.mark.points(1)
def test_failed_decision_read(m4: Module4) -> None:
    """Exercise 3: your reading names every check that blocked the broken challenger, in order."""
    decision = m4.json("gate_bad.json")
    reading = m4.json("failed_decision_reading.json")
    expected = [c["name"] for c in decision.get("checks", []) if not c.get("passed")]
    assert str(reading.get("version")) == str(decision.get("challenger")), (
        f"the reading is about version {reading.get('version')}, the blocked challenger is {decision.get('challenger')}"
    )
    assert reading.get("blocked_by") == expected, (
        f"you named {reading.get('blocked_by')}; the checks that did not pass are {expected}"
    )
    assert BROKEN_TEST in expected, f"{BROKEN_TEST} should be among the blocking checks"


@pytest.mark.points(2)
def test_metric_shortfall_read(m4: Module4, batch: pd.DataFrame) -> None:
    """Exercise 3: your reading says how far the broken challenger's ROC AUC fell below the gate's bar on this batch."""
    from sklearn.metrics import roc_auc_score

    decision = m4.json("gate_bad.json")
    reading = m4.json("failed_decision_reading.json")
    spec = decision.get("spec") or {}
    y = batch["is_late"].astype(int)
    bad = roc_auc_score(y, p_late(m4.model(str(decision["challenger"])), batch))
    bar = spec.get("floor") if spec.get("floor") is not None else -math.inf
    if decision.get("champion") is not None:
        champion = roc_auc_score(y, p_late(m4.model(str(decision["champion"])), batch))
        bar = max(bar, champion - float(spec.get("tolerance", 0.0)))
    expected = max(0.0, bar - bad)
    found = reading.get("metric_shortfall")
    assert isinstance(found, (int, float)) and math.isclose(found, expected, abs_tol=2e-4), (
        f"you wrote a shortfall of {found}; on this batch the broken challenger's ROC AUC {bad:.4f} is "
        f"{expected:.4f} below the gate's bar"
    )


@pytest.mark.points(2)
def test_champion_never_the_broken_challenger(m4: Module4) -> None:
    """Scenario: the broken challenger's deploy was blocked at the gate; champion never pointed at it."""
    bad = m4.version_of(BAD_CANDIDATE)
    record = m4.json("blocked_deploy/deploy_record.json")
    assert str(record.get("version")) == bad, f"blocked_deploy records version {record.get('version')}, not {bad}"
    assert record.get("outcome") == "blocked" and record.get("failed_step") == "gate", (
        f"the broken challenger's deploy ended {record.get('outcome')!r} at {record.get('failed_step')!r}"
    )
    assert record.get("service") is None and not record.get("alias_moved"), "a blocked deploy starts no service"
    assert record.get("champion_after") == record.get("champion_before"), "the blocked deploy moved the alias"
    assert m4.aliases.get(CHAMPION) != bad, f"champion points at the broken challenger (version {bad})"
    tags = m4.versions[bad].tags
    assert not (tags.get("audit.decision") == "approved" and tags.get("audit.alias") == CHAMPION), (
        f"version {bad} carries an approved promotion to champion"
    )
    for log in (m4.folder / "audit_log.jsonl", m4.folder.parent / module_id(3) / "audit_log.jsonl"):
        if log.is_file():
            for line in log.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line) if line.strip() else {}
                assert not (str(entry.get("version")) == bad and entry.get("decision") == "approved"), (
                    f"{log.name} records an approved promotion of the broken challenger"
                )


@pytest.mark.points(3)
def test_deploy_ready_and_smoke_tested_before_the_alias_moved(m4: Module4, batch: pd.DataFrame) -> None:
    """Exercise 4: the good challenger was deployed: ready, metadata checked, smoke-tested, then champion moved."""
    good = m4.version_of(GOOD_CANDIDATE)
    record = m4.json("deploy_record.json")
    assert record.get("outcome") == "deployed", (
        f"the deploy ended {record.get('outcome')!r} at step {record.get('failed_step')!r}: {record.get('error')}"
    )
    assert str(record.get("version")) == good and m4.aliases.get(CHAMPION) == good, (
        f"deployed version {record.get('version')}, champion is {m4.aliases.get(CHAMPION)}; the good challenger is {good}"
    )
    assert str(record.get("champion_before")) == str(m4.json("gate_good.json").get("champion")), (
        "the deploy replaced another champion than the one the gate compared with"
    )
    service, smoke = record.get("service") or {}, record.get("smoke") or {}
    ready = when(service.get("ready_at"), "service.ready_at")
    smoked = when(smoke.get("finished_at"), "smoke.finished_at")
    moved = when(record.get("alias_moved_at"), "alias_moved_at")
    assert ready < smoked < moved, "the alias must move only after the service was ready and smoke-tested"
    for result in smoke.get("results", []):
        assert ready <= when(result.get("sent_at"), "smoke sent_at"), "a smoke request was sent before /ready"
    names = [step.get("step") for step in record.get("steps", [])]
    assert names == ["resolve", "gate", "start", "metadata", "smoke", "promote"], f"deploy steps ran as {names}"
    assert smoke.get("size", 0) >= 20 and smoke.get("passed") is True, (
        f"{smoke.get('size')} smoke requests, passed={smoke.get('passed')}: send at least 20, all must pass"
    )


@pytest.mark.points(2)
def test_service_really_ran_and_stopped(m4: Module4, batch: pd.DataFrame) -> None:
    """Exercise 4: a real process served the good version on this variant's orders, and no longer runs."""
    good = m4.version_of(GOOD_CANDIDATE)
    service = (m4.json("deploy_record.json").get("service")) or {}
    pid, port = service.get("pid"), service.get("port")
    assert isinstance(pid, int) and pid > 1 and isinstance(port, int) and 0 < port < 65536, (
        f"the deploy record has no process id / port (pid {pid}, port {port})"
    )
    assert service.get("url") == f"http://127.0.0.1:{port}", f"the service url {service.get('url')} is not loopback"
    metadata = service.get("metadata") or {}
    assert str(metadata.get("model_version")) == good and metadata.get("pid") == pid, (
        f"/metadata answered version {metadata.get('model_version')} from pid {metadata.get('pid')}"
    )
    assert service.get("stopped_at") and service.get("running") is False, "the service was never stopped"
    try:
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        assert "mlops_kit.serving" not in cmdline, f"the service (pid {pid}) is still running"
    except (ProcessLookupError, FileNotFoundError):
        pass
    except PermissionError:
        pass
    model = m4.model(good)
    by_id = batch.set_index(batch["order_id"].astype(str))
    results = (m4.json("deploy_record.json").get("smoke") or {}).get("results", [])
    ids = [str(r.get("order_id")) for r in results]
    unknown = [i for i in ids if i not in by_id.index]
    assert results and not unknown, f"smoke orders not in this variant's newest month: {rows_text(unknown)}"
    expected = p_late(model, by_id.loc[ids].reset_index(drop=True))
    served = np.array([float(r.get("late_probability")) for r in results])
    assert np.allclose(served, expected, atol=1e-6), "the service's answers differ from the good version's predictions"


@pytest.mark.points(1)
def test_live_service_called(m4: Module4, batch: pd.DataFrame) -> None:
    """Exercise 5: you called the live service: /metadata names the deployed version, /predict answered 3 orders."""
    good = m4.version_of(GOOD_CANDIDATE)
    live = m4.json("live_service.json")
    metadata, answer = live.get("metadata") or {}, live.get("predictions") or {}
    pid = (m4.json("deploy_record.json").get("service") or {}).get("pid")
    assert str(metadata.get("model_version")) == good and metadata.get("pid") == pid, (
        f"/metadata says version {metadata.get('model_version')} (pid {metadata.get('pid')}); deployed: {good} (pid {pid})"
    )
    rows = answer.get("predictions") or []
    first = batch.head(3)
    assert [str(r.get("order_id")) for r in rows] == list(first["order_id"].astype(str)), (
        "send the first three orders of this variant's evaluation batch"
    )
    expected = p_late(m4.model(good), first)
    assert np.allclose([float(r.get("late_probability")) for r in rows], expected, atol=1e-6), (
        "the live answers differ from the deployed version's predictions"
    )


@pytest.mark.points(1)
def test_junit_reports_parse(m4: Module4) -> None:
    """Scenario: both gate decisions have a JUnit XML report that parses, one testcase per check, failures marked."""
    for stem in ("gate_good", "gate_bad"):
        decision = m4.json(f"{stem}.json")
        try:
            root = ET.parse(m4.folder / f"{stem}.xml").getroot()
        except (ET.ParseError, OSError) as error:
            fail(f"{stem}.xml does not parse: {error}")
        cases = root.findall("./testsuite/testcase")
        assert len(cases) == len(decision.get("checks", [])), f"{stem}.xml has {len(cases)} testcases"
        failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("skipped") is not None]
        expected = [c["name"] for c in decision["checks"] if not c.get("passed")]
        assert failed == expected, f"{stem}.xml marks {failed} as failed, the decision {expected}"
