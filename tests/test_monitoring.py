"""Module 5's monitoring parts without a model service: log reading, rules, alerts, sinks, metrics, drift, dashboard."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from mlops_kit.monitoring import (
    AlertRule,
    JoinError,
    JsonlSink,
    MetricsFormatError,
    PredictionLogError,
    RulesError,
    WebhookReceiver,
    WebhookSink,
    default_notification,
    drifted_windows,
    evaluate_rules,
    histogram_quantile,
    join_labels,
    load_rules,
    notify,
    parse_metrics,
    read_prediction_log,
    rules_yaml,
    signal_table,
    summarise_window,
    window_signals,
    write_dashboard,
)
from mlops_kit.serving.predlog import PredictionLogWriter

RUNBOOK = "Check the upstream feed of the column, then decide whether to retrain."


def _write_log(folder: Path, requests: int, rows: int = 2) -> PredictionLogWriter:
    writer = PredictionLogWriter(folder, "7")
    for number in range(requests):
        orders = [{"order_id": f"O{number}-{row}", "distance_km": 1.0 + row, "weather": "rain"} for row in range(rows)]
        writer.write(f"r{number}", orders, [0.25] * rows, [0] * rows, 1.5, "order_id")
    writer.close()
    return writer


def test_prediction_log_reads_back_every_record(tmp_path: Path) -> None:
    writer = _write_log(tmp_path, 3)
    log = read_prediction_log(tmp_path)
    assert len(log) == 6 and set(log["model_version"]) == {"7"}
    assert list(log.loc[log["order_id"] == "O1-1", "distance_km"]) == [2.0]
    assert writer.path.name.startswith("predictions-") and writer.path.suffix == ".jsonl"


def test_torn_tail_names_file_and_record_and_keeps_the_good_ones(tmp_path: Path) -> None:
    writer = _write_log(tmp_path, 2)
    with open(writer.path, "ab") as handle:
        handle.write(b'{"request_id":"r9","time":"2025-')
    with pytest.raises(PredictionLogError) as caught:
        read_prediction_log(tmp_path)
    message = str(caught.value)
    assert writer.path.name in message and "record 5" in message and "torn" in message
    assert [record["order_id"] for record in caught.value.records] == ["O0-0", "O0-1", "O1-0", "O1-1"]


def test_corrupt_middle_line_is_named_too(tmp_path: Path) -> None:
    writer = _write_log(tmp_path, 1)
    lines = writer.path.read_text().splitlines()
    writer.path.write_text(lines[0] + "\nnot json\n" + lines[1] + "\n")
    with pytest.raises(PredictionLogError, match=r"record 2: not a prediction record") as caught:
        read_prediction_log(tmp_path)
    assert len(caught.value.records) == 2


def test_missing_log_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PredictionLogError, match="no prediction log"):
        read_prediction_log(tmp_path / "nothing")


def test_join_labels_refuses_duplicate_order_ids() -> None:
    log = pd.DataFrame({"order_id": ["a", "b", "b"], "late_probability": [0.1, 0.2, 0.3]})
    labels = pd.DataFrame({"order_id": ["a", "b"], "is_late": [0, 1], "month": ["2025-07"] * 2})
    with pytest.raises(JoinError, match="prediction log .*b"):
        join_labels(log, labels)
    joined = join_labels(log.iloc[:2], labels.iloc[:1])
    assert joined.attrs["unlabelled"] == 1 and joined["is_late"].iloc[0] == 0


# ---------------------------------------------------------------- rules


def test_rules_load_from_yaml_and_round_trip(tmp_path: Path) -> None:
    rules = load_rules(
        [{"name": "KeyDrift", "signal": "column_drift", "columns": ["weather"], "threshold": 0.1, "runbook": RUNBOOK}]
    )
    path = tmp_path / "rules.yaml"
    path.write_text(rules_yaml(rules))
    assert load_rules(path) == rules


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"signal": "column_drift", "threshold": "high"}, "field 'threshold'"),
        ({"signal": "drift_sahre", "threshold": 0.1}, "field 'signal'"),
        ({"signal": "error_rate", "threshold": 0.1, "columns": ["weather"]}, "columns only apply"),
        ({"signal": "error_rate", "threshold": 0.1, "for_windows": 0}, "field 'for_windows'"),
        ({"signal": "error_rate", "threshold": 0.1, "severty": "high"}, "field 'severty'"),
    ],
)
def test_a_bad_rule_is_refused_naming_rule_and_field(tmp_path: Path, rule: dict, named: str) -> None:
    path = tmp_path / "rules.yaml"
    good = {"name": "Fine", "signal": "error_rate", "threshold": 0.1, "runbook": RUNBOOK}
    import yaml

    path.write_text(yaml.safe_dump({"rules": [good, {"name": "Broken", "runbook": RUNBOOK, **rule}]}))
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert str(path) in str(caught.value) and "rule 2 ('Broken')" in str(caught.value) and named in str(caught.value)


def test_duplicate_rule_names_are_refused() -> None:
    rule = {"name": "Same", "signal": "error_rate", "threshold": 0.1, "runbook": RUNBOOK}
    with pytest.raises(RulesError, match="rule 2 .*already called 'Same'"):
        load_rules({"rules": [rule, rule]})


# ---------------------------------------------------------------- alerts


def _windows(values: list[float | None], signal: str = "error_rate") -> list[dict]:
    return [{"window": f"w{index}", signal: value} for index, value in enumerate(values)]


def test_pending_firing_resolved_one_notification_per_episode() -> None:
    rule = AlertRule(name="Errors", signal="error_rate", threshold=0.1, for_windows=2, runbook=RUNBOOK)
    result = evaluate_rules([rule], _windows([0.0, 0.5, 0.0, 0.5, 0.5, 0.5, 0.5, 0.0, 0.0]))
    states = [row["state"] for row in result.timeline]
    assert states == [
        "inactive",
        "pending",
        "inactive",
        "pending",
        "firing",
        "firing",
        "firing",
        "resolved",
        "inactive",
    ]
    assert [(event.kind, event.window) for event in result.events] == [("firing", "w4"), ("resolved", "w7")]
    assert result.episodes == [
        {
            "episode": "Errors@w4",
            "rule": "Errors",
            "column": None,
            "severity": "warning",
            "first_window": "w4",
            "resolved_window": "w7",
            "windows": ["w4", "w5", "w6"],
        }
    ]


def test_no_data_keeps_the_state_and_is_never_a_pass() -> None:
    rule = AlertRule(name="Drop", signal="performance_drop", threshold=0.05, runbook=RUNBOOK)
    result = evaluate_rules([rule], _windows([0.1, None, 0.1, 0.0], "performance_drop"))
    assert [row["state"] for row in result.timeline] == ["firing", "no data", "firing", "resolved"]
    assert [event.kind for event in result.events] == ["firing", "resolved"]


def test_column_drift_gives_one_alert_per_column_and_below_conditions_work() -> None:
    windows = [
        {"window": "m1", "column_drift": {"weather": 0.3, "vehicle": 0.01}, "latency_p95_ms": 5.0},
        {"window": "m2", "column_drift": {"weather": 0.3, "vehicle": 0.4}, "latency_p95_ms": 0.5},
    ]
    rules = [
        AlertRule(name="Drift", signal="column_drift", threshold=0.1, runbook=RUNBOOK),
        AlertRule(name="TooFast", signal="latency_p95_ms", condition="below", threshold=1.0, runbook=RUNBOOK),
    ]
    result = evaluate_rules(rules, windows)
    assert result.firing("m1") == [("Drift", "weather")]
    assert result.firing("m2") == [("Drift", "weather"), ("Drift", "vehicle"), ("TooFast", None)]
    assert drifted_windows(result) == {"m1": ["weather"], "m2": ["vehicle", "weather"]}
    assert len(result.events) == 3


# ---------------------------------------------------------------- sinks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _events():
    rule = AlertRule(name="Errors", signal="error_rate", threshold=0.1, runbook=RUNBOOK)
    return evaluate_rules([rule], _windows([0.5, 0.0])).events


def test_webhook_delivers_each_event_once_and_jsonl_keeps_them(tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        deliveries = notify(_events(), [JsonlSink(tmp_path / "n.jsonl"), WebhookSink(receiver.url)])
        received = list(receiver.received)
    assert [payload["kind"] for payload in received] == ["firing", "resolved"]
    assert received[0]["runbook"] == RUNBOOK and "Errors" in received[0]["title"]
    assert [json.loads(line)["kind"] for line in (tmp_path / "n.jsonl").read_text().splitlines()] == [
        "firing",
        "resolved",
    ]
    assert all(delivery["ok"] and delivery["attempts"] == 1 for delivery in deliveries)


def test_receiver_down_is_recorded_with_bounded_retries_and_evaluation_goes_on(tmp_path: Path) -> None:
    sink = WebhookSink(f"http://127.0.0.1:{_free_port()}/alerts", timeout=0.5, attempts=3, backoff=0.01)
    deliveries = notify(_events(), [sink, JsonlSink(tmp_path / "n.jsonl")])
    webhook = [delivery for delivery in deliveries if delivery["sink"] == "webhook"]
    assert [delivery["ok"] for delivery in webhook] == [False, False]
    assert all(delivery["attempts"] == 3 and "Connect" in delivery["error"] for delivery in webhook)
    assert len((tmp_path / "n.jsonl").read_text().splitlines()) == 2


def test_slow_receiver_times_out_and_flaky_one_succeeds_on_retry() -> None:
    with WebhookReceiver(delay=1.0) as slow:
        started = time.monotonic()
        result = WebhookSink(slow.url, timeout=0.2, attempts=2, backoff=0.01).send({"kind": "firing"})
        assert time.monotonic() - started < 3.0
    assert not result["ok"] and result["attempts"] == 2 and "Timeout" in result["error"]
    with WebhookReceiver(fail_first=1) as flaky:
        result = WebhookSink(flaky.url, attempts=3, backoff=0.01).send({"kind": "firing"})
        assert result["ok"] and result["attempts"] == 2 and flaky.received == [{"kind": "firing"}]


# ---------------------------------------------------------------- metrics


def _exposition(latencies: list[float], status: str = "200") -> str:
    registry = CollectorRegistry()
    requests = Counter("service_requests", "r", ["endpoint", "status"], registry=registry)
    latency = Histogram(
        "service_request_latency_seconds", "l", ["endpoint"], buckets=(0.01, 0.1, 1.0), registry=registry
    )
    for value in latencies:
        requests.labels("/predict", status).inc()
        latency.labels("/predict").observe(value)
    return generate_latest(registry).decode()


def test_window_summary_is_the_increase_between_scrapes() -> None:
    before = _exposition([0.005] * 10)
    after = _exposition([0.005] * 10 + [0.05] * 20)
    summary = summarise_window(before, after)
    assert summary["requests"] == 20 and summary["failed_requests"] == 0 and summary["error_rate"] == 0.0
    # all 20 new observations in the (0.01, 0.1] bucket: p95 interpolates to 0.01 + 0.09 * 0.95
    assert summary["latency_p95_ms"] == pytest.approx((0.01 + 0.09 * 0.95) * 1000)


def test_histogram_quantile_matches_prometheus_on_known_buckets() -> None:
    buckets = {0.1: 50.0, 0.5: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.5 + 0.5 * 0.5)
    assert histogram_quantile(0.5, {float("inf"): 0.0}) is None


def test_unparseable_metrics_are_refused() -> None:
    with pytest.raises(MetricsFormatError):
        parse_metrics('service_requests_total{endpoint="/predict" 3\n')


# ---------------------------------------------------------------- drift and dashboard


def _frame(rng: np.random.Generator, n: int, rain: float, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "distance_km": rng.lognormal(1.2, 0.5, n) + shift,
            "prep_time_min": rng.gamma(6.0, 2.7, n),
            "basket_size": rng.poisson(2.0, n) + 1,
            "city_zone": rng.choice(["center", "north"], n),
            "weather": np.where(rng.random(n) < rain, "rain", "clear"),
            "vehicle": rng.choice(["bike", "car"], n),
        }
    )


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory) -> tuple[Path, dict]:
    from mlops_kit.monitoring import drift_report

    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("drift")
    reference = _frame(rng, 3000, 0.1, 0.0)
    summaries = {
        "2025-07": drift_report(reference, _frame(rng, 1500, 0.1, 0.0), "2025-07", out),
        "2025-08": drift_report(reference, _frame(rng, 1500, 0.6, 3.0), "2025-08", out),
    }
    return out, summaries


def test_drift_report_pins_methods_and_flags_the_planted_columns(drift_run) -> None:
    out, summaries = drift_run
    assert summaries["2025-07"]["drifted_columns"] == []
    assert sorted(summaries["2025-08"]["drifted_columns"]) == ["distance_km", "weather"]
    columns = summaries["2025-08"]["columns"]
    assert columns["distance_km"]["method"] == "wasserstein" and columns["weather"]["method"] == "jensenshannon"
    assert columns["basket_size"]["type"] == "numerical"  # an integer column declared numerical
    assert json.loads((out / "drift_2025-08.json").read_text()) == summaries["2025-08"]
    assert (out / "drift_2025-08.html").stat().st_size > 10_000


def test_the_drift_worker_writes_the_same_reports_as_in_process(drift_run, tmp_path: Path) -> None:
    from mlops_kit.monitoring import DriftWorker

    out, summaries = drift_run
    rng = np.random.default_rng(0)
    reference = _frame(rng, 3000, 0.1, 0.0)
    windows = {"2025-07": _frame(rng, 1500, 0.1, 0.0), "2025-08": _frame(rng, 1500, 0.6, 3.0)}
    with DriftWorker() as worker:
        assert worker.reports(reference, windows, tmp_path) == summaries  # same data, same seed as drift_run
        with pytest.raises(ValueError, match="no rows"):
            worker.submit(reference, windows["2025-07"].head(0), "empty", tmp_path).result()
    assert (tmp_path / "drift_2025-08.json").read_text() == (out / "drift_2025-08.json").read_text()
    assert (tmp_path / "drift_2025-08.html").stat().st_size > 10_000


def test_start_in_background_returns_at_once_and_stops_at_exit(monkeypatch) -> None:
    import atexit
    import threading

    from mlops_kit.monitoring import start_in_background

    registered, release = [], threading.Event()
    monkeypatch.setattr(atexit, "register", lambda stop, value: registered.append((stop, value)))
    starting = start_in_background(lambda: release.wait(10) and "service", lambda value: None)
    assert not starting.done()  # the caller goes on while it starts
    release.set()
    assert starting.result(timeout=10) == "service" and registered[0][1] == "service"
    failing = start_in_background(lambda: 1 / 0, lambda value: None)
    with pytest.raises(ZeroDivisionError):
        failing.result(timeout=10)
    assert len(registered) == 1  # nothing started, nothing to stop


def test_dashboard_names_the_drifted_months_and_needs_no_network(drift_run, tmp_path: Path) -> None:
    _, summaries = drift_run
    signals = window_signals(summaries, {})
    rule = AlertRule(name="Drift", signal="column_drift", threshold=0.1, runbook=RUNBOOK)
    result = evaluate_rules([rule], signals)
    page = write_dashboard(tmp_path / "dashboard.html", signal_table(signals), result, threshold=0.1).read_text()
    assert "2025-08: distance_km, weather" in page and "2025-07:" not in page
    assert "http://" not in page and "https://" not in page and "<img" in page


def test_default_notification_names_rule_column_window_and_runbook() -> None:
    rule = AlertRule(name="Drift", signal="column_drift", threshold=0.1, runbook=RUNBOOK)
    event = evaluate_rules([rule], [{"window": "2025-09", "column_drift": {"weather": 0.3}}]).events[0]
    payload = default_notification(event)
    assert "weather" in payload["title"] and "2025-09" in payload["title"] and payload["runbook"] == RUNBOOK
