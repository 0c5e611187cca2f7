"""``python -m mlops_kit.rollout``: run the router on the socket the parent bound (see process.py).

It imports only what the router serves with (uvicorn, Starlette, aiohttp, pydantic): importing
``mlops_kit.serving`` would load the model service's stack (pandas, scikit-learn, scipy), seconds of
start-up a router does not need. So the descriptor's variable is named here too (the same name as
``mlops_kit.serving.process.FD_ENV``, which ``RouterProcess`` sets; a test keeps the two equal).
"""

from __future__ import annotations

import os
import socket
import sys

PRELOAD = ("mlops_kit.rollout.router",)
"""What ``mlops_kit.serving.prefork`` imports once, with uvicorn's stack, before it forks routers."""

FD_ENV = "MLOPS_SERVICE_FD"
"""The listening socket's file descriptor, as ``ServiceProcess.start_config`` hands it over."""


def main() -> int:
    import uvicorn

    if FD_ENV not in os.environ:
        print("start the router with mlops_kit.rollout.RouterProcess (it binds the socket)", file=sys.stderr)
        return 2
    sock = socket.socket(fileno=int(os.environ[FD_ENV]))
    config = uvicorn.Config(
        "mlops_kit.rollout.router:router_from_environment",
        factory=True,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    config.load()
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0 if server.started else 3


if __name__ == "__main__":
    raise SystemExit(main())
