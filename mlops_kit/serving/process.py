"""Start and stop the model service as a real uvicorn process on loopback.

    with ServiceProcess.start(tracking_uri, "late-delivery", alias="champion") as service:
        service.url, service.pid, service.port, service.metadata()["model_version"]
        service.predict([order, ...])
    # stopped: the whole process group is gone

The parent binds the listening socket (port 0: a free one), so a port in use is a clear
PortInUse here, and hands the socket to the child; the child (``python -m mlops_kit.serving``,
or on Linux a fork of a warm parent that already imported it: ``prefork``) runs uvicorn on it in
a new session, so ``stop()`` kills the process group and no worker is left behind. Before the
child starts, the parent resolves the served version through MLflow (``serving.resolve``) and
hands it over, so the child loads the model without importing mlflow. ``start`` returns only
when ``/ready`` answers 200, and raises ServiceStartError with the end of the service's log when
the process exits or the timeout passes first.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from mlops_kit.processes import group_members
from mlops_kit.serving import prefork
from mlops_kit.serving.config import CONFIG_ENV, ServiceConfig, ServiceError
from mlops_kit.serving.metrics import MULTIPROC_ENV
from mlops_kit.serving.resolve import RESOLVED_ENV, resolve_model

FD_ENV = "MLOPS_SERVICE_FD"
WORKERS_ENV = "MLOPS_SERVICE_WORKERS"
LOOPBACK = "127.0.0.1"


class PortInUse(ServiceError):
    """The requested port is taken by another process."""


class ServiceStartError(ServiceError):
    """The service process exited or did not become ready in time (it is stopped; ``pid``, ``port`` say which)."""

    pid: int | None = None
    port: int | None = None


def bind_socket(host: str = LOOPBACK, port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: a free port); PortInUse if the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} on {host} is already in use by another process: choose another port or 0 for a free one"
            ) from None
        raise ServiceError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def anonymous_log() -> BinaryIO:
    """An open file without a name in the temporary folder, appended to (O_APPEND) by whoever holds it."""
    log = tempfile.TemporaryFile()
    fcntl.fcntl(log.fileno(), fcntl.F_SETFL, fcntl.fcntl(log.fileno(), fcntl.F_GETFL) | os.O_APPEND)
    return log


def _discard(metrics_dir: Path | None, log: Path | BinaryIO) -> None:
    """Remove a service's metrics folder and close its log if it has no name (a given log file stays)."""
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    if not isinstance(log, Path):
        log.close()


def log_tail(log: Path | BinaryIO, lines: int = 15) -> str:
    """The last ``lines`` lines of a log, a file by path or an open one ('' when there is none)."""
    try:
        if isinstance(log, Path):
            data = log.read_bytes()
        else:  # read at offset 0 without moving the offset the service writes at
            data = os.pread(log.fileno(), os.fstat(log.fileno()).st_size, 0)
    except (OSError, ValueError):  # ValueError: the open file was closed
        return ""
    return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])


