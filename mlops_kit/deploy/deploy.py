"""``deploy(spec, ...)``: gate → start → ready → metadata → smoke test → move the alias → record.

Every step is timed and recorded; the first failure stops the deploy: the new service process
is stopped, the alias is not moved, and the record names the failed step and why. Nothing here
touches a service that was already running, so the previous service keeps serving.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_kit.deploy.smoke import smoke_orders, smoke_test, utc_now
from mlops_kit.deploy.spec import DeploySpec, load_deploy_spec, write_deploy_spec
from mlops_kit.io import atomic_write_json
from mlops_kit.registry import AUDIT_LOG_FILE, PromotionPolicy, Tracking, aliases, promote
from mlops_kit.serving import ServiceProcess, ServiceStartError

RECORD_FILE = "deploy_record.json"
SPEC_FILE = "deploy_spec.yaml"
STEPS = ("resolve", "gate", "start", "metadata", "smoke", "promote")
DEPLOYED, BLOCKED, FAILED = "deployed", "blocked", "failed"


class DeployFailed(RuntimeError):
    """The deploy stopped at a step (raised only with ``raise_on_failure=True``)."""

    def __init__(self, message: str, record: dict[str, Any]) -> None:
        super().__init__(message)
        self.record = record


class StepFailed(Exception):
    """A step's check failed; the message says why (recorded, never shown as a traceback)."""


