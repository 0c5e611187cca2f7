"""Module 5 against a real service: the prediction log under concurrent HTTP, the replay, ``/metrics`` read back.

One uvicorn process with two workers, started for the champion with the prediction log on, is
shared by the module's tests and stopped at the end.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import serving_support
from serving_support import MODEL, group_alive

from mlops_kit.monitoring import (
    log_frame,
    parse_metrics,
    read_log_records,
    read_prediction_log,
    replay_production,
    summarise_window,
)
from mlops_kit.serving import ServiceConfig, ServiceProcess, orders_json

registry = serving_support.registry
tracking = serving_support.tracking
pytestmark = serving_support.SERVING_MARKS
START_TIMEOUT = serving_support.START_TIMEOUT


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("prediction-log")


@pytest.fixture(scope="module")
def service(registry, log_dir):
    with ServiceProcess.start(
        registry.uri, MODEL, alias="champion", workers=2, timeout=START_TIMEOUT, prediction_log_dir=str(log_dir)
    ) as running:
        yield running
    assert not group_alive(running.pid)


def test_the_prediction_log_is_off_by_default() -> None:
    assert ServiceConfig(tracking_uri="sqlite:///x.db", model_name=MODEL, alias="champion").prediction_log_dir is None


def test_concurrent_requests_give_exactly_one_record_per_answered_order(service, registry, log_dir) -> None:
    before = len(read_log_records(log_dir)) if list(log_dir.glob("*.jsonl")) else 0
    orders = registry.orders.head(90)
    chunks = [orders.iloc[start : start + 3] for start in range(0, 90, 3)]  # 30 requests of 3 orders

    def send(chunk):
        request_id = uuid.uuid4().hex
        answer = httpx.post(
            f"{service.url}/predict",
            content=orders_json(chunk),
            headers={"Content-Type": "application/json", "X-Request-ID": request_id},
            timeout=60,
        )
        return request_id, answer

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, chunks))
    assert all(answer.status_code == 200 for _, answer in results)
    records = read_log_records(log_dir)[before:] if before else read_log_records(log_dir)
    assert len(records) == 90
    answered = {
        (request_id, row["order_id"]): row["late_probability"]
        for request_id, answer in results
        for row in answer.json()["predictions"]
    }
    logged = {(record["request_id"], record["order_id"]): record["late_probability"] for record in records}
    assert logged == answered  # nothing lost, nothing duplicated, each record under its own request
    version = results[0][1].json()["model_version"]
    assert {record["model_version"] for record in records} == {version}
    frame = log_frame(records).set_index("order_id")
    expected = orders.set_index("order_id")
    assert (frame.loc[expected.index, "distance_km"] == expected["distance_km"]).all()


def test_a_rejected_request_leaves_no_record(service, registry, log_dir) -> None:
    before = len(read_log_records(log_dir))
    bad = registry.orders.head(2).assign(distance_km=-1.0)
    assert service.predict(bad).status_code == 422
    assert len(read_log_records(log_dir)) == before


def test_replay_answers_every_order_and_metrics_parse_and_add_up(service, registry, log_dir) -> None:
    months = {"2025-11": registry.eval_batch.head(180), "2025-12": registry.eval_batch.iloc[180:300]}
    before = len(read_log_records(log_dir))
    logged_after = []  # after each month, before the next: all of the month's records are in the log
    replays = replay_production(
        service.url,
        months,
        after_month=lambda replay: logged_after.append((replay.month, len(read_log_records(log_dir)) - before)),
        batch_size=50,
        concurrency=3,
    )
    assert logged_after == [("2025-11", 180), ("2025-12", 300)]
    assert [(r.month, r.answered, r.requests, r.errors) for r in replays] == [
        ("2025-11", 180, 4, []),
        ("2025-12", 120, 3, []),
    ]
    log = read_prediction_log(log_dir).iloc[before:] if before else read_prediction_log(log_dir)
    assert len(read_log_records(log_dir)) - before == 300
    assert set(months["2025-11"]["order_id"]) | set(months["2025-12"]["order_id"]) <= set(log["order_id"])
    parse_metrics(replays[1].metrics_after)  # prometheus-client's own parser reads the exposition
    summary = summarise_window(replays[0].metrics_before, replays[0].metrics_after)
    assert summary["requests"] == 4 and summary["failed_requests"] == 0 and summary["predicted_orders"] == 180
    assert sum(summary["probability_buckets"].values()) == 180
    assert summary["latency_p95_ms"] is not None and summary["latency_p95_ms"] > 0
