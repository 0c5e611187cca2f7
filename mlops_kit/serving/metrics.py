"""The service's Prometheus metrics (prometheus-client), exposed at ``/metrics``.

Requests by endpoint and status, request latency, predicted probabilities, rows predicted,
unseen categories by field, and the served model as an info-style gauge (value 1, labels name,
version, alias). With several uvicorn workers ``PROMETHEUS_MULTIPROC_DIR`` is set (by
``ServiceProcess``) and the exposition merges every worker's files.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PROBABILITY_BUCKETS = tuple(round(step / 10, 1) for step in range(1, 11))
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServiceMetrics:
    """One set of metrics per app (its own registry, so several apps can live in one process)."""

    def __init__(self, model_name: str, version: str, alias: str | None) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        owner = None if self.multiprocess else self.registry
        self.requests = Counter(
            "service_requests",
            "HTTP requests answered, by endpoint and status.",
            ["endpoint", "status"],
            registry=owner,
        )
        self.latency = Histogram(
            "service_request_latency_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=owner,
        )
        self.predictions = Histogram(
            "service_late_probability",
            "Predicted late probabilities, one observation per order.",
            buckets=PROBABILITY_BUCKETS,
            registry=owner,
        )
        self.rows = Counter("service_predicted_rows", "Orders predicted.", registry=owner)
        self.unknown = Counter(
            "service_unknown_categories",
            "Orders with a category the model never saw, by field.",
            ["field"],
            registry=owner,
        )
        self.model = Gauge(
            "service_model_info",
            "The served model (value 1; labels say which).",
            ["model_name", "model_version", "alias"],
            registry=owner,
            multiprocess_mode="max",
        )
        self.model.labels(model_name, version, alias or "").set(1)
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        children = self._children.get((endpoint, status))
        if children is None:  # labels() takes a lock and builds a key: once per endpoint and status
            children = self._children[endpoint, status] = (
                self.requests.labels(endpoint, str(status)),
                self.latency.labels(endpoint),
            )
        children[0].inc()
        children[1].observe(seconds)

    def observe_predictions(self, probabilities: list[float]) -> None:
        """Record the predicted probabilities of one request."""
        for value in probabilities:
            self.predictions.observe(value)
        self.rows.inc(len(probabilities))

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)
