"""Module 4's gate: every check on real models in a real MLflow registry (SQLite in a temporary folder).

The orders are synthetic and built here: lateness rises with distance, preparation time, storms
and the dinner rush, so a sound model passes the behavioural tests and a broken one cannot.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from mlops_kit.features import load_feature_dictionary
from mlops_kit.gates import (
    CI_WORKFLOW,
    Directional,
    GateDecision,
    GateInputError,
    GateSpec,
    GateSpecError,
    Invariance,
    evaluate_gate,
    load_gate_spec,
    mirrored,
    schema_problems,
    write_gate_decision,
)
from mlops_kit.gates.cli import main as gate_main
from mlops_kit.registry import ModelCard, connect, fit_candidate, log_candidate
from mlops_kit.registry.reference import model_pipeline

pytestmark = [
    pytest.mark.xdist_group("gates"),
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
    pytest.mark.filterwarnings("ignore:logging a run without lineage tags"),
]

MODEL = "late-delivery"
LINEAGE = {"data_version": "0123456789abcdef", "feature_set_version": "fs-test-1"}
REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "datasets" / "v0" / "data"
FAST = {"behaviour_cases": 120, "latency_samples": 30}


def orders(rows: int, seed: int, start: str) -> pd.DataFrame:
    """Clean typed orders whose lateness follows distance, prep time, storms and the dinner rush."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 60 * 24 * 60, rows), unit="min")
    distance = rng.uniform(0.5, 14, rows).round(2)
    prep = rng.uniform(5, 60, rows).round(1)
    weather = rng.choice(["clear", "cloudy", "rain", "storm"], rows)
    hours = pd.DatetimeIndex(created).hour
    risk = (
        -4.0
        + 0.22 * distance
        + 0.05 * prep
        + np.where(weather == "storm", 1.5, 0.0)
        + np.where((hours >= 18) & (hours < 21), 0.8, 0.0)
    )
    late = (rng.uniform(size=rows) < 1 / (1 + np.exp(-risk))).astype("int64")
    frame = pd.DataFrame(
        {
            "order_id": [f"O{seed:02d}{n:05d}" for n in range(rows)],
            "created_at": pd.DatetimeIndex(created).astype("datetime64[us]"),
            "city_zone": rng.choice(["center", "north", "south", "east", "west"], rows),
            "distance_km": distance,
            "prep_time_min": prep,
            "weather": weather,
            "vehicle": rng.choice(["bike", "ebike", "scooter", "car"], rows),
            "basket_size": rng.integers(1, 10, rows).astype("int64"),
            "is_late": late,
        }
    )
    return frame.astype({c: "str" for c in ("order_id", "city_zone", "weather", "vehicle")})


def card(candidate) -> ModelCard:
    return ModelCard(
        model_name=MODEL,
        candidate=candidate.name,
        intended_use="Warn customers whose order will probably arrive late.",
        data=dict(LINEAGE),
        metrics=candidate.metrics,
        limitations=["Synthetic test data."],
    )


@pytest.fixture(scope="module")
def data():
    return {"train": orders(1500, 1, "2025-01-01"), "valid": orders(500, 2, "2025-03-01")}


@pytest.fixture(scope="module")
def batch():
    return orders(600, 3, "2025-05-01")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    previous = os.environ.pop("MLFLOW_TRACKING_URI", None)
    folder = tmp_path_factory.mktemp("gates") / "artifacts"
    try:
        yield connect(folder), folder
    finally:
        if previous is not None:
            os.environ["MLFLOW_TRACKING_URI"] = previous


def register(store, data, name: str, train: pd.DataFrame | None = None, **kwargs) -> str:
    tracking, _ = store
    dictionary = load_feature_dictionary()
    candidate = fit_candidate(
        name,
        model_pipeline(dictionary, LogisticRegression(max_iter=1000)),
        data["train"] if train is None else train,
        data["valid"],
    )
    options = {"lineage": LINEAGE, "card": card(candidate), "input_example": data["valid"].drop(columns="is_late")}
    options.update(kwargs)
    return log_candidate(tracking, candidate, model_name=MODEL, **options).version


