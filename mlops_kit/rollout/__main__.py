"""``python -m mlops_kit.rollout``: run the router on the socket the parent bound (see process.py)."""

from __future__ import annotations

import os
import socket
import sys


def main() -> int:
    import uvicorn

    from mlops_kit.serving.process import FD_ENV

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
