"""Module 4's model service: real uvicorn processes on loopback against a real SQLite MLflow registry.

The registry (tests/serving_support.py) is built once per test process; most checks share one
service process, started for the champion alias and stopped at the end of the module.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import serving_support
from prometheus_client.parser import text_string_to_metric_families
from serving_support import MODEL, group_alive

from mlops_kit.features import load_feature_dictionary
from mlops_kit.registry import aliases, get_version, load_model
from mlops_kit.serving import (
    PortInUse,
    ServiceConfig,
    ServiceProcess,
    ServiceStartError,
    order_model,
    orders_json,
    request_schema,
)
from mlops_kit.serving.batcher import MicroBatcher
from mlops_kit.serving.prefork import PREFORK_ENV

registry = serving_support.registry  # the shared fixtures (built once per test process)
tracking = serving_support.tracking
pytestmark = serving_support.SERVING_MARKS
START_TIMEOUT = serving_support.START_TIMEOUT


@pytest.fixture(scope="module")
def service(registry):
    with ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=START_TIMEOUT) as running:
        yield running
    assert not group_alive(running.pid)


@pytest.fixture(scope="module")
def served_model(service, tracking):
    return load_model(tracking, MODEL, version=service.metadata()["model_version"])


def post(service, body, **headers) -> httpx.Response:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return httpx.post(
        f"{service.url}/predict", content=content, headers={"Content-Type": "application/json", **headers}, timeout=60
    )


def scrape(service) -> dict[str, dict]:
    """Every sample of /metrics, parsed by prometheus_client's own parser: {family: {(name, labels): value}}."""
    families = {}
    for family in text_string_to_metric_families(service.get("/metrics").text):
        families[family.name] = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
    return families


def order_rows(registry, rows: int, start: int = 0) -> list[dict]:
    return json.loads(orders_json(registry.orders.iloc[start : start + rows]))


# --- generated schemas and config (in-process) ---------------------------------------------


def test_request_model_is_generated_from_the_feature_dictionary() -> None:
    dictionary = load_feature_dictionary()
    model = order_model(dictionary)
    assert list(model.model_fields) == [dictionary.key.name, *dictionary.input_names]
    for spec in dictionary.inputs:
        assert model.model_fields[spec.name].is_required(), spec.name
    distance = dictionary.input("distance_km")
    schema = model.model_json_schema()["properties"]["distance_km"]
    assert (schema["minimum"], schema["maximum"]) == (distance.min, distance.max)
    assert request_schema(dictionary)["anyOf"][1]["items"] == model.model_json_schema()


def test_service_config_wants_exactly_one_of_alias_and_version() -> None:
    with pytest.raises(ValueError, match="exactly one of alias and version"):
        ServiceConfig(tracking_uri="sqlite:///x.db", model_name=MODEL, alias="champion", version="1")
    with pytest.raises(ValueError, match="version number"):
        ServiceConfig(tracking_uri="sqlite:///x.db", model_name=MODEL, version="latest")


def test_micro_batcher_routes_every_row_back_to_its_caller() -> None:
    calls = []
    gate = threading.Event()

    def predict(columns):
        calls.append(len(columns["x"]))
        gate.wait(5)  # the first call holds the worker so that the others queue up and share calls
        return np.asarray(columns["x"], dtype=float) * 2

    batcher = MicroBatcher(predict, ["x"], max_rows=64)
    try:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(batcher.predict, {"x": [i, i + 0.5]}, 2) for i in range(24)]
            threading.Timer(0.3, gate.set).start()
            results = [future.result(10) for future in futures]
    finally:
        batcher.close()
    for i, result in enumerate(results):
        assert result.tolist() == [2 * i, 2 * i + 1]
    assert sum(calls) == 48 and len(calls) < 24  # every row predicted once, in shared calls


def test_the_served_frame_is_the_typed_frame_built_column_by_column(registry) -> None:
    """ServedModel.frame (dtypes resolved once, times through numpy) equals pandas' own typed construction."""
    import pandas as pd

    from mlops_kit.serving.model import load_served_model

    config = ServiceConfig(tracking_uri=registry.uri, model_name=MODEL, alias="champion")
    served = load_served_model(config)
    orders = order_model(served.dictionary)
    rows = [orders.model_validate(row) for row in order_rows(registry, 200)]
    columns = {name: [getattr(row, name) for row in rows] for name in served.input_names}
    expected = pd.DataFrame({name: columns[name] for name in served.input_names}).astype(served.dtypes)
    frame = served.frame(columns)
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    assert (served.predict(columns) == served.model.predict_proba(expected)[:, 1]).all()


