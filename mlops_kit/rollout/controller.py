"""Run a canary rollout step by step: set the weight, analyse each interval, roll back or promote.

    result = run_rollout(spec, router, stable=stable, canary=canary, tracking=tracking,
                         stable_version="1", canary_version="4", out_dir=OUT, name="good")

At each step the canary's weight goes up; after ``analysis.interval_s`` the controller reads the calls the
router recorded over that interval and judges them (``analyze_interval``), writing one decision record
(``decisions/<name>_NN.json``) and an ``analysis`` event. A pass moves to the next step; an inconclusive
interval holds the step (``inconclusive_limit`` holds in a row abort: no data never promotes); a failure
counts, and ``failure_limit`` failures since the last pass roll back (``VerdictCount``; a pass starts the count
again, so the time from the first failed interval of that run to weight 0 stays within the spec's
``rollback_bound_s``):

1. canary weight 0 at once (``weight`` event), 2. the canary process stopped (``canary_stopped``),
3. ``champion`` kept on the stable version or moved back to it by module 3's audited ``promote``
(``alias``), 4. a ``rollback`` event saying why, when the first failed interval began, when the weight
hit 0 and how many requests came in between.

After the last step passes: weight 100, the canary promoted to ``champion`` (audited), the stable service
drained and stopped. Fallbacks the router made in an interval are logged as one ``fallback`` event.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_kit.io import atomic_write_json
from mlops_kit.registry.policy import CHAMPION, PromotionPolicy
from mlops_kit.registry.promotion import current_holder, promote
from mlops_kit.rollout.analysis import FAIL, INCONCLUSIVE, PASS, analyze_interval
from mlops_kit.rollout.events import EventLog
from mlops_kit.rollout.spec import RolloutSpec

if TYPE_CHECKING:
    from mlops_kit.registry.tracking import Tracking
    from mlops_kit.rollout.process import RouterProcess
    from mlops_kit.serving.process import ServiceProcess

ROLLOUT_POLICY = PromotionPolicy(metric="roc_auc", must_beat_champion=False)
"""The canary analysis is the evidence; the registry still requires lineage and a model card."""
DRAIN_S = 0.3
"""How long the old stable service keeps serving requests in flight after the canary took 100 %."""
EVENTS_FILE = "events.jsonl"


@dataclass
class RolloutResult:
    """How a rollout ended, its decision records and, for a rollback, the rollback event."""

    name: str
    outcome: str  # promoted | rolled_back
    decisions: list[dict[str, Any]] = field(default_factory=list)
    rollback: dict[str, Any] | None = None
    champion: str | None = None


class _Reader:
    """Reads the router's records interval by interval (each record once)."""

    def __init__(self, router: RouterProcess) -> None:
        self.router, self.calls, self.answers = router, 0, 0
        self.answer_times: list[float] = []

    def read(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        found = self.router.observations(self.calls, self.answers)
        self.calls, self.answers = found["next_calls"], found["next_answers"]
        self.answer_times.extend(answer["t"] for answer in found["answers"])
        return found["calls"], found["answers"]


ADVANCE, HOLD, ROLL_BACK, ABORT = "advance", "hold", "roll_back", "abort"


@dataclass
class VerdictCount:
    """What the analyses so far decide: failures without a pass between them roll back, holds in a row abort.

    ``add`` takes one interval's verdict and when the interval started, and answers ``advance`` (a pass: next
    step), ``hold`` (analyse the step again), ``roll_back`` (``failure_limit`` failures since the last pass;
    ``first_breach`` is when the first of them started) or ``abort`` (``inconclusive_limit`` inconclusive
    intervals in a row at one step: no data never promotes). A pass heals earlier failures: one unlucky interval
    is not a verdict. An inconclusive interval neither heals nor counts as a failure.
    """

    failure_limit: int
    inconclusive_limit: int
    failures: int = 0
    holds: int = 0
    first_breach: float | None = None

    def add(self, verdict: str, started: float) -> str:
        """Count one interval's verdict (see the class docstring)."""
        if verdict == PASS:
            self.failures, self.holds, self.first_breach = 0, 0, None
            return ADVANCE
        if verdict == FAIL:
            self.failures += 1
            self.first_breach = self.first_breach if self.first_breach is not None else started
            return ROLL_BACK if self.failures >= self.failure_limit else HOLD
        if verdict == INCONCLUSIVE:
            self.holds += 1
            return ABORT if self.holds >= self.inconclusive_limit else HOLD
        raise ValueError(f"unknown verdict {verdict!r}: expected {PASS}, {FAIL} or {INCONCLUSIVE}")


def _fallbacks(answers: list[dict[str, Any]]) -> dict[str, Any] | None:
    degraded = [answer for answer in answers if answer["degraded"]]
    if not degraded:
        return None
    return {
        "count": len(degraded),
        "answered_by": dict(Counter(answer["arm"] for answer in degraded)),
        "reasons": dict(Counter(answer["reason"] for answer in degraded)),
        "first_t": min(answer["t"] for answer in degraded),
        "last_t": max(answer["t"] for answer in degraded),
    }


def run_rollout(
    spec: RolloutSpec,
    router: RouterProcess,
    *,
    stable: ServiceProcess,
    canary: ServiceProcess,
    tracking: Tracking,
    stable_version: str,
    canary_version: str,
    out_dir: str | Path,
    name: str,
    audit_log: str | Path | None = None,
) -> RolloutResult:
    """Run ``spec`` with the router in front of ``stable`` and ``canary`` (see the module docstring)."""
    out = Path(out_dir)
    log = EventLog(out / EVENTS_FILE, name)
    reader = _Reader(router)
    result = RolloutResult(name, "rolled_back")
    log.emit(
        "rollout_started",
        stable_version=stable_version,
        canary_version=canary_version,
        spec=spec.model_dump(mode="json"),
        rollback_bound_s=spec.rollback_bound_s,
    )
    reader.read()  # whatever came before the rollout is not part of any interval

    def roll_back(first_breach: float, metrics: list[str], reason: str) -> None:
        _roll_back(
            result,
            spec,
            router,
            canary,
            tracking,
            log,
            stable_version,
            first_breach,
            metrics,
            reason,
            audit_log,
            reader,
        )

    count, number = VerdictCount(spec.analysis.failure_limit, spec.analysis.inconclusive_limit), 0
    for step, weight in enumerate(spec.steps, start=1):
        router.set_weight(weight)
        log.emit("weight", weight=weight, step=step, reason=f"step {step} of {len(spec.steps)}")
        while True:
            started = time.time()
            time.sleep(spec.analysis.interval_s)
            calls, answers = reader.read()
            ended = time.time()
            number += 1
            decision = analyze_interval(calls, spec.analysis)
            record = {
                "rollout": name,
                "number": number,
                "step": step,
                "weight": weight,
                "interval": {"start": started, "end": ended},
                "stable_version": stable_version,
                "canary_version": canary_version,
                **decision.to_dict(),
            }
            atomic_write_json(out / "decisions" / f"{name}_{number:02d}.json", record)
            result.decisions.append(record)
            log.emit(
                "analysis",
                number=number,
                step=step,
                weight=weight,
                verdict=decision.verdict,
                why=decision.why,
                failed_metrics=decision.failed_metrics,
                samples=decision.samples,
            )
            fallbacks = _fallbacks(answers)
            if fallbacks:
                log.emit("fallback", step=step, weight=weight, **fallbacks)
            action = count.add(decision.verdict, started)
            if action == ADVANCE:
                break
            if action == ROLL_BACK:
                reason = f"{count.failures} failed analyses since the last pass (limit {count.failure_limit}): {decision.why}"
                roll_back(count.first_breach or started, decision.failed_metrics, reason)
                return result
            if action == ABORT:
                reason = f"{count.holds} inconclusive analyses in a row at step {step}: no data never promotes"
                roll_back(started, [], reason)
                return result
    router.set_weight(100)
    log.emit("weight", weight=100, step=len(spec.steps) + 1, reason="every step passed: promotion")
    drained = _in_background(lambda: (time.sleep(DRAIN_S), stable.stop()))  # meanwhile, the registry
    promote(
        tracking,
        spec.model_name,
        canary_version,
        ROLLOUT_POLICY,
        audit_log=audit_log,
        reason=f"canary rollout {name!r}: {len(result.decisions)} analyses, every step passed",
    )
    log.emit("promotion", version=canary_version, alias=CHAMPION, previous=stable_version)
    drained.join()
    log.emit("stable_stopped", version=stable_version)
    result.outcome, result.champion = "promoted", canary_version
    log.emit("rollout_finished", outcome=result.outcome, champion=canary_version)
    return result


def _in_background(action: Callable[[], object]) -> threading.Thread:
    """Run ``action`` in a thread (stopping a process is mostly waiting; the registry call runs meanwhile)."""
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def _roll_back(
    result: RolloutResult,
    spec: RolloutSpec,
    router: RouterProcess,
    canary: ServiceProcess,
    tracking: Tracking,
    log: EventLog,
    stable_version: str,
    breach: float,
    failed_metrics: list[str],
    reason: str,
    audit_log: str | Path | None,
    reader: _Reader,
) -> None:
    router.set_weight(0)
    zero = time.time()
    log.emit("weight", weight=0, reason="rollback", t=zero)
    reader.read()
    stopped = _in_background(canary.stop)  # meanwhile, the registry
    holder = current_holder(tracking, spec.model_name, CHAMPION)
    moved_back = holder is None or holder.version != str(stable_version)
    if moved_back:
        promote(
            tracking,
            spec.model_name,
            stable_version,
            ROLLOUT_POLICY,
            audit_log=audit_log,
            reason=f"rollback of canary rollout {result.name!r}: {reason}",
        )
    stopped.join()
    log.emit("canary_stopped", exit_code=canary.process.returncode)
    log.emit("alias", alias=CHAMPION, version=stable_version, action="moved_back" if moved_back else "kept")
    requests = sum(1 for t in reader.answer_times if breach <= t <= zero)
    result.rollback = log.emit(
        "rollback",
        reason=reason,
        failed_metrics=failed_metrics,
        first_breach_t=breach,
        weight_zero_t=zero,
        seconds_to_weight_zero=round(zero - breach, 3),
        bound_s=spec.rollback_bound_s,
        requests_to_weight_zero=requests,
    )
    result.champion = str(stable_version)
    log.emit("rollout_finished", outcome=result.outcome, champion=result.champion)
