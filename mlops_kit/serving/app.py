"""The FastAPI model service: ``/predict``, ``/health``, ``/ready``, ``/metadata``, ``/metrics``.

``create_app(config)`` loads the pinned model once (``load_served_model``) and returns the app;
``app_from_environment()`` is the factory uvicorn calls in each worker. Every answer carries the
request id (``X-Request-ID`` echoed, or generated) and the model version (``X-Model-Version``
header; ``/predict`` and ``/metadata`` bodies too).

Bad input never gives a 5xx: a missing, mistyped or out-of-range field is a 422 naming the row
and field; an empty list, a body that is neither an order nor a list, or more rows than
``max_rows`` is a 422 / 413 with a message; a body over ``max_body_bytes`` is a 413; malformed
JSON is a 400. An unseen category follows ``config.unknown_category`` and the answer says so.
CPU-bound work runs in the thread pool: the endpoints are plain ``def``, except ``/predict``,
which reads and parses its body on the event loop and hands validation and prediction to the
pool in one step (or, when it is small and alone, answers on the loop: ``INLINE_MAX_ROWS``);
concurrent predictions share calls through the micro-batcher.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
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
EMPTY_BODY = "empty request body: send one order (a JSON object) or a list of orders"
INLINE_MAX_ROWS = 16
"""A ``/predict`` request with at most this many rows is answered on the event loop when no
other one is pending (after letting the requests that arrived with it count themselves): the
hand-off to the thread pool and back cost 0.3-0.5 ms here, a third of the service's own time for
one row. Anything else goes to the pool, so concurrent requests meet in the micro-batcher and
the loop is never held by a large batch (a lone small one holds it for one prediction)."""
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
    """ASGI middleware: request id, model version header, body-size limit, request metrics.

    ``direct`` maps ``(method, path)`` to an endpoint (``async (Request) -> Response``) called
    from here, without FastAPI's routing, dependency solving and inner middleware: 0.15-0.4 ms a
    request on this machine, as much as the rest of the service's own work for one row. Such an
    endpoint stays declared on the app as well (OpenAPI, ``/docs``); it must read its own body
    and build its own answer, as ``/predict`` does. Errors still reach Starlette's outer handler.
    """

    def __init__(
        self,
        app: Any,
        metrics: ServiceMetrics,
        version: str,
        max_body_bytes: int,
        direct: Mapping[tuple[str, str], Callable[[Request], Awaitable[Response]]] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.version = version.encode()
        self.max_body_bytes = max_body_bytes
        self.direct = dict(direct or {})

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
            endpoint = self.direct.get((scope["method"], scope["path"]))
            if endpoint is None:
                await self.app(scope, receive_limited, send_stamped)
            else:
                response = await endpoint(Request(scope, receive_limited))
                await response(scope, receive_limited, send_stamped)
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


async def read_payload(request: Request) -> Any:
    """The JSON body of ``request``, or the 400 answer for an empty or malformed one.

    The endpoints read their body themselves instead of declaring a ``Body()`` parameter:
    FastAPI's body parameter costs a dependency resolution and a validation of ``Any`` per
    request, and the orders are validated once, by ``parse_orders``, anyway.
    """
    body = await request.body()
    if not body:
        return _problem(request.state.request_id, 400, EMPTY_BODY)
    try:
        return json.loads(body)
    except ValueError as error:  # JSONDecodeError, or bytes that are not UTF-8
        where = getattr(error, "msg", None) or str(error)
        return _problem(request.state.request_id, 400, f"malformed JSON in the request body: {where}")


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
    pending = [0]  # /predict requests with a parsed body, not yet answered (counted on the event loop)
    inline_ok = config.fault is None  # a planted latency fault sleeps: never on the loop
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
            return _problem(request_id, 400, EMPTY_BODY)
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

    def answer(request_id: str, payload: Any, started: float) -> Response:
        """The ``/predict`` answer for a parsed body (runs in the thread pool: validation and the model)."""
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

    @app.post(
        "/predict",
        response_model=response_model(dictionary),
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": request_schema(dictionary)}}}
        },
    )
    async def predict(request: Request) -> Response:
        """Late probability and decision for one order or a list of orders."""
        started = time.perf_counter()
        payload = await read_payload(request)
        if isinstance(payload, Response):
            return payload
        rows = len(payload) if isinstance(payload, list) else 1
        pending[0] += 1
        try:
            if rows <= INLINE_MAX_ROWS and inline_ok:
                await asyncio.sleep(0)  # requests that arrived with this one count themselves first
                if pending[0] == 1:
                    return answer(request.state.request_id, payload, started)  # alone: no thread hand-off
            return await run_in_threadpool(answer, request.state.request_id, payload, started)
        finally:
            pending[0] -= 1

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
    app.add_middleware(
        RequestContext,
        metrics=metrics,
        version=served.version,
        max_body_bytes=config.max_body_bytes,
        direct={("POST", "/predict"): predict},
    )
    return app


def app_from_environment() -> FastAPI:
    """The uvicorn factory: the app for the config in ``MLOPS_SERVICE_CONFIG``.

    Everything loaded so far (libraries, the model) lives as long as the process: ``gc.freeze``
    moves it out of the collector's sight, so a full collection during a request no longer
    scans the whole of pandas, scikit-learn and FastAPI.
    """
    app = create_app(ServiceConfig.from_environment())
    gc.collect()
    gc.freeze()
    return app