@pytest.fixture(scope="module")
def versions(store, data):
    """champion, a sound challenger, shuffled labels, a mirrored prep time, a pickled model."""
    import mlflow

    train = data["train"]
    rng = np.random.default_rng(7)
    found = {
        "champion": register(store, data, "champion"),
        "good": register(store, data, "good", train=train.sample(frac=0.9, random_state=1)),
        "shuffled": register(
            store, data, "shuffled", train=train.assign(is_late=rng.permutation(train["is_late"].to_numpy()))
        ),
        "broken": register(store, data, "broken", train=train.assign(prep_time_min=mirrored(train["prep_time_min"]))),
        "reordered": register(
            store, data, "reordered", input_example=data["valid"].drop(columns="is_late").iloc[:, ::-1]
        ),
        "ungoverned": register(store, data, "ungoverned", lineage={}, card=None),
    }
    tracking, _ = store
    model = model_pipeline(load_feature_dictionary(), LogisticRegression(max_iter=1000)).fit(
        train.drop(columns="is_late"), train["is_late"]
    )
    with mlflow.start_run(experiment_id=tracking.experiment_id, run_name="pickled"):
        info = mlflow.sklearn.log_model(
            model, name="model", serialization_format="pickle", pip_requirements=["scikit-learn"]
        )
        mlflow.set_tags(LINEAGE)
    found["pickled"] = str(mlflow.register_model(info.model_uri, MODEL).version)
    return found


def gate(store, versions, batch, which: str, champion: str | None = "champion", **spec) -> GateDecision:
    tracking, _ = store
    return evaluate_gate(
        tracking,
        MODEL,
        versions[which],
        versions["champion"] if champion == "champion" else champion,
        batch,
        GateSpec.model_validate({**FAST, "floor": 0.6, **spec}),
    )


def test_a_sound_challenger_passes_every_check(store, versions, batch) -> None:
    decision = gate(store, versions, batch, "good", latency_p95_ms=10_000)
    assert decision.passed, decision.summary()
    names = [check.name for check in decision.checks]
    assert names[:3] == ["safe_format", "schema", "governance"]
    assert {"metric_regression", "dir_more_prep_time", "inv_order_id", "latency_p95"} <= set(names)


def test_metric_check_compares_against_the_champion_on_the_batch(store, versions, batch) -> None:
    tracking, _ = store
    from mlops_kit.registry import load_model

    decision = gate(store, versions, batch, "shuffled")
    check = decision.check("metric_regression")
    inputs, labels = batch.drop(columns="is_late"), batch["is_late"]
    expected = roc_auc_score(
        labels, load_model(tracking, MODEL, version=versions["shuffled"]).predict_proba(inputs)[:, 1]
    )
    champion = roc_auc_score(
        labels, load_model(tracking, MODEL, version=versions["champion"]).predict_proba(inputs)[:, 1]
    )
    assert check.value == pytest.approx(expected)
    assert check.threshold == pytest.approx(max(0.6, champion - 0.02))
    assert not check.passed and not decision.passed
    assert "metric_regression" in decision.summary()
    # Within tolerance of a champion it cannot reach, the same model passes when the bar is lowered.
    lenient = gate(store, versions, batch, "shuffled", tolerance=1.0, floor=None, checks=["metric"])
    assert lenient.passed


def test_lower_is_better_metric_uses_a_ceiling(store, versions, batch) -> None:
    decision = gate(store, versions, batch, "good", metric="log_loss", floor=0.01, tolerance=0.5, checks=["metric"])
    check = decision.check("metric_regression")
    assert check.threshold == pytest.approx(0.01) and not check.passed, check.message


def test_directional_test_catches_the_mirrored_feature(store, versions, batch) -> None:
    decision = gate(store, versions, batch, "broken", latency_p95_ms=10_000)
    direction = decision.check("dir_more_prep_time")
    assert not direction.passed and direction.value > 0
    assert direction.details["changed_columns"] == ["prep_time_min"]
    assert decision.check("inv_order_id").passed
    assert len(direction.details["case_ids"]) == FAST["behaviour_cases"]


