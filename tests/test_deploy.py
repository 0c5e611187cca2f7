"""Module 4's deploy: the spec, and deploy's success and failure paths on a real registry and real services.

Every failure path must leave the champion alias where it was, stop the process it started and
name the failed step in the record; a successful deploy moves the alias only after the service
was ready and every smoke request was answered correctly, while an older service keeps serving.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import serving_support
from serving_support import MODEL, group_alive

from mlops_kit.deploy import RECORD_FILE, DeployFailed, DeploySpec, DeploySpecError, deploy, load_deploy_spec
from mlops_kit.gates import GateSpec
from mlops_kit.registry import aliases, read_audit_log, set_alias
from mlops_kit.serving import ServiceProcess
from mlops_kit.serving.faults import Fault
from mlops_kit.serving.prefork import PREFORK_ENV

registry = serving_support.registry  # the shared fixtures (built once per test process)
tracking = serving_support.tracking
pytestmark = serving_support.SERVING_MARKS
# The latency budget is generous: the tests judge deploy's steps, not this (shared, loaded) machine's speed.
GATE = {"latency_p95_ms": 5000, "latency_samples": 20, "behaviour_cases": 50}
START_TIMEOUT = serving_support.START_TIMEOUT


@pytest.fixture
def champion(registry, tracking):
    """The champion is the registry's first version before and after each test."""
    set_alias(tracking, MODEL, "champion", registry.champion, allow_protected=True)
    yield registry.champion
    set_alias(tracking, MODEL, "champion", registry.champion, allow_protected=True)


