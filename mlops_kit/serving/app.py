"""The FastAPI model service: ``/predict``, ``/health``, ``/ready``, ``/metadata``, ``/metrics``.

``create_app(config)`` loads the pinned model once (``load_served_model``) and returns the app;
``app_from_environment()`` is the factory uvicorn calls in each worker. Every answer carries the
request id (``X-Request-ID`` echoed, or generated) and the model version (``X-Model-Version``
header; ``/predict`` and ``/metadata`` bodies too).

Bad input never gives a 5xx: a missing, mistyped or out-of-range field is a 422 naming the row
and field; an empty list, a body that is neither an order nor a list, or more rows than
``max_rows`` is a 422 / 413 with a message; a body over ``max_body_bytes`` is a 413; malformed
JSON is a 400. An unseen category follows ``config.unknown_category`` and the answer says so.
Endpoints are plain ``def`` (run in the thread pool); concurrent predictions share calls
through the micro-batcher.
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from mlops_kit.serving.batcher import MicroBatcher
from mlops_kit.serving.config import ServiceConfig
from mlops_kit.serving.faults import apply_fault
from mlops_kit.serving.features_debug import FeatureTap, add_features_endpoint
from mlops_kit.serving.metrics import CONTENT_TYPE, ServiceMetrics
from mlops_kit.serving.model import ServedModel, load_served_model, process_facts
from mlops_kit.serving.predlog import PredictionLogWriter
from mlops_kit.serving.schemas import orders_adapter, request_schema, response_model

REQUEST_ID_HEADER = "X-Request-ID"
MODEL_VERSION_HEADER = "X-Model-Version"
ENDPOINTS = ("/predict", "/health", "/ready", "/metadata", "/metrics", "/docs", "/openapi.json", "/features")


class BodyTooLarge(Exception):
    """The request body grew past the configured limit while it was read."""


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, separators=(",", ":")), status_code=status, media_type="application/json")


def _problem(request_id: str, status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"detail": detail, "request_id": request_id}
    if errors is not None:
        body["errors"] = errors
    return _json(body, status)


class RequestContext:
    """ASGI middleware: request id, model version header, body-size limit, request metrics."""

    def __init__(self, app: Any, metrics: ServiceMetrics, version: str, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.version = version.encode()
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or ())
        request_id = headers.get(b"x-request-id", b"").decode("latin-1").strip()[:200] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        stamp = [(b"x-request-id", request_id.encode("latin-1")), (b"x-model-version", self.version)]
        status = [500]
        response_started = [False]

        async def send_stamped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                response_started[0] = True
                message = {**message, "headers": [*message.get("headers", []), *stamp]}
            await send(message)

        received = [0]

        async def receive_limited() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        try:
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                raise BodyTooLarge
            await self.app(scope, receive_limited, send_stamped)
        except BodyTooLarge:
            if response_started[0]:
                raise
            detail = f"request body over the limit of {self.max_body_bytes} bytes: send fewer orders per request"
            await _problem(request_id, 413, detail)(scope, receive, send_stamped)
        finally:
            path = scope.get("path", "")
            self.metrics.observe_request(
                path if path in ENDPOINTS else "other", status[0], time.perf_counter() - started
            )


def validation_errors(error: ValidationError, offset: int = 0) -> list[dict[str, Any]]:
    """Pydantic errors as ``{row, field, message, input}`` (row and field from the location)."""
    found = []
    for item in error.errors(include_url=False):
        loc = list(item.get("loc", ()))
        row = loc.pop(0) if loc and isinstance(loc[0], int) else None
        found.append(
            {
                "row": None if row is None else row + offset,
                "field": ".".join(str(part) for part in loc) or None,
                "message": item.get("msg", ""),
                "input": item.get("input") if isinstance(item.get("input"), (str, int, float, bool)) else None,
            }
        )
    return found


def _summary(errors: list[dict[str, Any]]) -> str:
    shown = [f"row {e['row']}, field {e['field']!r}: {e['message']}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid orders: " + "; ".join(shown) + more


def create_app(config: ServiceConfig, served: ServedModel | None = None) -> FastAPI:
    """The service for ``config``; loads (and warms up) the pinned model unless ``served`` is given."""
    served = served or load_served_model(config)
    if config.skew is not None or config.debug_features:
        served.model = FeatureTap(served.model, config.skew)  # module 6: features as served, a planted skew
    dictionary = served.dictionary
    adapter = orders_adapter(dictionary)
    names = served.input_names
    categorical = [name for name in names if name in served.known]
    key, prediction, label = dictionary.key.name, dictionary.prediction.name, dictionary.label.name
    metrics = ServiceMetrics(served.model_name, served.version, served.alias)
    batcher = MicroBatcher(served.predict, names, max_rows=config.max_batch_rows)
    state = {"ready": True}
    metadata = {**served.metadata(config), **process_facts()}
    prediction_log = (
        PredictionLogWriter(config.prediction_log_dir, served.version) if config.prediction_log_dir else None
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        state["ready"] = False
        batcher.close()
        if prediction_log is not None:
            prediction_log.close()

    app = FastAPI(
        title=f"{served.model_name} model service",
        version=served.version,
        description=f"Serves version {served.version} of the registered model {served.model_name!r}.",
        lifespan=lifespan,
    )
    app.state.served = served
    app.state.metrics = metrics
    app.state.batcher = batcher

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, error: RequestValidationError) -> Response:
        request_id = request.state.request_id
        kinds = {item.get("type") for item in error.errors()}
        if "json_invalid" in kinds:
            where = next((item.get("ctx", {}).get("error", "") for item in error.errors()), "")
            return _problem(request_id, 400, f"malformed JSON in the request body: {where}".rstrip(": "))
        if "missing" in kinds:
            return _problem(request_id, 400, "empty request body: send one order (a JSON object) or a list of orders")
        return _problem(request_id, 422, f"invalid request: {error.errors()}")

    def parse_orders(request_id: str, payload: Any) -> list[Any] | Response:
        """The validated orders of a body (one order or a list), or the 4xx answer saying what is wrong."""
        rows = [payload] if isinstance(payload, dict) else payload
        if not isinstance(rows, list):
            return _problem(request_id, 422, "the body must be one order (a JSON object) or a list of orders")
        if not rows:
            return _problem(request_id, 422, "empty list of orders: send at least one order")
        if len(rows) > config.max_rows:
            return _problem(request_id, 413, f"{len(rows)} orders in one request, the limit is {config.max_rows}")
        try:
            return adapter.validate_python(rows)
        except ValidationError as error:
            errors = validation_errors(error)
            return _problem(request_id, 422, _summary(errors), errors)

    @app.post(
        "/predict",
        response_model=response_model(dictionary),
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": request_schema(dictionary)}}}
        },
    )
    def predict(request: Request, payload: Annotated[Any, Body()]) -> Response:
        """Late probability and decision for one order or a list of orders."""
        request_id = request.state.request_id
        started = time.perf_counter()
        orders = parse_orders(request_id, payload)
        if isinstance(orders, Response):
            return orders
        columns = {name: [getattr(order, name) for order in orders] for name in names}
        flagged: dict[int, list[str]] = {}
        for name in categorical:
            for row in served.unknown(name, columns[name]):
                flagged.setdefault(row, []).append(name)
                metrics.unknown.labels(name).inc()
        if flagged and config.unknown_category == "reject":
            errors = [
                {
                    "row": row,
                    "field": name,
                    "message": f"unknown category {columns[name][row]!r}",
                    "input": columns[name][row],
                }
                for row, fields in sorted(flagged.items())
                for name in fields
            ]
            return _problem(request_id, 422, _summary(errors) + " (policy: reject)", errors)
        probabilities = batcher.predict(columns, len(orders)).tolist()
        if config.fault is not None and (failed := apply_fault(config.fault, columns, probabilities)):
            return _problem(request_id, 500, failed)  # module 7's planted fault
        metrics.observe_predictions(probabilities)
        threshold = config.threshold
        answers = [
            {
                key: getattr(order, key),
                prediction: probability,
                label: int(probability >= threshold),
                "unknown_categories": flagged.get(row, []),
            }
            for row, (order, probability) in enumerate(zip(orders, probabilities, strict=True))
        ]
        if prediction_log is not None:
            elapsed_ms = (time.perf_counter() - started) * 1000
            raw = [order.model_dump(mode="json") for order in orders]
            prediction_log.write(request_id, raw, probabilities, [a[label] for a in answers], elapsed_ms, key)
        return _json(
            {
                "request_id": request_id,
                "model_name": served.model_name,
                "model_version": served.version,
                "threshold": threshold,
                "unknown_category_policy": config.unknown_category,
                "predictions": answers,
            }
        )

    @app.get("/health")
    def health() -> Response:
        """The process is alive."""
        return _json({"status": "ok", "model_version": served.version})

    @app.get("/ready")
    def ready() -> Response:
        """The model is loaded and warmed up (503 while shutting down)."""
        body = {"ready": state["ready"], "model_name": served.model_name, "model_version": served.version}
        return _json(body, 200 if state["ready"] else 503)

    @app.get("/metadata")
    def model_metadata(request: Request) -> Response:
        """Model name, version, alias, run id, data and feature-set versions, package versions."""
        return _json({**metadata, "request_id": request.state.request_id})

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        """Prometheus text exposition."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    if config.debug_features:
        add_features_endpoint(app, served, parse_orders, _json)
    app.add_middleware(RequestContext, metrics=metrics, version=served.version, max_body_bytes=config.max_body_bytes)
    return app


def app_from_environment() -> FastAPI:
    """The uvicorn factory: the app for the config in ``MLOPS_SERVICE_CONFIG``."""
    return create_app(ServiceConfig.from_environment())
