"""``python -m mlops_kit.serving``: run the service on the socket the parent bound (see process.py).

Reads the config from ``MLOPS_SERVICE_CONFIG``, the listening socket's file descriptor from
``MLOPS_SERVICE_FD`` and the number of workers from ``MLOPS_SERVICE_WORKERS``.
"""

from __future__ import annotations

import os
import socket
import sys

PRELOAD = (
    "mlops_kit.serving.app",
    "mlops_kit.registry.trust",
    "skops.io",
    "pydantic.v1",  # FastAPI's first app imports it
    "narwhals.stable.v2",  # scikit-learn's first transform imports these two
    "narwhals._pandas_like.namespace",
    "pyarrow.pandas_compat",
)
"""What ``mlops_kit.serving.prefork`` imports once, with uvicorn's stack, before it forks services."""


def main() -> int:
    import uvicorn

    from mlops_kit.serving.process import FD_ENV, WORKERS_ENV

    if FD_ENV not in os.environ:
        print("start the service with mlops_kit.serving.ServiceProcess (it binds the socket)", file=sys.stderr)
        return 2
    sock = socket.socket(fileno=int(os.environ[FD_ENV]))
    workers = int(os.environ.get(WORKERS_ENV, "1"))
    config = uvicorn.Config(
        "mlops_kit.serving.app:app_from_environment",
        factory=True,
        workers=workers,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
        return 0
    config.load()
    server.run(sockets=[sock])
    return 0 if server.started else 3


if __name__ == "__main__":
    raise SystemExit(main())