@dataclass
class DeployResult:
    """The record, where it was written, and the new service (running after a successful deploy)."""

    record: dict[str, Any]
    path: Path
    service: ServiceProcess | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.record["outcome"] == DEPLOYED

    def stop(self) -> None:
        """Stop the deployed service and add ``service.stopped_at`` and its exit code to the record."""
        if self.service is None:
            return
        code = self.service.stop()
        self.record["service"].update({"stopped_at": utc_now(), "exit_code": code, "running": self.service.running()})
        atomic_write_json(self.path, self.record)

    def __enter__(self) -> DeployResult:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Steps:
    """Runs named steps, appending ``{step, started_at, finished_at, ok, detail | error}`` to the record."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def run(self, name: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        entry: dict[str, Any] = {"step": name, "started_at": utc_now()}
        self.record["steps"].append(entry)
        try:
            detail = action()
        except StepFailed as error:
            self._fail(entry, name, str(error))
            raise
        except Exception as error:  # recorded with its type: the deploy must end cleanly whatever broke
            self._fail(entry, name, f"{type(error).__name__}: {error}")
            entry["traceback"] = traceback.format_exc(limit=5)
            raise StepFailed(str(error)) from error
        entry.update({"finished_at": utc_now(), "ok": True, "detail": detail})
        return detail

    def _fail(self, entry: dict[str, Any], name: str, message: str) -> None:
        entry.update({"finished_at": utc_now(), "ok": False, "error": message})
        self.record.update({"failed_step": name, "error": message})


def deploy(
    spec: DeploySpec | dict[str, Any] | str | Path,
    tracking: Tracking,
    eval_batch: pd.DataFrame,
    out: str | Path,
    *,
    audit_log: str | Path | None = None,
    raise_on_failure: bool = False,
    log_path: str | Path | None = None,
) -> DeployResult:
    """Deploy ``spec`` against the registry ``tracking``; write ``<out>/deploy_record.json``.

    ``eval_batch``: held-out clean orders with the label (``mlops_kit.gates.evaluation_batch``),
    used by the gate and the smoke test. ``audit_log``: where the promotion is appended
    (default ``<out>/audit_log.jsonl``). A successful deploy leaves the new service running in
    ``result.service``: stop it with ``result.stop()`` (or ``with deploy(...) as result``).
    """
    spec = load_deploy_spec(spec)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"spec": write_deploy_spec(spec, folder / SPEC_FILE)}
    name = spec.model_name
    record: dict[str, Any] = {
        "model_name": name,
        "requested": {"version": spec.version, "alias": spec.alias},
        "alias": spec.promote_alias,
        "spec": spec.model_dump(mode="json"),
        "started_at": utc_now(),
        "outcome": None,
        "failed_step": None,
        "error": None,
        "version": None,
        "champion_before": None,
        "champion_after": None,
        "alias_moved": False,
        "alias_moved_at": None,
        "gate": None,
        "service": None,
        "smoke": None,
        "steps": [],
    }
    steps = _Steps(record)
    service: ServiceProcess | None = None
    state: dict[str, Any] = {}

    def resolve() -> dict[str, Any]:
        from mlops_kit.gates import resolve_version

        state["before"] = aliases(tracking, name).get(spec.promote_alias)
        record["champion_before"] = state["before"]
        state["version"] = resolve_version(tracking, name, spec.target)
        record["version"] = state["version"]
        return {"version": state["version"], "champion_before": state["before"]}

    def gate() -> dict[str, Any]:
        from mlops_kit.gates import evaluate_gate, write_gate_decision

        state["models"] = {}
        decision = evaluate_gate(
            tracking, name, state["version"], state["before"], eval_batch, spec.gate, loaded=state["models"]
        )
        written = write_gate_decision(decision, folder, f"gate_v{state['version']}")
        files.update({f"gate_{kind}": path for kind, path in written.items()})
        record["gate"] = {
            "passed": decision.passed,
            "summary": decision.summary(),
            "failed_checks": [check.name for check in decision.failed],
            "files": {kind: path.name for kind, path in written.items()},
            "decision": decision.to_dict(),
        }
        if not decision.passed:
            raise StepFailed(decision.summary())
        return {"passed": True, "summary": decision.summary()}

    def _start_service() -> ServiceProcess:
        return ServiceProcess.start(
            tracking.uri,
            name,
            version=state["version"],
            host=spec.host,
            port=spec.port,
            workers=spec.workers,
            timeout=spec.health_timeout_s,
            log_path=log_path,
            threshold=spec.threshold,
            unknown_category=spec.unknown_category,
            debug_features=spec.debug_features,
        )

    def start() -> dict[str, Any]:
        nonlocal service
        try:
            service = _start_service()
        except ServiceStartError as error:
            record["service"] = {"pid": error.pid, "port": error.port, "running": False, "stopped_at": utc_now()}
            raise
        ready = service.get("/ready").json()
        record["service"] = {
            "url": service.url,
            "host": service.host,
            "port": service.port,
            "pid": service.pid,
            "workers": spec.workers,
            "ready_seconds": round(service.ready_seconds or 0.0, 3),
            "ready_at": utc_now(),
            "ready": ready,
            "metadata": None,
            "stopped_at": None,
            "exit_code": None,
            "running": True,
        }
        return {"url": service.url, "pid": service.pid, "ready": ready}

    def metadata() -> dict[str, Any]:
        assert service is not None
        answer = service.metadata()
        record["service"]["metadata"] = answer
        if str(answer.get("model_version")) != state["version"] or answer.get("model_name") != name:
            raise StepFailed(
                f"/metadata reports {answer.get('model_name')!r} version {answer.get('model_version')!r}, "
                f"expected {name!r} version {state['version']!r}"
            )
        return {"model_name": name, "model_version": answer["model_version"], "run_id": answer.get("run_id")}

    def smoke() -> dict[str, Any]:
        assert service is not None
        from mlops_kit.registry import load_model
        from mlops_kit.registry.candidates import late_probability

        orders = smoke_orders(eval_batch, spec.smoke_size)
        model = state["models"].get("challenger") or load_model(tracking, name, version=state["version"])
        expected = list(late_probability(model, orders))
        results = smoke_test(service.url, orders, state["version"], spec.threshold, expected)
        failed = [result for result in results if not result["passed"]]
        record["smoke"] = {
            "size": len(results),
            "passed": not failed and bool(results),
            "failures": len(failed),
            "finished_at": utc_now(),
            "results": results,
        }
        if failed or not results:
            first = failed[0] if failed else {"request_id": "-", "problems": ["no orders to send"]}
            raise StepFailed(
                f"{len(failed)} of {len(results)} smoke requests failed; {first['request_id']}: {'; '.join(first['problems'])}"
            )
        return {"requests": len(results), "passed": len(results)}

    def move_alias() -> dict[str, Any]:
        policy = PromotionPolicy(
            metric=spec.gate.metric,
            must_beat_champion=False,  # the gate compared challenger and champion on held-out data
            required_tags=tuple(spec.gate.required_tags),
            require_model_card=spec.gate.require_model_card,
            alias=spec.promote_alias,
        )
        reason = (
            f"{spec.reason}: {record['gate']['summary']}; service {record['service']['url']} ready, "
            f"{record['smoke']['size']} smoke requests answered correctly"
        )
        decision = promote(
            tracking,
            name,
            state["version"],
            policy,
            reason=reason,
            audit_log=audit_log or folder / AUDIT_LOG_FILE,
            raise_on_refusal=False,
        )
        if not decision.approved:
            raise StepFailed(f"promotion refused: {'; '.join(decision.failures)}")
        record["alias_moved_at"] = utc_now()
        record["alias_moved"] = True
        return {"alias": spec.promote_alias, "version": state["version"], "reason": reason}

    try:
        for step, action in zip(STEPS, (resolve, gate, start, metadata, smoke, move_alias), strict=True):
            steps.run(step, action)
        record["outcome"] = DEPLOYED
    except StepFailed:
        record["outcome"] = BLOCKED if record["failed_step"] == "gate" else FAILED
        if service is not None:
            service.stop()
            if record["service"] is not None:
                record["service"].update(
                    {"stopped_at": utc_now(), "exit_code": service.process.returncode, "running": service.running()}
                )
            service = None
    finally:
        try:
            record["champion_after"] = aliases(tracking, name).get(spec.promote_alias)
        except Exception as error:  # the registry itself may be what failed
            record["champion_after"] = None
            record["error"] = record["error"] or f"cannot read the alias after the deploy: {error}"
        record["finished_at"] = utc_now()
        path = atomic_write_json(folder / RECORD_FILE, record)
    files["record"] = path
    result = DeployResult(record, path, service, files)
    if raise_on_failure and not result.ok:
        raise DeployFailed(f"deploy {record['outcome']} at step {record['failed_step']!r}: {record['error']}", record)
    return result
