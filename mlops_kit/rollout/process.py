"""Start and stop the router as a real uvicorn process on loopback, and talk to it.

    with RouterProcess.start(config) as router:
        router.set_weight(10); router.observations(); router.state()["counts"]

A ``ServiceProcess`` underneath (same socket hand-over, process group, ``/ready`` wait and stop),
running ``python -m mlops_kit.rollout`` instead of the model service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from mlops_kit.rollout.router import ROUTER_CONFIG_ENV, RouterConfig
from mlops_kit.serving.process import LOOPBACK, ServiceProcess, prestart


def prestart_processes() -> None:
    """Start the warm parents of the model services and of the router now (see ``mlops_kit.serving.prefork``)."""
    prestart()
    prestart("mlops_kit.rollout", ROUTER_CONFIG_ENV)


class RouterProcess(ServiceProcess):
    """A running router: ``url``, ``pid``; ``set_weight``, ``observations``, ``state``; ``stop()`` ends it."""

    @classmethod
    def start_router(
        cls, config: RouterConfig, *, host: str = LOOPBACK, timeout: float = 60.0, log_path: str | Path | None = None
    ) -> RouterProcess:
        """Start the router for ``config`` on a free loopback port; returns once ``/ready`` answers."""
        router = cls.start_config(
            config,  # type: ignore[arg-type]
            host=host,
            timeout=timeout,
            log_path=log_path,
            entry="mlops_kit.rollout",
            config_env=ROUTER_CONFIG_ENV,
        )
        return router  # type: ignore[return-value]

    _client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        """One keep-alive client for the controller's calls (a new httpx client per call costs tens of ms)."""
        if self._client is None:
            self._client = httpx.Client(base_url=self.url, timeout=10.0)
        return self._client

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """``GET`` one of the router's endpoints."""
        return self.client.get(path, **kwargs)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the router process (see ``ServiceProcess.stop``) and close the client."""
        if self._client is not None:
            self._client.close()
            self._client = None
        return super().stop(timeout)

    def set_weight(self, weight: float) -> float:
        """Set the canary's weight (percent); the weight the router now applies."""
        answer = self.client.put("/weight", json={"weight": weight})
        answer.raise_for_status()
        return float(answer.json()["weight"])

    def observations(self, calls: int = 0, answers: int = 0) -> dict[str, Any]:
        """Upstream calls and answers recorded from those list positions on (plus the next positions)."""
        answer = self.get("/observations", params={"calls": calls, "answers": answers})
        answer.raise_for_status()
        return answer.json()

    def state(self) -> dict[str, Any]:
        """Weight, upstream URLs and the router's own counts."""
        answer = self.get("/state")
        answer.raise_for_status()
        return answer.json()

    def __repr__(self) -> str:
        state = "running" if self.running() else f"stopped (exit {self.process.returncode})"
        return f"RouterProcess({self.url}, pid {self.pid}, {state})"