def test_invariance_fails_when_the_changed_field_matters(store, versions, batch) -> None:
    tracking, _ = store
    spec = GateSpec.model_validate({**FAST, "checks": ["behaviour"]})
    tests = [Invariance("inv_distance", perturb=lambda rows: rows.assign(distance_km=rows["distance_km"] * 2))]
    decision = evaluate_gate(tracking, MODEL, versions["good"], None, batch, spec, behaviours=tests)
    assert not decision.passed and decision.check("inv_distance").value > 1e-3


def test_a_broken_perturbation_fails_its_test_with_a_message(store, versions, batch) -> None:
    tracking, _ = store
    spec = GateSpec.model_validate({**FAST, "checks": ["behaviour"]})
    tests = [
        Directional("drops_a_column", perturb=lambda rows: rows.drop(columns="basket_size")),
        Directional("unknown_column", perturb=lambda rows: rows.assign(x=rows["nope"])),
    ]
    decision = evaluate_gate(tracking, MODEL, versions["good"], None, batch, spec, behaviours=tests)
    assert "keep the rows and columns" in decision.check("drops_a_column").message
    assert "KeyError" in decision.check("unknown_column").message
    assert not decision.passed


def test_pickled_model_is_refused_and_never_loaded(store, versions, batch, monkeypatch) -> None:
    import mlflow.sklearn

    def never(*args, **kwargs):
        raise AssertionError("the gate deserialised a pickled model")

    monkeypatch.setattr(mlflow.sklearn, "load_model", never)
    decision = gate(store, versions, batch, "pickled")
    check = decision.check("safe_format")
    assert not check.passed and check.value == "pickle"
    assert "runs whatever code it holds" in check.message
    for name in ("metric_regression", "dir_more_prep_time", "latency_p95"):
        assert decision.check(name).status == "skipped" and not decision.check(name).passed


def test_schema_check_names_order_and_type_problems(store, versions, batch) -> None:
    decision = gate(store, versions, batch, "reordered", checks=["schema"])
    assert not decision.passed and "out of order" in decision.check("schema").message
    dictionary = load_feature_dictionary()
    good = [("order_id", "string")] + [
        (s.name, {"datetime": "datetime", "category": "string", "float": "double", "int": "long"}[s.dtype])
        for s in dictionary.inputs
    ]
    assert schema_problems(good, dictionary) == []
    typed = [(name, "string" if name == "distance_km" else kind) for name, kind in good]
    assert schema_problems(typed, dictionary) == [
        "input 'distance_km' is string in the signature, float in the dictionary"
    ]
    assert "lacks the inputs ['basket_size']" in schema_problems(good[:-1], dictionary)[0]


def test_governance_needs_lineage_and_a_card(store, versions, batch) -> None:
    decision = gate(store, versions, batch, "ungoverned", checks=["governance"])
    message = decision.check("governance").message
    assert not decision.passed
    assert "tag 'data_version' missing" in message and "no model card" in message


def test_latency_budget_is_the_p95_of_measured_calls(store, versions, batch) -> None:
    tight = gate(store, versions, batch, "good", latency_p95_ms=1e-6, checks=["latency"])
    check = tight.check("latency_p95")
    assert not check.passed and len(check.details["samples_ms"]) == FAST["latency_samples"]
    assert check.value == pytest.approx(np.percentile(check.details["samples_ms"], 95), rel=1e-3)
    assert gate(store, versions, batch, "good", latency_p95_ms=10_000, checks=["latency"]).passed


def test_no_champion_alias_means_no_comparison(store, versions, batch) -> None:
    decision = gate(store, versions, batch, "good", champion="champion-not-set", checks=["metric"])
    assert decision.champion is None and decision.check("metric_regression").threshold == pytest.approx(0.6)


def test_bad_inputs_are_named(store, versions, batch) -> None:
    tracking, _ = store
    with pytest.raises(GateInputError, match="lacks the columns \\['is_late'\\]"):
        evaluate_gate(tracking, MODEL, versions["good"], None, batch.drop(columns="is_late"), GateSpec())
    with pytest.raises(GateInputError, match="no version '99'"):
        evaluate_gate(tracking, MODEL, "99", None, batch, GateSpec())
    with pytest.raises(GateInputError, match="single"):
        evaluate_gate(tracking, MODEL, versions["good"], None, batch.assign(is_late=0), GateSpec())