def test_a_lone_request_is_answered_on_the_loop_and_concurrent_ones_share_the_batcher(registry) -> None:
    """In-process (ASGI): one small request alone skips the thread pool; simultaneous ones meet in the batcher."""
    import asyncio
    import time

    from mlops_kit.serving.app import create_app
    from mlops_kit.serving.model import load_served_model

    config = ServiceConfig(tracking_uri=registry.uri, model_name=MODEL, alias="champion")
    served = load_served_model(config)
    model = served.model
    calls: list[tuple[int, int]] = []  # (rows, thread id) of each model call

    class Slow:  # the model, slowed down so that concurrent requests find it busy
        steps = model.steps

        def predict_proba(self, frame):
            calls.append((len(frame), threading.get_ident()))
            time.sleep(0.05)
            return model.predict_proba(frame)

    served.model = Slow()
    app = create_app(config, served)
    rows = order_rows(registry, 8)
    expected = model.predict_proba(registry.orders.iloc[:8])[:, 1]

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            lone = await client.post("/predict", json=rows[0])
            together = await asyncio.gather(*(client.post("/predict", json=row) for row in rows))
        return lone, together, threading.get_ident()

    try:
        lone, together, loop_thread = asyncio.run(scenario())
    finally:
        app.state.batcher.close()
    assert lone.status_code == 200 and lone.json()["predictions"][0]["late_probability"] == expected[0]
    assert calls[0] == (1, loop_thread)  # answered on the event loop: no thread hand-off
    for position, answer in enumerate(together):
        assert answer.status_code == 200
        assert answer.json()["predictions"][0]["late_probability"] == pytest.approx(expected[position], abs=1e-12)
    shared = calls[1:]
    assert sum(rows for rows, _ in shared) == 8 and len(shared) < 8  # shared calls
    assert all(thread != loop_thread for _, thread in shared)  # never on the loop when not alone


# --- the live service ------------------------------------------------------------------------


def test_metadata_reports_the_pinned_version_and_its_lineage(service, tracking) -> None:
    meta = service.metadata()
    version = get_version(tracking, MODEL, meta["model_version"])
    assert meta["model_name"] == MODEL and meta["alias"] == "champion"
    assert meta["model_version"] == aliases(tracking, MODEL)["champion"]
    assert meta["run_id"] == version.run_id
    assert meta["data_version"] == version.tags["data_version"]
    assert meta["feature_set_version"] == version.tags["feature_set_version"]
    assert meta["pid"] == service.pid
    from importlib.metadata import version as installed

    assert meta["packages"]["scikit-learn"] == installed("scikit-learn")
    assert meta["packages"]["fastapi"] == installed("fastapi")
    assert service.get("/health").json()["status"] == "ok" and service.get("/ready").json()["ready"] is True


def test_predictions_match_the_registered_model_for_one_order_and_a_list(service, served_model, registry) -> None:
    orders = registry.orders.iloc[:25]
    expected = served_model.predict_proba(orders)[:, 1]
    answer = service.predict(orders, request_id="list-1")
    assert answer.status_code == 200 and answer.headers["x-request-id"] == "list-1"
    body = answer.json()
    version = service.metadata()["model_version"]
    assert body["request_id"] == "list-1" and body["model_version"] == version == answer.headers["x-model-version"]
    got = [row["late_probability"] for row in body["predictions"]]
    assert np.allclose(got, expected, atol=1e-9)
    assert [row["order_id"] for row in body["predictions"]] == orders["order_id"].tolist()
    assert [row["is_late"] for row in body["predictions"]] == [int(p >= 0.5) for p in got]

    one = order_rows(registry, 1, start=3)[0]
    single = post(service, one)
    assert single.status_code == 200 and len(single.json()["predictions"]) == 1
    assert single.json()["predictions"][0]["late_probability"] == pytest.approx(expected[3], abs=1e-9)
    generated = single.headers["x-request-id"]
    assert len(generated) == 32 and generated == single.json()["request_id"]


