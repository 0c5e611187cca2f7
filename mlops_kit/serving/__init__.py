"""Module 4, the model service: a FastAPI app run by uvicorn as a real process on loopback.

Typical use::

    with ServiceProcess.start(tracking.uri, "late-delivery", alias="champion") as service:
        service.metadata()          # model name, version, alias, run id, data/feature-set versions
        service.predict(orders)     # POST /predict: one order or a list (dicts or a DataFrame)
    # the process group is gone

One job per file: ``config`` (ServiceConfig), ``schemas`` (request/response models generated
from the feature dictionary), ``model`` (load once, pin the version, hot path), ``batcher``
(micro-batching), ``metrics`` (Prometheus), ``app`` (endpoints, middleware), ``process``
(start/stop a real uvicorn process), ``prefork`` (a warm parent that forks services with their
imports already made; ``prestart()`` starts it ahead of the first service), ``resolve`` (the parent resolves the served version once and
hands it over), ``__main__`` (the process entry point).
Nothing here imports evidently; the service process imports mlflow only when the parent handed no
resolved version over (a remote artifact store), while the model loads at start.
"""

from mlops_kit.serving.config import CONFIG_ENV, UNKNOWN_CATEGORY_POLICIES, ServiceConfig, ServiceError
from mlops_kit.serving.process import PortInUse, ServiceProcess, ServiceStartError, bind_socket, orders_json, prestart
from mlops_kit.serving.schemas import order_model, orders_adapter, prediction_model, request_schema, response_model

__all__ = [
    "CONFIG_ENV",
    "UNKNOWN_CATEGORY_POLICIES",
    "PortInUse",
    "ServiceConfig",
    "ServiceError",
    "ServiceProcess",
    "ServiceStartError",
    "bind_socket",
    "order_model",
    "orders_adapter",
    "orders_json",
    "prediction_model",
    "prestart",
    "request_schema",
    "response_model",
]