@pytest.fixture(scope="module")
def old_service(registry):
    """The champion's service, started once for this file (in the background, while a test's gate runs)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        started: Future = pool.submit(
            ServiceProcess.start, registry.uri, MODEL, alias="champion", timeout=START_TIMEOUT
        )
        yield started
        service = started.result()
        service.stop()
        assert not group_alive(service.pid)


def launched_as(monkeypatch, **changes) -> list[ServiceProcess]:
    """Make deploy start its (real) service with ``changes`` to what it asked for; the services started."""
    import importlib

    deploy_module = importlib.import_module("mlops_kit.deploy.deploy")  # the package's ``deploy`` is the function
    started: list[ServiceProcess] = []

    class Misconfigured(ServiceProcess):
        @classmethod
        def start(cls, tracking_uri: str, model_name: str, **options) -> ServiceProcess:
            started.append(ServiceProcess.start(tracking_uri, model_name, **{**options, **changes}))
            return started[-1]

    monkeypatch.setattr(deploy_module, "ServiceProcess", Misconfigured)
    return started


def assert_old_service_serves(old_service, registry, champion) -> None:
    answer = old_service.result().predict(registry.orders.iloc[:2])
    assert answer.status_code == 200 and answer.json()["model_version"] == champion


def spec(version: str, **changes) -> dict:
    return {
        "model_name": MODEL,
        "version": version,
        "smoke_size": 8,
        "health_timeout_s": START_TIMEOUT,
        "gate": GATE,
        **changes,
    }


def read_record(folder) -> dict:
    return json.loads((folder / RECORD_FILE).read_text())


# --- the spec --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"port": 70000}, "port"),
        ({"workers": 0}, "workers"),
        ({"smoke_size": 0}, "smoke_size"),
        ({"health_timeout_s": -1}, "health_timeout_s"),
        ({"host": "0.0.0.0"}, "host"),
        ({"version": "latest"}, "version"),
        ({"colour": "blue"}, "colour"),
        ({"gate": {"tolerance": 2}}, "gate.tolerance"),
        ({"gate": {"latency_budget": 5}}, "gate.latency_budget"),
    ],
)
def test_an_invalid_spec_is_refused_naming_the_field(changes, field) -> None:
    with pytest.raises(DeploySpecError, match=f"field '{field}'"):
        load_deploy_spec({"model_name": MODEL, "version": "2", **changes})


def test_a_spec_needs_exactly_one_of_version_and_alias() -> None:
    with pytest.raises(DeploySpecError, match="exactly one of version and alias"):
        load_deploy_spec({"model_name": MODEL, "version": "2", "alias": "challenger"})
    with pytest.raises(DeploySpecError, match="exactly one of version and alias"):
        load_deploy_spec({"model_name": MODEL})


def test_a_spec_from_yaml_embeds_the_gate_spec(tmp_path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text("model_name: late-delivery\nalias: challenger\nport: 0\ngate:\n  tolerance: 0.05\n  floor: 0.55\n")
    loaded = load_deploy_spec(path)
    assert isinstance(loaded, DeploySpec) and loaded.target == "challenger"
    assert loaded.gate == GateSpec.model_validate({"tolerance": 0.05, "floor": 0.55})
    path.write_text("model_name: [unclosed\n")
    with pytest.raises(DeploySpecError, match="cannot read the deploy spec"):
        load_deploy_spec(path)


# --- failure paths: the alias never moves ----------------------------------------------------


def test_a_challenger_the_gate_blocks_is_never_started(registry, tracking, champion, tmp_path) -> None:
    result = deploy(spec(registry.broken), tracking, registry.eval_batch, tmp_path)
    record = read_record(tmp_path)
    assert not result.ok and record["outcome"] == "blocked" and record["failed_step"] == "gate"
    assert record["champion_before"] == record["champion_after"] == champion == aliases(tracking, MODEL)["champion"]
    assert record["alias_moved"] is False and record["service"] is None and result.service is None
    assert record["gate"]["passed"] is False and record["gate"]["failed_checks"]
    assert [step["step"] for step in record["steps"]] == ["resolve", "gate"]
    junit = ET.parse(tmp_path / record["gate"]["files"]["junit"]).getroot()
    failed = {case.get("name") for case in junit.iter("testcase") if case.find("failure") is not None}
    assert failed == set(record["gate"]["failed_checks"])


def test_a_missing_version_fails_at_resolve(registry, tracking, champion, tmp_path) -> None:
    result = deploy(spec("99"), tracking, registry.eval_batch, tmp_path)
    assert result.record["failed_step"] == "resolve" and "has no version '99'" in result.record["error"]
    assert aliases(tracking, MODEL)["champion"] == champion == result.record["champion_after"]
    with pytest.raises(DeployFailed, match="at step 'resolve'"):
        deploy(spec("99"), tracking, registry.eval_batch, tmp_path, raise_on_failure=True)


def test_a_port_in_use_fails_at_start_and_leaves_the_alias(registry, tracking, champion, tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = deploy(spec(registry.good, port=port), tracking, registry.eval_batch, tmp_path)
    record = result.record
    assert record["gate"]["passed"] is True and record["failed_step"] == "start"
    assert f"port {port}" in record["error"] and "already in use" in record["error"]
    assert aliases(tracking, MODEL)["champion"] == champion and record["alias_moved"] is False


def test_a_service_never_ready_is_stopped_and_the_alias_stays(
    registry, tracking, champion, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv(PREFORK_ENV, "0")  # a new Python: never ready within 0.2 s (a forked one may be)
    result = deploy(spec(registry.good, health_timeout_s=0.2), tracking, registry.eval_batch, tmp_path)
    record = read_record(tmp_path)
    assert record["failed_step"] == "start" and "not ready within 0.2 s" in record["error"]
    assert record["service"]["pid"] and not group_alive(record["service"]["pid"]) and result.service is None
    assert aliases(tracking, MODEL)["champion"] == champion and record["champion_after"] == champion


def test_a_service_answering_for_another_version_is_stopped_and_the_alias_stays(
    registry, tracking, champion, old_service, monkeypatch, tmp_path
) -> None:
    started = launched_as(monkeypatch, version=registry.champion)  # a deploy tool that started the wrong version
    result = deploy(spec(registry.good), tracking, registry.eval_batch, tmp_path)
    record = read_record(tmp_path)
    assert record["outcome"] == "failed" and record["failed_step"] == "metadata" and result.service is None
    assert (
        f"version '{registry.champion}'" in record["error"]
        and f"expected 'late-delivery' version '{registry.good}'" in record["error"]
    )
    assert record["service"]["metadata"]["model_version"] == registry.champion and record["smoke"] is None
    assert [step["step"] for step in record["steps"]] == ["resolve", "gate", "start", "metadata"]
    assert started and not started[0].running() and not group_alive(record["service"]["pid"])
    assert record["service"]["running"] is False and record["service"]["stopped_at"]
    assert aliases(tracking, MODEL)["champion"] == champion == record["champion_after"] and not record["alias_moved"]
    assert_old_service_serves(old_service, registry, champion)


def test_a_failing_smoke_test_stops_the_new_service_and_the_alias_stays(
    registry, tracking, champion, old_service, monkeypatch, tmp_path
) -> None:
    started = launched_as(monkeypatch, fault=Fault(kind="prediction_shift", shift=0.2))  # answers off the model
    result = deploy(spec(registry.good), tracking, registry.eval_batch, tmp_path)
    record = read_record(tmp_path)
    assert record["outcome"] == "failed" and record["failed_step"] == "smoke" and result.service is None
    smoke = record["smoke"]
    assert smoke["passed"] is False and smoke["failures"] == smoke["size"] == 8
    assert all(any("differs from the registered model's" in p for p in r["problems"]) for r in smoke["results"])
    assert "smoke requests failed" in record["error"]
    assert started and not started[0].running() and not group_alive(record["service"]["pid"])
    assert aliases(tracking, MODEL)["champion"] == champion == record["champion_after"] and not record["alias_moved"]
    assert record["alias_moved_at"] is None and read_audit_log(tmp_path / "audit_log.jsonl") == []
    assert_old_service_serves(old_service, registry, champion)


# --- success ---------------------------------------------------------------------------------


def test_deploy_moves_the_alias_only_after_ready_and_smoke_while_the_old_service_serves(
    registry, tracking, champion, old_service, tmp_path
) -> None:
    try:
        result = deploy(
            spec(registry.good), tracking, registry.eval_batch, tmp_path, audit_log=tmp_path / "audit.jsonl"
        )
        record = read_record(tmp_path)
        assert result.ok and record["outcome"] == "deployed" and record["failed_step"] is None
        assert (record["champion_before"], record["champion_after"]) == (champion, registry.good)
        assert aliases(tracking, MODEL)["champion"] == registry.good
        assert [step["step"] for step in record["steps"]] == [
            "resolve",
            "gate",
            "start",
            "metadata",
            "smoke",
            "promote",
        ]
        assert all(step["ok"] for step in record["steps"])
        service = record["service"]
        assert service["metadata"]["model_version"] == registry.good and service["port"] == result.service.port
        assert service["pid"] == result.service.pid and group_alive(service["pid"])
        smoke = record["smoke"]
        assert smoke["passed"] and smoke["size"] == 8 and all(r["status"] == 200 for r in smoke["results"])
        assert set(registry.eval_batch["order_id"]) >= {r["order_id"] for r in smoke["results"]}
        assert service["ready_at"] < smoke["results"][0]["sent_at"] < smoke["finished_at"] < record["alias_moved_at"]
        promote_step = record["steps"][-1]
        assert smoke["finished_at"] < promote_step["started_at"]
        audit = read_audit_log(tmp_path / "audit.jsonl")
        assert audit[-1]["version"] == registry.good and audit[-1]["decision"] == "approved"

        # the old service is pinned to the version it started with and keeps answering
        assert_old_service_serves(old_service, registry, champion)
        new = result.service.predict(registry.orders.iloc[:2])
        assert new.json()["model_version"] == registry.good
    finally:
        result.stop() if "result" in locals() else None
    record = read_record(tmp_path)
    assert record["service"]["stopped_at"] and record["service"]["running"] is False
    assert not group_alive(record["service"]["pid"])


# --- the command line (what the example CI workflow runs) -------------------------------------


def deploy_arguments(registry, spec_path, out) -> list[str]:
    from mlops_kit.data import SHIPPED_DATA_DIR

    return [
        str(spec_path),
        "--artifacts-dir",
        str(registry.artifacts),
        "--data-dir",
        str(SHIPPED_DATA_DIR),
        "--out",
        str(out),
    ]


def test_the_deploy_command_exits_2_on_a_bad_spec_1_when_blocked_and_0_deployed_leaving_nothing_running(
    registry, tracking, champion, tmp_path, capsys
) -> None:
    from mlops_kit.deploy.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(f"model_name: {MODEL}\nversion: '{registry.good}'\nworkers: 0\n")
    command = [sys.executable, "-m", "mlops_kit.deploy", *deploy_arguments(registry, bad, tmp_path / "bad")]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "field 'workers'" in refused.stderr, refused.stderr
    assert not (tmp_path / "bad" / RECORD_FILE).exists()

    # The same entry point in this process (its imports and warm parent are made): blocked, then deployed.
    for version, code, outcome in ((registry.broken, 1, "blocked"), (registry.good, 0, "deployed")):
        path = tmp_path / f"v{version}.json"
        path.write_text(json.dumps(spec(version)))
        assert main(deploy_arguments(registry, path, tmp_path / f"out-v{version}")) == code
        record = read_record(tmp_path / f"out-v{version}")
        assert record["outcome"] == outcome and f"outcome: {outcome}" in capsys.readouterr().out
    assert aliases(tracking, MODEL)["champion"] == registry.good
    service = record["service"]
    assert service["stopped_at"] and service["running"] is False and not group_alive(service["pid"])