@pytest.mark.parametrize(
    ("change", "row", "field", "status"),
    [
        ({"distance_km": None}, 2, "distance_km", 422),
        ({"distance_km": "far"}, 1, "distance_km", 422),
        ({"distance_km": -3.0}, 0, "distance_km", 422),
        ({"basket_size": 2.5}, 2, "basket_size", 422),
        ({"created_at": "yesterday"}, 1, "created_at", 422),
        ({"created_at": "2025-12-01T10:00:00+02:00"}, 0, "created_at", 422),
        ({"weather": ""}, 1, "weather", 422),
        ("drop:vehicle", 2, "vehicle", 422),
    ],
)
def test_a_bad_field_is_a_422_naming_the_row_and_field(service, registry, change, row, field, status) -> None:
    orders = order_rows(registry, 3)
    if isinstance(change, str):
        del orders[row][change.split(":")[1]]
    else:
        orders[row].update(change)
    answer = post(service, orders)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert {"row": row, "field": field} in [{"row": e["row"], "field": e["field"]} for e in body["errors"]]
    assert f"row {row}, field {field!r}" in body["detail"] and body["request_id"] == answer.headers["x-request-id"]


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        ("[]", 422, "empty list"),
        ('{"distance_km": 1.0,', 400, "malformed JSON"),
        ("", 400, "empty request body"),
        ("42", 422, "one order (a JSON object) or a list"),
        ('"text"', 422, "one order (a JSON object) or a list"),
        ("[1, 2]", 422, "row 0"),
        (b"\xff\xfe{}", 400, "malformed JSON"),
        ("   ", 400, "malformed JSON"),
    ],
)
def test_malformed_and_empty_bodies_are_4xx_with_a_message(service, content, status, message) -> None:
    answer = post(service, content)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["detail"]


def test_a_body_over_the_size_limit_is_a_413(service, registry) -> None:
    one = order_rows(registry, 1)[0]
    content = json.dumps([one] * 20_000)  # about 3 MB, over the default 2 MB limit
    answer = post(service, content)
    assert answer.status_code == 413 and "over the limit" in answer.json()["detail"]
    assert service.get("/health").status_code == 200


def test_an_unseen_category_is_flagged_in_the_answer_and_counted(service, registry) -> None:
    before = scrape(service)["service_unknown_categories"]
    orders = order_rows(registry, 2)
    orders[1]["city_zone"] = "moon-base"
    body = post(service, orders).json()
    assert body["unknown_category_policy"] == "flag"
    assert [row["unknown_categories"] for row in body["predictions"]] == [[], ["city_zone"]]
    after = scrape(service)["service_unknown_categories"]
    key = ("service_unknown_categories_total", (("field", "city_zone"),))
    assert after[key] == before.get(key, 0) + 1


def test_concurrent_requests_each_get_their_own_answer(service, served_model, registry) -> None:
    orders = registry.orders.iloc[:48]
    expected = served_model.predict_proba(orders)[:, 1]
    rows = order_rows(registry, 48)

    def call(position: int):
        answer = post(service, rows[position], **{"X-Request-ID": f"c-{position}"})
        return position, answer

    with ThreadPoolExecutor(12) as pool:  # a bounded number of concurrent connections
        answers = list(pool.map(call, range(48)))
    for position, answer in answers:
        assert answer.status_code == 200
        body = answer.json()
        assert body["request_id"] == f"c-{position}"
        assert body["predictions"][0]["order_id"] == rows[position]["order_id"]
        assert body["predictions"][0]["late_probability"] == pytest.approx(expected[position], abs=1e-9)


def test_metrics_count_requests_by_status_latency_predictions_and_the_model(service, registry) -> None:
    before = scrape(service)
    ok = post(service, order_rows(registry, 4))
    bad = post(service, "[]")
    assert (ok.status_code, bad.status_code) == (200, 422)
    after = scrape(service)

    def delta(family: str, sample: str, **labels) -> float:
        key = (sample, tuple(sorted(labels.items())))
        return after[family].get(key, 0) - before.get(family, {}).get(key, 0)

    assert delta("service_requests", "service_requests_total", endpoint="/predict", status="200") == 1
    assert delta("service_requests", "service_requests_total", endpoint="/predict", status="422") == 1
    assert delta("service_request_latency_seconds", "service_request_latency_seconds_count", endpoint="/predict") == 2
    assert delta("service_late_probability", "service_late_probability_count") == 4
    assert delta("service_predicted_rows", "service_predicted_rows_total") == 4
    version = service.metadata()["model_version"]
    info = after["service_model_info"]
    assert info == {
        ("service_model_info", (("alias", "champion"), ("model_name", MODEL), ("model_version", version))): 1.0
    }


