"""Automated canary analysis of one interval, Kayenta style: each metric compares canary with stable.

``analyze_interval(calls, spec)`` takes the upstream calls the router recorded over one interval (one
dict per call: ``arm``, ``outcome``, ``latency_ms``, ``probability``) and returns a ``Decision``:

- ``error_rate``: errors and timeouts per call; fails when the canary's exceeds the stable arm's by more
  than ``max_error_rate_increase``;
- ``latency_p99``: fails when the canary's p99 exceeds the stable arm's by more than ``max_p99_increase_ms``
  (compared at equal sample sizes: the median over seeded resamples, see ``p99_increase``) *and* its calls
  are slower as a whole (Hodges-Lehmann shift of the latencies at least ``min_latency_shift_ms``), so a
  few slow calls of a busy machine or of a just-started process do not fail a good model;
- ``prediction_shift``: Mann-Whitney U (scipy) between the arms' predicted probabilities; fails only when
  the p-value is below ``shift_alpha`` *and* the Hodges-Lehmann shift (median of the pairwise differences
  canary − stable) is at least ``min_shift`` in size, so a tiny shift on many samples does not fail.

An arm with fewer than ``min_samples`` calls (or, for the prediction test, answers) makes that metric
inconclusive. The verdict: fail when any metric fails, else inconclusive when any is (or either arm is
short of samples: no data never passes), else pass; ``why`` says which metric decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu  # at import, not in the first analysis: that would stall the load's sender

from mlops_kit.rollout.spec import AnalysisSpec

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
FAILED_OUTCOMES = ("error", "timeout")
METRICS = ("error_rate", "latency_p99", "prediction_shift")
CATCHING_METRIC = {"error_slice": "error_rate", "latency": "latency_p99", "prediction_shift": "prediction_shift"}
"""The metric that must catch each kind of planted fault (``mlops_kit.serving.faults``); others may fail too."""
MAX_PAIRS = 250_000
"""Above this many canary × stable pairs, the Hodges-Lehmann estimate uses a seeded subsample."""


@dataclass(frozen=True)
class MetricResult:
    """One metric of one interval: both arms' values, the threshold, the verdict and why."""

    name: str
    stable: float | None
    canary: float | None
    threshold: float
    verdict: str
    why: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The analysis of one interval: samples per arm, every metric, the verdict and why."""

    samples: dict[str, int]
    metrics: list[MetricResult]
    verdict: str
    why: str

    def metric(self, name: str) -> MetricResult:
        return next(metric for metric in self.metrics if metric.name == name)

    @property
    def failed_metrics(self) -> list[str]:
        return [metric.name for metric in self.metrics if metric.verdict == FAIL]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed_metrics": self.failed_metrics}


def split_arms(calls: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Calls per arm (``stable``, ``canary``), leaving out the client's own errors (4xx, ``rejected``)."""
    arms: dict[str, list[Mapping[str, Any]]] = {"stable": [], "canary": []}
    for call in calls:
        if call.get("outcome") != "rejected" and call.get("arm") in arms:
            arms[call["arm"]].append(call)
    return arms


def hodges_lehmann(canary: np.ndarray, stable: np.ndarray, seed: int = 0) -> float:
    """Median of all pairwise differences canary − stable (a seeded subsample of pairs when there are many)."""
    if canary.size * stable.size > MAX_PAIRS:
        rng = np.random.default_rng(seed)
        pairs = MAX_PAIRS
        return float(np.median(rng.choice(canary, pairs) - rng.choice(stable, pairs)))
    return float(np.median(np.subtract.outer(canary, stable)))


def _error_rate(arms: dict[str, list[Mapping[str, Any]]], spec: AnalysisSpec) -> MetricResult:
    rates = {
        arm: (sum(call["outcome"] in FAILED_OUTCOMES for call in calls) / len(calls) if calls else None)
        for arm, calls in arms.items()
    }
    limit = spec.max_error_rate_increase
    if min(len(calls) for calls in arms.values()) < spec.min_samples:
        return MetricResult("error_rate", rates["stable"], rates["canary"], limit, INCONCLUSIVE, "too few calls")
    increase = rates["canary"] - rates["stable"]
    verdict = FAIL if increase > limit else PASS
    why = f"canary error rate {rates['canary']:.1%} vs stable {rates['stable']:.1%}: +{increase:.1%} (allowed +{limit:.1%})"
    return MetricResult("error_rate", rates["stable"], rates["canary"], limit, verdict, why)