class ServiceProcess:
    """A running service process: ``url``, ``port``, ``pid``, ``config``; ``stop()`` ends it."""

    def __init__(
        self,
        config: ServiceConfig,
        host: str,
        port: int,
        process: subprocess.Popen,
        log: Path | BinaryIO,
        metrics_dir: Path | None,
    ) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.process = process
        self.log_path = log if isinstance(log, Path) else None
        """The log file given at the start; None: the log is a file without a name, gone with ``stop()``."""
        self._log = log
        self._metrics_dir = metrics_dir
        self.ready_seconds: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def start(
        cls,
        tracking_uri: str,
        model_name: str,
        *,
        alias: str | None = None,
        version: str | int | None = None,
        host: str = LOOPBACK,
        port: int = 0,
        workers: int = 1,
        timeout: float = 120.0,
        log_path: str | Path | None = None,
        **options: Any,
    ) -> ServiceProcess:
        """Start a service for ``model_name`` at ``alias`` or ``version`` and wait until it is ready.

        ``options`` are further ServiceConfig fields (threshold, unknown_category, max_rows, ...).
        """
        config = ServiceConfig(
            tracking_uri=tracking_uri,
            model_name=model_name,
            alias=alias,
            version=None if version is None else str(version),
            **options,
        )
        return cls.start_config(config, host=host, port=port, workers=workers, timeout=timeout, log_path=log_path)

    @classmethod
    def start_config(
        cls,
        config: ServiceConfig,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        workers: int = 1,
        timeout: float = 120.0,
        log_path: str | Path | None = None,
        entry: str = "mlops_kit.serving",
        config_env: str = CONFIG_ENV,
    ) -> ServiceProcess:
        """Start a service for ``config`` (see ``start``); ``entry`` is the module run with ``python -m``
        (module 7's router runs ``mlops_kit.rollout`` the same way) and reads its config from ``config_env``."""
        if workers < 1:
            raise ServiceError(f"workers must be at least 1, got {workers}")
        if timeout <= 0:
            raise ServiceError(f"timeout must be positive seconds, got {timeout}")
        sock = bind_socket(host, port)
        env = child_environment(config_env)
        env[config_env] = config.model_dump_json()
        env[WORKERS_ENV] = str(workers)
        resolved = resolve_model(config) if isinstance(config, ServiceConfig) else None
        if resolved is not None:
            env[RESOLVED_ENV] = resolved.to_json()
        metrics_dir = None
        if workers > 1:  # the workers' shared metrics files
            metrics_dir = Path(tempfile.mkdtemp(prefix="mlops-service-metrics-"))
            env[MULTIPROC_ENV] = str(metrics_dir)
        # no log_path: a file without a name, which nothing can leave behind (not even a killed owner)
        log: Path | BinaryIO = anonymous_log() if log_path is None else Path(log_path)
        if isinstance(log, Path):
            log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(log, "ab") if isinstance(log, Path) else contextlib.nullcontext(log) as sink:
                process = _spawn(entry, env, config_env, sock, sink.fileno(), workers, timeout)
        except BaseException as failure:
            _discard(metrics_dir, log)
            if not isinstance(failure, prefork.PreforkTimeout):
                raise
            error = ServiceStartError(
                f"the service on http://{host}:{sock.getsockname()[1]} was not ready within {timeout:g} s "
                "(its warm parent was still importing; nothing was started)"
            )
            error.port = sock.getsockname()[1]
            raise error from None
        finally:
            bound_port = sock.getsockname()[1]
            sock.close()
        service = cls(config, host, bound_port, process, log, metrics_dir)
        try:
            service.wait_ready(timeout)
        except BaseException as error:
            service.stop()
            if isinstance(error, ServiceStartError):
                error.pid, error.port = service.pid, service.port
            raise
        return service

    def wait_ready(self, timeout: float) -> float:
        """Poll ``/ready`` until it answers 200; seconds waited. ServiceStartError otherwise."""
        started = time.perf_counter()
        deadline = started + timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise ServiceStartError(
                        f"the service process exited with code {code} before it was ready; its log ends:\n{log_tail(self._log)}"
                    )
                try:
                    answer = client.get(f"{self.url}/ready")
                    if answer.status_code == 200:
                        self.ready_seconds = time.perf_counter() - started
                        return self.ready_seconds
                    last = f"/ready answered {answer.status_code}"
                except httpx.HTTPError as error:
                    last = f"{type(error).__name__}"
                if time.perf_counter() >= deadline:
                    raise ServiceStartError(
                        f"the service on {self.url} was not ready within {timeout:g} s ({last}); its log ends:\n{log_tail(self._log)}"
                    )
                time.sleep(0.05)

    def running(self) -> bool:
        """True while the service process has not exited."""
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the service: SIGTERM to its process group, SIGKILL after ``timeout``; the exit code.

        Its log goes too, unless ``log_path`` was given at the start."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait()
        self._signal_group(signal.SIGKILL)  # workers that outlived their parent
        deadline = time.monotonic() + timeout
        while group_members(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        _discard(self._metrics_dir, self._log)
        return self.process.returncode

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """``GET`` one of the service's endpoints."""
        return httpx.get(f"{self.url}{path}", timeout=kwargs.pop("timeout", 10.0), **kwargs)

    def metadata(self) -> dict[str, Any]:
        """The service's ``/metadata`` answer."""
        answer = self.get("/metadata")
        answer.raise_for_status()
        return answer.json()

    def predict(self, orders: Any, request_id: str | None = None, timeout: float = 30.0) -> httpx.Response:
        """``POST /predict`` with one order or a list (dicts, or a DataFrame of raw orders)."""
        headers = {"X-Request-ID": request_id} if request_id else {}
        return httpx.post(
            f"{self.url}/predict",
            content=orders_json(orders),
            headers={**headers, "Content-Type": "application/json"},
            timeout=timeout,
        )

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running() else f"stopped (exit {self.process.returncode})"
        return f"ServiceProcess({self.config.model_name!r} version {self.config.version or '@' + str(self.config.alias)}, {self.url}, pid {self.pid}, {state})"


PER_START_KEYS = frozenset({FD_ENV, WORKERS_ENV, RESOLVED_ENV, MULTIPROC_ENV})
"""Environment variables set per start (with the entry's config variable): a warm parent ignores them."""


def child_environment(config_env: str = CONFIG_ENV) -> dict[str, str]:
    """The environment a service or router process starts from, before its per-start variables."""
    env = {key: value for key, value in os.environ.items() if key not in _per_start(config_env)}
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def _per_start(config_env: str) -> frozenset[str]:
    return PER_START_KEYS | {config_env}


def _spawn(
    entry: str, env: dict[str, str], config_env: str, sock: socket.socket, log_fd: int, workers: int, timeout: float
) -> subprocess.Popen | prefork.ForkedChild:
    """The service's process: forked from the warm parent when it can be (see ``prefork``), else a new Python."""
    if prefork.enabled(workers):
        try:
            return prefork.warm_parent(entry, env, _per_start(config_env)).start(env, sock, FD_ENV, log_fd, timeout)
        except prefork.PreforkTimeout:
            raise
        except prefork.PreforkError:
            pass  # a new Python below; the next start gets a new warm parent
    return subprocess.Popen(
        [sys.executable, "-m", entry],
        env={**env, FD_ENV: str(sock.fileno())},
        stdin=subprocess.DEVNULL,
        stdout=log_fd,
        stderr=subprocess.STDOUT,
        pass_fds=(sock.fileno(),),
        start_new_session=True,
    )


def prestart(entry: str = "mlops_kit.serving", config_env: str = CONFIG_ENV) -> None:
    """Start the warm parent for ``entry`` now, so that its imports run while the caller goes on."""
    if prefork.enabled():
        prefork.warm_parent(entry, child_environment(config_env), _per_start(config_env))


def orders_json(orders: Any) -> str:
    """JSON of orders given as a dict, a list of dicts or a DataFrame (times as ISO strings)."""
    import json

    if hasattr(orders, "to_json"):
        return orders.to_json(orient="records", date_format="iso", date_unit="s")
    return json.dumps(orders, default=str)