def test_openapi_schema_lists_the_dictionary_inputs(service) -> None:
    schema = service.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["anyOf"][0]["properties"]) == {"order_id", *load_feature_dictionary().input_names}


# --- process lifecycle -----------------------------------------------------------------------


def test_a_port_in_use_is_a_clear_error_and_starts_nothing(registry) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is already in use"):
            ServiceProcess.start(registry.uri, MODEL, alias="champion", port=port, timeout=5)


def _private_tempdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A temporary folder of this test's own, where a service's scratch folder goes."""
    folder = tmp_path / "tempdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_service_that_is_not_ready_in_time_is_stopped(registry, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(PREFORK_ENV, "0")  # a new Python: never ready within 0.2 s (a forked one may be)
    tempdir = _private_tempdir(monkeypatch, tmp_path)
    with pytest.raises(ServiceStartError, match="not ready within 0.2 s") as raised:
        ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=0.2)
    assert raised.value.pid is not None and not group_alive(raised.value.pid)
    assert list(tempdir.iterdir()) == [], "the service's scratch folder outlived it"


def test_a_service_that_exits_before_it_is_ready_says_why_from_its_log(registry, monkeypatch, tmp_path) -> None:
    tempdir = _private_tempdir(monkeypatch, tmp_path)
    with pytest.raises(ServiceStartError, match="exited with code") as raised:
        ServiceProcess.start(registry.uri, MODEL, alias="no-such-alias", timeout=START_TIMEOUT)
    assert "no-such-alias" in str(raised.value).split("its log ends:", 1)[1], "the log's end names the problem"
    assert list(tempdir.iterdir()) == [], "the log has no name: nothing is left in the temporary folder"


def test_the_parent_hands_over_the_resolved_version_for_its_config_only(registry) -> None:
    from mlops_kit.serving.resolve import RESOLVED_ENV, handed_over, local_folder, resolve_model

    config = ServiceConfig(tracking_uri=registry.uri, model_name=MODEL, alias="champion")
    resolved = resolve_model(config)
    assert resolved is not None and resolved.version == registry.champion and local_folder(resolved.model_dir)
    assert handed_over(config, {RESOLVED_ENV: resolved.to_json()}) == resolved
    pinned = ServiceConfig(tracking_uri=registry.uri, model_name=MODEL, version=registry.champion)
    assert handed_over(pinned, {RESOLVED_ENV: resolved.to_json()}) is None  # resolved for another selector
    assert handed_over(config, {RESOLVED_ENV: "{not json"}) is None and handed_over(config, {}) is None
    assert local_folder("s3://bucket/models/m-1/artifacts") is None
    missing = ServiceConfig(tracking_uri=registry.uri, model_name=MODEL, alias="no-such-alias")
    assert resolve_model(missing) is None  # the service meets the missing alias itself and says so


def test_two_workers_reject_policy_row_limit_and_no_orphan_after_stop(
    registry, tracking, monkeypatch, tmp_path
) -> None:
    import mlops_kit.serving.process as process

    monkeypatch.setattr(process, "resolve_model", lambda config: None)  # each worker resolves through MLflow itself
    tempdir = _private_tempdir(monkeypatch, tmp_path)
    service = ServiceProcess.start(
        registry.uri,
        MODEL,
        version=registry.good,
        workers=2,
        unknown_category="reject",
        max_rows=5,
        timeout=START_TIMEOUT,
    )
    try:
        assert service.metadata()["model_version"] == registry.good and service.metadata()["alias"] is None
        orders = order_rows(registry, 3)
        orders[2]["vehicle"] = "hoverboard"
        rejected = post(service, orders)
        assert rejected.status_code == 422
        assert rejected.json()["errors"] == [
            {"row": 2, "field": "vehicle", "message": "unknown category 'hoverboard'", "input": "hoverboard"}
        ]
        too_many = post(service, order_rows(registry, 6))
        assert too_many.status_code == 413 and "limit is 5" in too_many.json()["detail"]
        for _ in range(6):
            assert post(service, order_rows(registry, 1)).status_code == 200
        metrics = scrape(service)  # merged over both workers
        counted = metrics["service_requests"]
        assert counted[("service_requests_total", (("endpoint", "/predict"), ("status", "200")))] == 6
        assert group_alive(service.pid)
    finally:
        service.stop()
    assert not service.running() and not group_alive(service.pid)
    assert list(tempdir.iterdir()) == [], "the service's scratch folder (log, metrics files) outlived it"