def p99_increase(canary: np.ndarray, stable: np.ndarray, rounds: int = 200, seed: int = 0) -> float:
    """How much higher the canary's p99 is than the stable arm's, compared like with like.

    A p99 over more samples reaches further into the tail, so the arms are compared at the same size:
    ``rounds`` seeded resamples of each arm at the smaller arm's count; the median of the differences.
    """
    rng = np.random.default_rng(seed)
    size = min(canary.size, stable.size)
    ours = np.percentile(rng.choice(canary, (rounds, size)), 99, axis=1)
    theirs = np.percentile(rng.choice(stable, (rounds, size)), 99, axis=1)
    return float(np.median(ours - theirs))


def _latency(arms: dict[str, list[Mapping[str, Any]]], spec: AnalysisSpec) -> MetricResult:
    latencies = {arm: np.array([call["latency_ms"] for call in calls], dtype=float) for arm, calls in arms.items()}
    p99 = {arm: (float(np.percentile(v, 99)) if v.size else None) for arm, v in latencies.items()}
    limit = spec.max_p99_increase_ms
    if min(v.size for v in latencies.values()) < spec.min_samples:
        return MetricResult("latency_p99", p99["stable"], p99["canary"], limit, INCONCLUSIVE, "too few calls")
    increase = p99_increase(latencies["canary"], latencies["stable"])
    shift = hodges_lehmann(latencies["canary"], latencies["stable"])
    verdict = FAIL if increase > limit and shift >= spec.min_latency_shift_ms else PASS
    why = (
        f"canary p99 {p99['canary']:.0f} ms vs stable {p99['stable']:.0f} ms; at equal sample sizes "
        f"{increase:+.0f} ms (allowed +{limit:g} ms); calls shifted {shift:+.0f} ms as a whole "
        f"(a slower model from +{spec.min_latency_shift_ms:g} ms)"
    )
    details = {"increase_ms": increase, "hodges_lehmann_ms": shift}
    return MetricResult("latency_p99", p99["stable"], p99["canary"], limit, verdict, why, details)


def _prediction_shift(arms: dict[str, list[Mapping[str, Any]]], spec: AnalysisSpec) -> MetricResult:
    values = {
        arm: np.array([call["probability"] for call in calls if call["outcome"] == "ok"], dtype=float)
        for arm, calls in arms.items()
    }
    medians = {arm: (float(np.median(v)) if v.size else None) for arm, v in values.items()}
    if min(v.size for v in values.values()) < spec.min_samples:
        return MetricResult(
            "prediction_shift", medians["stable"], medians["canary"], spec.min_shift, INCONCLUSIVE, "too few answers"
        )
    p_value = float(mannwhitneyu(values["canary"], values["stable"], alternative="two-sided").pvalue)
    shift = hodges_lehmann(values["canary"], values["stable"])
    significant, large = p_value < spec.shift_alpha, abs(shift) >= spec.min_shift
    verdict = FAIL if significant and large else PASS
    why = (
        f"Hodges-Lehmann shift {shift:+.3f} (floor {spec.min_shift:g}), Mann-Whitney p {p_value:.2g} "
        f"(alpha {spec.shift_alpha:g}): " + ("shifted" if verdict == FAIL else "no shift that matters")
    )
    details = {"p_value": p_value, "hodges_lehmann": shift}
    return MetricResult("prediction_shift", medians["stable"], medians["canary"], spec.min_shift, verdict, why, details)


def analyze_interval(calls: Iterable[Mapping[str, Any]], spec: AnalysisSpec) -> Decision:
    """Judge one interval's calls against ``spec`` (see the module's docstring)."""
    arms = split_arms(calls)
    samples = {arm: len(arm_calls) for arm, arm_calls in arms.items()}
    metrics = [_error_rate(arms, spec), _latency(arms, spec), _prediction_shift(arms, spec)]
    failed = [metric for metric in metrics if metric.verdict == FAIL]
    short = [arm for arm, n in samples.items() if n < spec.min_samples]
    if failed:
        verdict, why = FAIL, "; ".join(f"{metric.name} failed: {metric.why}" for metric in failed)
    elif short:
        verdict = INCONCLUSIVE
        why = ", ".join(f"{arm} has {samples[arm]} calls" for arm in short) + f" (needs {spec.min_samples}): hold"
    elif any(metric.verdict == INCONCLUSIVE for metric in metrics):
        verdict, why = INCONCLUSIVE, "; ".join(f"{m.name}: {m.why}" for m in metrics if m.verdict == INCONCLUSIVE)
    else:
        verdict, why = PASS, "every metric passed"
    return Decision(samples, metrics, verdict, why)
