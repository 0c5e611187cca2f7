"""Module 7's rollout: spec, sticky split, analysis, and real scenarios under real load.

One module-scoped fixture starts the stable service and every canary at once (real uvicorn processes
on a real registry), then runs each scenario through a real router with the load generator: a good
challenger (promoted), one faulty challenger per fault kind (each rolled back by the analysis that
should catch it), a canary killed mid-rollout (fallback, then rollback). The tests judge what each
scenario left: outcomes, decision records, event logs, the alias, and client-visible failures counted
from the load results and cross-checked with the router's own counts.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
import serving_support
from serving_support import MODEL, group_alive

from mlops_kit.registry import aliases, set_alias
from mlops_kit.rollout import (
    RolloutSpecError,
    analyze_interval,
    bucket,
    load_rollout_spec,
    orders_for_load,
    read_events,
    rollout_picture,
    routes_to_canary,
    run_scenario,
    start_services,
    stop_services,
)
from mlops_kit.rollout.process import RouterProcess
from mlops_kit.rollout.scenario import router_config
from mlops_kit.serving.faults import Fault

registry = serving_support.registry
tracking = serving_support.tracking
pytestmark = serving_support.SERVING_MARKS
START_TIMEOUT = serving_support.START_TIMEOUT
FAULTS = {
    "error_slice": ({"kind": "error_slice", "city_zone": "center"}, "error_rate"),
    "latency": ({"kind": "latency", "extra_ms": 250}, "latency_p99"),
    "prediction_shift": ({"kind": "prediction_shift", "shift": 0.2}, "prediction_shift"),
}


def spec_dict(**analysis) -> dict:
    return {
        "model_name": MODEL,
        "sticky_key": "order_id",
        "steps": [30, 60],
        "analysis": {
            "interval_s": 1.5,
            "min_samples": 15,
            "max_error_rate_increase": 0.02,
            "max_p99_increase_ms": 120,
            "shift_alpha": 0.01,
            "min_shift": 0.05,
            "failure_limit": 1,
            "inconclusive_limit": 3,
            **analysis,
        },
        "fallback": {"deadline_ms": 800, "baseline": {"feature": "distance_km", "above": 6.0}},
    }


# ------------------------------------------------------------------ the spec, the split, the analysis


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"steps": [50, 30]}, "steps"),
        ({"steps": [20, 100]}, "steps"),
        ({"steps": []}, "steps"),
        ({"sticky_key": "customer"}, "sticky_key"),
        ({"analysis": {**spec_dict()["analysis"], "min_samples": 0}}, "analysis.min_samples"),
        ({"analysis": {**spec_dict()["analysis"], "treshold": 1}}, "analysis.treshold"),
        ({"fallback": {"deadline_ms": 300, "baseline": {"feature": "weather", "above": 1}}}, "fallback.baseline"),
    ],
)
def test_an_invalid_spec_is_refused_naming_the_field(change, field) -> None:
    with pytest.raises(RolloutSpecError, match=f"field '{field}"):
        load_rollout_spec({**spec_dict(), **change})


def test_a_spec_file_is_read_and_its_rollback_bound_is_failures_times_interval(tmp_path) -> None:
    import yaml

    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(spec_dict(failure_limit=2)))
    spec = load_rollout_spec(path)
    assert spec.steps == [30, 60] and spec.rollback_bound_s == 3.0
    path.write_text("steps: [")
    with pytest.raises(RolloutSpecError, match="rollout.yaml"):
        load_rollout_spec(path)


def test_the_split_is_sticky_monotone_and_close_to_the_weight() -> None:
    keys = [f"O{n:07d}" for n in range(20_000)]
    assert [bucket(k) for k in keys[:50]] == [bucket(k) for k in keys[:50]]
    at = {w: {k for k in keys if routes_to_canary(k, w)} for w in (0, 10, 50, 100)}
    assert at[0] == set() and at[100] == set(keys)
    assert at[10] <= at[50], "raising the weight must only move keys from stable to canary"
    for weight in (10, 50):
        assert abs(len(at[weight]) / len(keys) - weight / 100) < 0.02


def _calls(arm: str, n: int, rng, *, error=0.0, latency=20.0, shift=0.0) -> list[dict]:
    return [
        {
            "arm": arm,
            "outcome": "error" if rng.random() < error else "ok",
            "latency_ms": latency + rng.exponential(5),
            "probability": float(np.clip(rng.beta(2, 5) + shift, 0, 1)),
        }
        for _ in range(n)
    ]


def test_analysis_fails_each_fault_on_its_own_metric_and_holds_without_data() -> None:
    spec = load_rollout_spec(spec_dict()).analysis
    rng = np.random.default_rng(0)
    stable = _calls("stable", 200, rng)
    cases = {"error_rate": {"error": 0.25}, "latency_p99": {"latency": 220}, "prediction_shift": {"shift": 0.2}}
    for metric, fault in cases.items():
        decision = analyze_interval(stable + _calls("canary", 60, rng, **fault), spec)
        assert decision.verdict == "fail" and decision.failed_metrics == [metric], decision.why
    good = analyze_interval(stable + _calls("canary", 60, rng), spec)
    assert good.verdict == "pass", good.why
    few = analyze_interval(stable + _calls("canary", 5, rng, error=1.0), spec)
    assert few.verdict == "inconclusive" and "needs 15" in few.why


def test_a_tiny_shift_on_many_samples_passes_thanks_to_the_effect_floor() -> None:
    spec = load_rollout_spec(spec_dict()).analysis
    rng = np.random.default_rng(1)
    calls = _calls("stable", 4000, rng) + _calls("canary", 4000, rng, shift=0.02)
    decision = analyze_interval(calls, spec)
    shift = decision.metric("prediction_shift")
    assert shift.details["p_value"] < spec.shift_alpha, "the shift is significant on this many samples"
    assert decision.verdict == "pass", decision.why


@pytest.mark.parametrize(
    ("verdicts", "limits", "actions"),
    [
        (["fail", "fail"], (2, 5), ["hold", "roll_back"]),
        (["fail", "pass", "fail", "pass"], (2, 5), ["hold", "advance", "hold", "advance"]),
        (["fail", "inconclusive", "fail"], (2, 5), ["hold", "hold", "roll_back"]),
        (["fail"], (1, 5), ["roll_back"]),
        (
            ["inconclusive", "inconclusive", "pass", "inconclusive", "inconclusive"],
            (2, 3),
            ["hold"] * 2 + ["advance"] + ["hold"] * 2,
        ),
        (["inconclusive"] * 3, (2, 3), ["hold", "hold", "abort"]),
    ],
    ids=["two-in-a-row", "healed-by-a-pass", "inconclusive-does-not-heal", "limit-one", "holds-reset", "holds-abort"],
)
def test_failures_since_the_last_pass_roll_back_and_a_pass_heals(verdicts, limits, actions) -> None:
    from mlops_kit.rollout.controller import VerdictCount

    count = VerdictCount(*limits)
    assert [count.add(verdict, started=float(t)) for t, verdict in enumerate(verdicts)] == actions


def test_the_rollback_dates_from_the_first_failure_since_the_last_pass() -> None:
    from mlops_kit.rollout.controller import VerdictCount

    count = VerdictCount(failure_limit=2, inconclusive_limit=5)
    assert [count.add(v, t) for v, t in [("fail", 10.0), ("pass", 12.0), ("fail", 14.0), ("fail", 16.0)]][
        -1
    ] == "roll_back"
    assert count.first_breach == 14.0 and count.failures == 2
    with pytest.raises(ValueError, match="unknown verdict 'maybe'"):
        count.add("maybe", 18.0)


def test_a_few_slow_calls_raise_the_p99_but_do_not_fail_a_model_that_is_not_slower() -> None:
    """A busy machine or a just-started process gives a canary a few slow calls: p99 up, the model no slower."""
    spec = load_rollout_spec(spec_dict()).analysis
    rng = np.random.default_rng(2)
    stable = _calls("stable", 200, rng)
    canary = _calls("canary", 40, rng)
    for call in canary[:3]:
        call["latency_ms"] += 400.0
    decision = analyze_interval(stable + canary, spec)
    latency = decision.metric("latency_p99")
    assert latency.details["increase_ms"] > spec.max_p99_increase_ms, "the outliers must raise the p99 past its budget"
    assert latency.verdict == "pass" and decision.verdict == "pass", decision.why
    slower = analyze_interval(stable + _calls("canary", 40, rng, latency=20.0 + spec.max_p99_increase_ms + 30), spec)
    assert slower.failed_metrics == ["latency_p99"], slower.why


# ------------------------------------------------------------------ real scenarios


@pytest.fixture(scope="module")
def scenarios(registry, tracking, tmp_path_factory):
    """Every scenario, run once against real processes; the champion alias is restored afterwards."""
    out = tmp_path_factory.mktemp("rollout")
    orders = orders_for_load(registry.eval_batch)
    spec = load_rollout_spec(spec_dict())
    set_alias(tracking, MODEL, "champion", registry.champion, allow_protected=True)
    plan = {"stable": (registry.champion, None), "good": (registry.good, None), "killed": (registry.good, None)}
    plan.update({kind: (registry.good, Fault(**fault)) for kind, (fault, _) in FAULTS.items()})
    services = start_services(registry.uri, MODEL, plan, timeout=START_TIMEOUT)
    runs = {}

    def kill_canary(_: RouterProcess) -> None:
        time.sleep(0.5)
        os.killpg(services["killed"].pid, signal.SIGKILL)

    try:
        for name in (*FAULTS, "killed", "good"):
            runs[name] = run_scenario(
                name,
                spec,
                stable=services["stable"],
                canary=services[name],
                tracking=tracking,
                stable_version=registry.champion,
                canary_version=services[name].config.version,
                orders=orders,
                out_dir=out,
                rate_per_s=80,
                during=kill_canary if name == "killed" else None,
            )
        runs["aliases_after"] = aliases(tracking, MODEL)
    finally:
        stop_services(services)
        set_alias(tracking, MODEL, "champion", registry.champion, allow_protected=True)
    return {"out": out, "runs": runs, "services": services, "spec": spec}


@pytest.mark.parametrize("kind", list(FAULTS))
def test_each_fault_is_rolled_back_by_the_analysis_that_should_catch_it(scenarios, kind) -> None:
    run = scenarios["runs"][kind]
    expected_metric = FAULTS[kind][1]
    assert run.result.outcome == "rolled_back"
    assert run.result.rollback["failed_metrics"] and expected_metric in run.result.rollback["failed_metrics"]
    last = run.result.decisions[-1]
    assert last["verdict"] == "fail" and expected_metric in last["failed_metrics"]
    assert run.result.rollback["seconds_to_weight_zero"] <= scenarios["spec"].rollback_bound_s + 3.0
    events = [e["event"] for e in read_events(scenarios["out"] / "events.jsonl", kind)]
    assert events.index("rollback") > events.index("canary_stopped") > events.index("analysis")
    assert events[-1] == "rollout_finished"
    weights = [e["weight"] for e in read_events(scenarios["out"] / "events.jsonl", kind) if e["event"] == "weight"]
    assert weights[-1] == 0
    assert not scenarios["services"][kind].running(), "the rolled-back canary must be stopped"


def test_the_error_slice_fails_only_its_city_zone(scenarios, registry) -> None:
    calls = scenarios["runs"]["error_slice"].calls
    zones = registry.eval_batch.set_index("order_id")["city_zone"]
    canary = calls[calls["arm"] == "canary"]
    failed_zones = set(zones.loc[canary.loc[canary["outcome"] == "error", "key"]])
    assert failed_zones == {"center"}
    assert (canary.loc[canary["outcome"] == "ok", "key"].map(zones) != "center").all()


def test_the_good_challenger_is_promoted_and_the_old_stable_stopped(scenarios, registry) -> None:
    run = scenarios["runs"]["good"]
    assert run.result.outcome == "promoted", [d["why"] for d in run.result.decisions]
    assert [d["weight"] for d in run.result.decisions if d["verdict"] == "pass"] == scenarios["spec"].steps
    assert not any(d["verdict"] == "fail" for d in run.result.decisions)
    assert scenarios["runs"]["aliases_after"]["champion"] == registry.good
    events = [e["event"] for e in read_events(scenarios["out"] / "events.jsonl", "good")]
    assert events[-3:] == ["promotion", "stable_stopped", "rollout_finished"]
    assert not scenarios["services"]["stable"].running()


def test_a_killed_canary_falls_back_to_stable_then_rolls_back(scenarios) -> None:
    run = scenarios["runs"]["killed"]
    assert run.result.outcome == "rolled_back" and "error_rate" in run.result.rollback["failed_metrics"]
    degraded = run.load[run.load["degraded"] == True]  # noqa: E712 (a column of booleans and None)
    assert len(degraded) > 0 and set(degraded["arm"]) == {"stable"}
    fallbacks = [e for e in read_events(scenarios["out"] / "events.jsonl", "killed") if e["event"] == "fallback"]
    assert fallbacks and sum(e["count"] for e in fallbacks) <= len(degraded)


@pytest.mark.parametrize("name", [*FAULTS, "killed", "good"])
def test_no_client_saw_a_failure_and_the_router_agrees(scenarios, name) -> None:
    run = scenarios["runs"][name]
    assert len(run.load) > 50, "the load generator sent too few requests to judge"
    assert run.client_failures == 0, run.load[run.load["failed"]].head().to_dict("records")
    assert (run.load["status"] == 200).all()
    counts = run.router_counts
    assert counts["requests"] == len(run.load) and counts["server_errors_sent"] == 0
    assert counts["degraded"] == int((run.load["degraded"] == True).sum())  # noqa: E712
    assert sum(counts["answered_by"].values()) == len(run.load)


def test_no_process_is_left_running(scenarios) -> None:
    for name, service in scenarios["services"].items():
        assert not group_alive(service.pid), f"the {name} service's process group is still alive"


def test_the_picture_shows_every_rollout(scenarios) -> None:
    events = read_events(scenarios["out"] / "events.jsonl")
    decisions = [d for run in scenarios["runs"].values() if hasattr(run, "result") for d in run.result.decisions]
    figure = rollout_picture(events, decisions)
    assert len(figure.axes) == 3 * 5
    assert [ax.get_title().split(":")[0] for ax in figure.axes[:5]] == [*FAULTS, "killed", "good"]


def test_when_both_models_fail_the_baseline_answers_degraded_never_a_5xx(registry) -> None:
    spec = load_rollout_spec(spec_dict())
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens there
    with RouterProcess.start_router(router_config(spec, dead, dead, weight=50), timeout=START_TIMEOUT) as router:
        orders = orders_for_load(registry.eval_batch.head(40))
        answers = [httpx.post(f"{router.url}/predict", json=order, timeout=10) for order in orders]
        bad = httpx.post(f"{router.url}/predict", content=b"{not json", timeout=10)
        counts = router.state()["counts"]
    assert {a.status_code for a in answers} == {200}
    bodies = [a.json() for a in answers]
    assert {b["arm"] for b in bodies} == {"baseline"} and all(b["degraded"] for b in bodies)
    for order, body in zip(orders, bodies, strict=True):
        expected = 0.7 if order["distance_km"] > 6.0 else 0.2
        assert body["predictions"][0]["late_probability"] == expected
    assert {b["routed_to"] for b in bodies} == {"stable", "canary"}, "weight 50 sends some keys to each arm"
    assert bad.status_code == 400
    assert counts["server_errors_sent"] == 0 and counts["degraded"] == 40
    assert not group_alive(router.pid)


def test_the_router_process_reads_the_socket_where_the_service_process_hands_it_over() -> None:
    import mlops_kit.rollout.__main__ as router_main
    from mlops_kit.serving.process import FD_ENV

    assert router_main.FD_ENV == FD_ENV
    code = "import sys, mlops_kit.rollout.__main__, mlops_kit.rollout.router; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not {"sklearn", "pandas", "scipy", "mlflow"} & set(ast.literal_eval(loaded)), (
        "the router loads the model stack"
    )


def test_a_fault_needs_its_parameter_and_is_off_by_default() -> None:
    from pydantic import ValidationError

    from mlops_kit.serving import ServiceConfig

    with pytest.raises(ValidationError, match="needs city_zone"):
        Fault(kind="error_slice")
    assert Fault(kind="latency", extra_ms=120).extra_ms == 120
    assert ServiceConfig(tracking_uri="sqlite:///x.db", model_name=MODEL, alias="champion").fault is None
