"""The gate's checks besides behaviour, each a small declared object: a name, its threshold from
the spec, and ``run(context) -> CheckResult`` with a message saying why it passed or failed.

Order matters: the safe-format check reads only the model's MLmodel file, before anything is
deserialised; when it fails, the checks that need the loaded model are skipped (and fail).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops_kit.domain import LABEL_COLUMN
from mlops_kit.features import FeatureDictionary
from mlops_kit.gates.decision import CheckResult
from mlops_kit.gates.spec import GateSpec
from mlops_kit.registry.candidates import late_probability
from mlops_kit.registry.metrics import higher_is_better, validation_metrics
from mlops_kit.registry.versions import VersionFacts

SAFE_FORMAT = "skops"
PICKLE_FORMATS = ("pickle", "cloudpickle")
# The MLflow signature type of each feature-dictionary dtype (what infer_signature gives for clean rows).
SIGNATURE_TYPES: dict[str, tuple[str, ...]] = {
    "datetime": ("datetime",),
    "category": ("string",),
    "str": ("string",),
    "float": ("double", "float"),
    "int": ("long", "integer"),
    "bool": ("boolean",),
}


def gate_allowed_types(spec: GateSpec) -> tuple[str, ...]:
    """The course's reviewed skops types plus the spec's ``extra_trusted_types``."""
    from mlops_kit.registry.trust import allowed_types

    return allowed_types(spec.extra_trusted_types)


@dataclass
class GateContext:
    """What the checks look at: the versions, their MLmodel facts, the batch, the loaded models."""

    tracking: Any
    model_name: str
    challenger: VersionFacts
    champion: VersionFacts | None
    eval_batch: pd.DataFrame
    spec: GateSpec
    dictionary: FeatureDictionary
    model_info: Any
    models: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)

    def model(self, which: str = "challenger") -> Any:
        """The loaded model of ``challenger`` or ``champion`` (loaded once, through the registry's trust check)."""
        if which not in self.models:
            from mlops_kit.registry.versions import load_model

            facts = self.challenger if which == "challenger" else self.champion
            if facts is None:
                raise ValueError(f"no {which} to load")
            self.models[which] = load_model(
                self.tracking, self.model_name, allowed=gate_allowed_types(self.spec), version=facts.version
            )
        return self.models[which]

    @property
    def inputs(self) -> pd.DataFrame:
        """The batch without its label: what the model receives."""
        return self.eval_batch.drop(columns=[LABEL_COLUMN])

    @property
    def labels(self) -> np.ndarray:
        return self.eval_batch[LABEL_COLUMN].astype(int).to_numpy()


@dataclass(frozen=True)
class SafeFormatCheck:
    """Only the skops format, holding only reviewed types, may be deployed; pickle is refused."""

    name: str = "safe_format"
    family: str = "safe_format"

    def threshold(self, spec: GateSpec) -> str:
        return f"{SAFE_FORMAT} with reviewed types only"

    def run(self, context: GateContext) -> CheckResult:
        flavor = (context.model_info.flavors or {}).get("sklearn")
        limit = self.threshold(context.spec)
        if flavor is None:
            return CheckResult(
                self.name, self.family, False, "no sklearn flavor", limit, "not a scikit-learn model: cannot check it"
            )
        fmt = str(flavor.get("serialization_format", "unknown"))
        if fmt in PICKLE_FORMATS:
            message = (
                f"refused: the model is saved with {fmt}, and loading a {fmt} file runs whatever code it holds, so "
                "anyone who can write the model file can run code on the server; save it with "
                "serialization_format='skops' and a reviewed list of trusted types"
            )
            return CheckResult(self.name, self.family, False, fmt, limit, message)
        if fmt != SAFE_FORMAT:
            return CheckResult(
                self.name, self.family, False, fmt, limit, f"refused: unknown serialization format {fmt!r}"
            )
        declared = sorted(flavor.get("skops_trusted_types") or [])
        allowed = gate_allowed_types(context.spec)
        outside = [name for name in declared if name not in allowed]
        if outside:
            message = f"refused: the model trusts types nobody reviewed: {', '.join(outside)}"
            return CheckResult(self.name, self.family, False, fmt, limit, message, details={"untrusted": outside})
        message = f"skops format; its {len(declared)} trusted types are all on the course's allow-list"
        return CheckResult(self.name, self.family, True, fmt, limit, message, details={"trusted_types": declared})


@dataclass(frozen=True)
class SchemaCheck:
    """The model's signature takes the feature dictionary's inputs: names, types and order."""

    name: str = "schema"
    family: str = "schema"

    def threshold(self, spec: GateSpec) -> str:
        return "signature = dictionary inputs (names, types, order)"

    def run(self, context: GateContext) -> CheckResult:
        limit = self.threshold(context.spec)
        signature = context.model_info.signature
        if signature is None or signature.inputs is None:
            return CheckResult(self.name, self.family, False, None, limit, "the model was logged without a signature")
        columns = [(item["name"], item["type"]) for item in signature.inputs.to_dict()]
        problems = schema_problems(columns, context.dictionary)
        shown = ", ".join(f"{name}:{kind}" for name, kind in columns)
        if problems:
            return CheckResult(
                self.name, self.family, False, shown, limit, "; ".join(problems), details={"problems": problems}
            )
        message = f"the signature's {len(columns)} columns match the dictionary's inputs in name, type and order"
        return CheckResult(self.name, self.family, True, shown, limit, message)


def schema_problems(columns: list[tuple[str, str]], dictionary: FeatureDictionary) -> list[str]:
    """What differs between signature columns (name, MLflow type) and the dictionary's inputs.

    The dictionary's key (the order id) may appear in the signature: the service passes it
    through, and the behavioural tests prove it does not matter.
    """
    key = dictionary.key.name
    inputs = [column for column in columns if column[0] != key]
    expected = [(spec.name, spec.dtype) for spec in dictionary.inputs]
    names, wanted = [name for name, _ in inputs], [name for name, _ in expected]
    problems = []
    missing = [name for name in wanted if name not in names]
    extra = [name for name in names if name not in wanted]
    if missing:
        problems.append(f"the signature lacks the inputs {missing}")
    if extra:
        problems.append(f"the signature has inputs the dictionary does not declare: {extra}")
    if not missing and not extra and names != wanted:
        problems.append(f"inputs out of order: signature {names}, dictionary {wanted}")
    kinds = dict(inputs)
    for name, dtype in expected:
        if name in kinds and kinds[name] not in SIGNATURE_TYPES[dtype]:
            problems.append(f"input {name!r} is {kinds[name]} in the signature, {dtype} in the dictionary")
    return problems


@dataclass(frozen=True)
class GovernanceCheck:
    """Lineage tags and a complete model card (module 3's rules)."""

    name: str = "governance"
    family: str = "governance"

    def threshold(self, spec: GateSpec) -> str:
        card = " and a complete model card" if spec.require_model_card else ""
        return f"tags {', '.join(spec.required_tags) or '(none)'}{card}"

    def run(self, context: GateContext) -> CheckResult:
        spec, facts = context.spec, context.challenger
        problems = [f"tag {tag!r} missing" for tag in spec.required_tags if not str(facts.tags.get(tag, "")).strip()]
        if spec.require_model_card:
            if facts.card_problems is None:
                problems.append("no model card logged with the run")
            else:
                problems += [f"model card: {problem}" for problem in facts.card_problems]
        value = "complete" if not problems else f"{len(problems)} problems"
        if problems:
            return CheckResult(self.name, self.family, False, value, self.threshold(spec), "; ".join(problems))
        message = f"lineage {dict(facts.lineage)} recorded" + (
            "; model card complete" if spec.require_model_card else ""
        )
        return CheckResult(self.name, self.family, True, value, self.threshold(spec), message)


def batch_metrics(model: Any, context: GateContext) -> dict[str, float]:
    """Every metric of the model on the evaluation batch."""
    return validation_metrics(context.labels, late_probability(model, context.inputs))


@dataclass(frozen=True)
class MetricCheck:
    """No regression: challenger ≥ champion − tolerance, and ≥ the floor (directions from METRIC_DIRECTIONS)."""

    name: str = "metric_regression"
    family: str = "metric"

    def bound(self, spec: GateSpec, champion_value: float | None) -> float | None:
        """The value the challenger must reach (higher-is-better) or stay under (lower-is-better)."""
        up = higher_is_better(spec.metric)
        bounds = [] if spec.floor is None else [spec.floor]
        if champion_value is not None:
            bounds.append(champion_value - spec.tolerance if up else champion_value + spec.tolerance)
        if not bounds:
            return None
        return max(bounds) if up else min(bounds)

    def run(self, context: GateContext) -> CheckResult:
        spec = context.spec
        metric, up = spec.metric, higher_is_better(spec.metric)
        challenger = batch_metrics(context.model("challenger"), context)
        champion = batch_metrics(context.model("champion"), context) if context.champion is not None else None
        context.evaluation["metrics"] = {"challenger": challenger, "champion": champion}
        value = challenger[metric]
        held = None if champion is None else champion[metric]
        bound = self.bound(spec, held)
        passed = bound is None or (value >= bound if up else value <= bound)
        sign = "≥" if up else "≤"
        against = (
            f"champion {held:.4f} {'−' if up else '+'} tolerance {spec.tolerance:g}"
            if held is not None
            else "no champion"
        )
        floor = f", floor {spec.floor:g}" if spec.floor is not None else ""
        verdict = "meets" if passed else "misses"
        message = f"{metric} {value:.4f} on the evaluation batch {verdict} {sign} {bound if bound is None else round(bound, 4)} ({against}{floor})"
        details = {
            "metric": metric,
            "higher_is_better": up,
            "challenger": value,
            "champion": held,
            "tolerance": spec.tolerance,
            "floor": spec.floor,
            "rows": len(context.eval_batch),
        }
        return CheckResult(self.name, self.family, passed, value, bound, message, details=details)


@dataclass(frozen=True)
class LatencyCheck:
    """p95 of the CPU time of single-row in-process ``predict_proba`` calls under the budget."""

    name: str = "latency_p95"
    family: str = "latency"
    warmup: int = 3

    def run(self, context: GateContext) -> CheckResult:
        spec = context.spec
        model = context.model("challenger")
        timings = single_row_latencies(model, context.inputs, spec.latency_samples, self.warmup)
        p50, p95, p99 = (float(np.percentile(timings, q)) for q in (50, 95, 99))
        passed = p95 <= spec.latency_p95_ms
        message = (
            f"p95 {p95:.2f} ms of CPU time over {len(timings)} single-row predictions "
            f"{'within' if passed else 'over'} the budget of {spec.latency_p95_ms:g} ms"
        )
        details = {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "samples_ms": [round(t, 4) for t in timings]}
        return CheckResult(self.name, self.family, passed, p95, spec.latency_p95_ms, message, details=details)


LATENCY_REPEATS = 3
"""A sample that looks slowed down is re-timed on the same row, up to this many calls in all; the fastest counts."""
RETIME_ABOVE = 1.25
"""A call slower than this many times the median so far looks slowed down by the machine's other work."""


def single_row_latencies(model: Any, inputs: pd.DataFrame, samples: int, warmup: int = 3) -> list[float]:
    """Milliseconds of CPU time of ``samples`` single-row ``predict_proba`` calls on rows of ``inputs``.

    The clock is the process's CPU time (all its threads), not the wall clock. On a shared machine (a CI
    runner, a laptop running the rest of the course) the wall clock of a call also counts the time the
    process waited for a core: a p95 three times longer with four busy processes on two cores (CPU time:
    a fifth longer), enough to block a good model one run and pass it the next. What
    it leaves out, a model that waits (on I/O, a lock, a sleep), is what the live service's p99 in the
    canary analysis sees. A call slower than ``RETIME_ABOVE`` x the median so far (a cache flushed by a
    neighbour) is re-timed on the same row, up to ``LATENCY_REPEATS`` calls, and the fastest counts; a row
    slow every time stays slow, so a model's own tail latency still shows.
    """
    rows = [inputs.iloc[[position % len(inputs)]] for position in range(samples + warmup)]
    timings: list[float] = []
    typical = float("inf")  # the fastest warm-up call, then the median of the samples so far
    for position, row in enumerate(rows):
        best = float("inf")
        for _ in range(LATENCY_REPEATS if position >= warmup else 1):
            start = time.process_time()
            model.predict_proba(row)
            best = min(best, (time.process_time() - start) * 1000.0)
            if best <= RETIME_ABOVE * typical:
                break
        if position >= warmup:
            timings.append(best)
            if len(timings) <= 64 or len(timings) % 64 == 0:  # the median settles; keep long runs linear
                typical = float(np.median(timings))
        else:
            typical = min(typical, best)
    return timings


def describe_batch(eval_batch: pd.DataFrame, timestamp: str) -> Mapping[str, Any]:
    """Rows, late share and period of the evaluation batch (for the decision record)."""
    times = pd.to_datetime(eval_batch[timestamp])
    return {
        "rows": len(eval_batch),
        "late_share": round(float(eval_batch[LABEL_COLUMN].mean()), 4),
        "period": [f"{times.min():%Y-%m-%d}", f"{times.max():%Y-%m-%d}"],
    }
