"""The service's ``/metrics`` read back with prometheus-client's own parser, summarised per window.

A window's numbers are the difference between two scrapes (before and after its traffic), the
way Prometheus' ``increase()`` works: requests and failed requests to ``/predict``, error rate,
p95 latency from the latency histogram (``histogram_quantile``'s linear interpolation inside a
bucket), and the predicted probabilities per histogram bucket.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class MetricsFormatError(ValueError):
    """A ``/metrics`` text that prometheus-client's parser refuses."""


def parse_metrics(text: str) -> Samples:
    """Every sample of an exposition: ``(name, sorted labels) -> value``; MetricsFormatError if it does not parse."""
    samples: Samples = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    except (ValueError, TypeError, KeyError) as error:
        raise MetricsFormatError(f"the /metrics text is not valid Prometheus exposition: {error}") from error
    return samples


def _select(samples: Samples, name: str, **labels: str) -> dict[dict, float]:
    found = {}
    for (sample_name, sample_labels), value in samples.items():
        if sample_name != name:
            continue
        given = dict(sample_labels)
        if all(given.get(key) == wanted for key, wanted in labels.items()):
            found[sample_labels] = value
    return found


def _increase(before: Samples, after: Samples, name: str, **labels: str) -> dict[tuple, float]:
    now = _select(after, name, **labels)
    then = _select(before, name, **labels)
    return {key: value - then.get(key, 0.0) for key, value in now.items()}


def histogram_quantile(quantile: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile`` on cumulative bucket counts ``{upper bound: count}``."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = quantile * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def _buckets(increase: dict[tuple, float]) -> dict[float, float]:
    summed: dict[float, float] = defaultdict(float)
    for labels, value in increase.items():
        summed[float(dict(labels)["le"])] += value
    return dict(summed)


def summarise_window(before_text: str, after_text: str, endpoint: str = "/predict") -> dict[str, Any]:
    """Requests, failures, error rate, p95 latency (ms) and predicted-probability buckets between two scrapes."""
    before, after = parse_metrics(before_text), parse_metrics(after_text)
    by_status = _increase(before, after, "service_requests_total", endpoint=endpoint)
    requests = sum(by_status.values())
    failed = sum(value for labels, value in by_status.items() if not dict(labels)["status"].startswith("2"))
    latency = _buckets(_increase(before, after, "service_request_latency_seconds_bucket", endpoint=endpoint))
    p95 = histogram_quantile(0.95, latency)
    probability = _buckets(_increase(before, after, "service_late_probability_bucket"))
    ordered = sorted(probability)
    per_bucket = {}
    below = 0.0
    for bound in ordered:
        label = "+Inf" if math.isinf(bound) else f"{bound:g}"
        per_bucket[label] = int(round(probability[bound] - below))
        below = probability[bound]
    predicted = sum(_increase(before, after, "service_predicted_rows_total").values())
    return {
        "requests": int(round(requests)),
        "failed_requests": int(round(failed)),
        "error_rate": failed / requests if requests else None,
        "latency_p95_ms": None if p95 is None else p95 * 1000,
        "predicted_orders": int(round(predicted)),
        "probability_buckets": per_bucket,
    }