def test_invalid_spec_names_the_field(tmp_path) -> None:
    with pytest.raises(ValidationError, match="tolerance"):
        GateSpec.model_validate({"tolerance": -0.1})
    with pytest.raises(ValidationError, match="tolerence"):
        GateSpec.model_validate({"tolerence": 0.1})
    with pytest.raises(ValidationError, match="unknown metric 'auc'"):
        GateSpec.model_validate({"metric": "auc"})
    with pytest.raises(ValidationError, match="unknown check families"):
        GateSpec.model_validate({"checks": ["vibes"]})
    path = tmp_path / "gate.yaml"
    path.write_text("metric: roc_auc\nlatency_p95_ms: fast\n")
    with pytest.raises(GateSpecError, match=r"gate.yaml: field 'latency_p95_ms'"):
        load_gate_spec(path)
    path.write_text("tolerance: 0.03\nchecks: [metric, safe_format]\n")
    assert load_gate_spec(path).checks == ("safe_format", "metric")


def test_decision_files_json_and_junit(store, versions, batch, tmp_path) -> None:
    decision = gate(store, versions, batch, "pickled")
    written = write_gate_decision(decision, tmp_path, "gate_pickled")
    assert set(written) == {"json", "junit"}
    again = GateDecision.from_dict(__import__("json").loads(written["json"].read_text()))
    assert again.passed is False and [c.name for c in again.checks] == [c.name for c in decision.checks]
    suite = ET.parse(written["junit"]).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(decision.checks) == int(suite.get("tests"))
    failed = {case.get("name") for case in cases if case.find("failure") is not None}
    skipped = {case.get("name") for case in cases if case.find("skipped") is not None}
    assert failed == {c.name for c in decision.checks if c.status == "fail"} and "safe_format" in failed
    assert skipped == {c.name for c in decision.checks if c.status == "skipped"} and skipped


def test_cli_exit_codes(store, versions, tmp_path, capsys) -> None:
    _, artifacts = store
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(
        "floor: null\ntolerance: 1.0\nlatency_p95_ms: 100000\nbehaviour_cases: 50\nlatency_samples: 20\n"
    )
    common = ["--artifacts-dir", str(artifacts), "--data-dir", str(SHIPPED), "--out", str(tmp_path)]
    assert gate_main([*common, "--challenger", versions["good"], "--spec", str(lenient), "--stem", "ok"]) == 0
    assert (tmp_path / "ok.json").exists() and (tmp_path / "ok.xml").exists()
    assert gate_main([*common, "--challenger", versions["pickled"], "--spec", str(lenient), "--stem", "no"]) == 1
    assert gate_main([*common, "--challenger", "99", "--spec", str(lenient)]) == 2
    assert "no version '99'" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("tolerance: -1\n")
    run = subprocess.run(
        [sys.executable, "-m", "mlops_kit.gates", *common, "--challenger", "1", "--spec", str(bad)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert run.returncode == 2 and "field 'tolerance'" in run.stderr


def lint_workflow(path: Path) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run(
        [str(tool), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_example_ci_workflow_is_a_valid_github_workflow_and_a_broken_one_is_not(tmp_path) -> None:
    text = CI_WORKFLOW.read_text()
    commands = set(re.findall(r"python -m ([\w.]+)", text))
    assert commands == {"mlops_kit.gates", "mlops_kit.deploy"}
    for module in commands:  # each is a module `python -m` can run, not a package without __main__
        assert importlib.util.find_spec(f"{module}.__main__") is not None, f"python -m {module} cannot run"
    assert lint_workflow(CI_WORKFLOW).returncode == 0
    broken = tmp_path / "broken.yml"
    broken.write_text(
        text.replace("    runs-on: ubuntu-latest\n", "", 1).replace("timeout-minutes: 20", "timeout-minutes: soon")
    )
    result = lint_workflow(broken)
    assert result.returncode != 0, result.stdout
    assert "jobs" in result.stdout + result.stderr


def test_bootstrap_metric_resamples_the_batch(store, versions, batch) -> None:
    from mlops_kit.gates import bootstrap_metric
    from mlops_kit.registry import load_model, validation_metrics

    tracking, _ = store
    model = load_model(tracking, MODEL, version=versions["champion"])
    values = bootstrap_metric(model, batch, "roc_auc", resamples=60, seed=3)
    y = batch["is_late"].to_numpy()
    p = model.predict_proba(batch.drop(columns="is_late"))[:, 1]
    assert len(values) == 60 and 0 < values.std() < 0.1
    assert abs(values.mean() - roc_auc_score(y, p)) < 3 * values.std()
    assert np.array_equal(values, bootstrap_metric(model, batch, "roc_auc", resamples=60, seed=3))
    picked = np.random.default_rng(3).integers(0, len(y), len(y))
    first = bootstrap_metric(model, batch, "log_loss", resamples=1, seed=3)[0]
    assert first == pytest.approx(validation_metrics(y[picked], p[picked])["log_loss"])


def test_evaluation_batch_is_the_newest_month_validated() -> None:
    from mlops_kit.data import list_batches, load_orders
    from mlops_kit.gates import evaluation_batch

    month = list_batches(SHIPPED)[-1]
    found = evaluation_batch(SHIPPED)
    raw = load_orders(SHIPPED, month)
    assert found.attrs["source"] == month and found.attrs["quarantined"] > 0
    assert len(found) + found.attrs["quarantined"] == len(raw)
    assert found["is_late"].notna().all() and set(found["order_id"]) <= set(raw["order_id"])


def burn_cpu(milliseconds: float) -> None:
    """Keep this process busy for ``milliseconds`` of CPU time (a model's own work, as the gate's clock counts it)."""
    import time as clock

    end = clock.process_time() + milliseconds / 1000.0
    while clock.process_time() < end:
        pass


def test_a_latency_sample_is_the_fastest_of_its_repeats() -> None:
    """A call slowed by a disturbance (here every third call burns 50 ms more) does not become the sample."""
    from mlops_kit.gates.checks import LATENCY_REPEATS, single_row_latencies

    class SometimesStalled:
        calls = 0

        def predict_proba(self, rows: pd.DataFrame) -> None:
            self.calls += 1
            burn_cpu(50 if self.calls % LATENCY_REPEATS == 0 else 1)

    timings = single_row_latencies(SometimesStalled(), pd.DataFrame({"x": range(5)}), samples=30, warmup=0)
    assert len(timings) == 30 and max(timings) < 25, max(timings)


def test_a_row_slow_every_time_stays_slow_and_steady_calls_are_not_repeated() -> None:
    """Re-timing removes disturbances only: a model's own slow row keeps its latency; a steady model is timed once per sample."""
    from mlops_kit.gates.checks import single_row_latencies

    class SlowOnRowThree:
        calls = 0

        def predict_proba(self, rows: pd.DataFrame) -> None:
            self.calls += 1
            burn_cpu(50 if int(rows["x"].iloc[0]) == 3 else 5)

    model = SlowOnRowThree()
    timings = single_row_latencies(model, pd.DataFrame({"x": range(10)}), samples=40, warmup=2)
    slow = [t for position, t in enumerate(timings) if (position + 2) % 10 == 3]
    assert len(slow) == 4 and min(slow) >= 49, slow
    assert model.calls < 2 + 40 * 2, model.calls  # fewer than one repeat per sample: disturbed samples only


def test_time_spent_waiting_for_a_core_is_not_charged_to_the_model() -> None:
    """A call that waits (as a process does on a busy machine, here 20 ms off the CPU) counts only its own work."""
    import time as clock

    from mlops_kit.gates.checks import single_row_latencies

    class WaitsThenWorks:
        def predict_proba(self, rows: pd.DataFrame) -> None:
            clock.sleep(0.02)
            burn_cpu(2)

    timings = single_row_latencies(WaitsThenWorks(), pd.DataFrame({"x": range(5)}), samples=20, warmup=1)
    assert 1.9 <= float(np.median(timings)) < 10, timings
