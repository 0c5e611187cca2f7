"""A warm process that forks grading work, so a graded notebook pays for its own work, not for imports.

Every sandboxed notebook run used to start Python three times (the jail, papermill, the kernel) and
import pandas, scikit-learn, MLflow and the course again; every module's artifact tests started
pytest and imported them once more: 3-8 s per module before any learner code ran. The fork server
imports all of that once (``WARM_IMPORTS``), then serves requests on a Unix socket by forking:

* ``sandbox``: a child enters ``grading.jail`` (namespaces, new root, own user, limits) and runs
  ``grading.execute`` there, whose kernel is forked too (``grading.kernel_fork``);
* ``checks``: a child runs a module's artifact tests with ``pytest.main`` in a folder of the grader's.
* ``kernel``: a child becomes an IPython kernel for a client outside any sandbox (``grading.warm_kernel``:
  nbval's kernels in ``make test``).

What a forked child knows is what the server knew: the server is started with the sandbox's clean
environment and never reads a request itself (a handler forked per connection does), so no
secret, ledger or expected value is ever in its memory. Only the user that started it may connect
(the socket sits in a private folder, and the peer's uid is checked); inside a sandbox its folder
does not exist (a fresh ``/tmp``). Each handler dies with the server, each run with its handler, and
a client that hangs up (a timeout, a killed grader) ends its run.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_kit.course import MODULE_IDS, module_id
from mlops_kit.processes import die_with_parent, group_members

WARM_IMPORTS = (
    "numpy",
    "pandas",
    "matplotlib.pyplot",
    "mlops_kit.validation",
    "grading.selfcheck",
    "papermill",
    "nbclient",
    "ipykernel.kernelapp",
    "pytest",
    "grading.execute",
    "grading.jail",
    "grading.kernel_fork",
    "grading.cli",
    "grading.grade",
    "grading.steps.reference_use",
)
"""What every graded module needs: its kernel's data stack, papermill and the kernel, pytest, the grader."""
_PIPELINE = ("scipy.stats", "sklearn.ensemble", "sklearn.linear_model", "sklearn.pipeline", "mlops_kit.pipeline")
# The SQLite store's module (SQLAlchemy, alembic: 1.1 s) is imported by a notebook's first connect(), not by mlflow.
_REGISTRY = (
    *_PIPELINE,
    "mlflow",
    "mlflow.sklearn",
    "mlflow.pyfunc",
    "mlflow.store.tracking.sqlalchemy_store",
    "skops.io",
    "mlops_kit.registry",
)
# An entry's ``__main__`` (``mlops_kit.serving.prefork.ENTRIES``) means its warm parent is preloaded here and forked
# with each kernel (``grading.kernel_fork``), so a notebook's services start without a new Python importing.
_SERVICE = (
    *_REGISTRY,
    "fastapi",
    "httpx",
    "uvicorn",
    "mlops_kit.gates",
    "mlops_kit.serving",
    "mlops_kit.serving.__main__",
    "mlops_kit.deploy",
)
MODULE_IMPORTS = {
    module_id(2): _PIPELINE,
    module_id(3): _REGISTRY,
    module_id(4): _SERVICE,
    module_id(5): (*_SERVICE, "evidently", "evidently.metrics", "mlops_kit.monitoring"),
    module_id(6): (*_SERVICE, "mlops_kit.consistency"),
    module_id(7): (*_SERVICE, "mlops_kit.rollout", "mlops_kit.rollout.__main__"),
}
"""What a module adds (its notebook's libraries): a server imports only what the graded modules need
(evidently alone takes 3-4 s; module 1 needs neither scikit-learn nor MLflow)."""
SOCKET_ENV = "GRADING_FORKSERVER"  # a gradebook's jobs find the cohort's server here
READY = b"ready\n"
MAX_REQUEST_BYTES = 1 << 20
HANG_UP_GRACE_S = 30.0


class ForkServerError(RuntimeError):
    """The fork server could not start or answer; callers fall back to a cold start."""


# ---------------------------------------------------------------- the server (python -m grading.forkserver)


def warm_up(extra: Sequence[str] = ()) -> None:
    """Import ``WARM_IMPORTS`` and ``extra`` as a kernel would find them (matplotlib's inline backend chosen first)."""
    import importlib

    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as ipykernel sets it
    for name in (*WARM_IMPORTS, *extra):
        importlib.import_module(name)
    if "mlops_kit.serving.prefork" in sys.modules:
        from mlops_kit.serving import prefork

        for entry in prefork.imported_entries():
            prefork.preload(entry)
    if threading.active_count() != 1:
        raise ForkServerError(f"the warm imports started threads ({threading.enumerate()}); forking is unsafe")


def serve(socket_path: str, extra: Sequence[str] = ()) -> None:
    """Import the warm set (and ``extra``), listen on ``socket_path``, fork a handler per connection; runs until killed.

    Killed with its owner (a gradebook stopped with ``kill -9``), it removes its folder (the socket's) first.
    """
    _remove_folder_when_terminated(Path(socket_path).parent)
    die_with_parent(signal.SIGTERM)
    warm_up(extra)
    import gc

    gc.collect()
    gc.freeze()  # forked children then do not copy the whole heap when they collect
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o077)
    listener.bind(socket_path)
    os.umask(old_umask)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, lambda *_: _reap())
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    while True:
        try:
            connection, _ = listener.accept()
        except InterruptedError:
            continue
        if _peer_uid(connection) != os.getuid():
            connection.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 1
            try:
                code = _handle(connection)
            finally:
                os._exit(code)
        connection.close()


def _remove_folder_when_terminated(folder: Path) -> None:
    """On SIGTERM, the server removes ``folder`` and exits (its handlers end their runs when it is gone)."""
    server = os.getpid()

    def on_terminate(*_: object) -> None:
        if os.getpid() == server:  # a handler forked before it set its own keeps away from the folder
            shutil.rmtree(folder, ignore_errors=True)
        os._exit(1)

    signal.signal(signal.SIGTERM, on_terminate)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _peer_uid(connection: socket.socket) -> int:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", credentials)[1]


def _handle(connection: socket.socket) -> int:
    """In a handler: read one request, run it in a child of its own session, answer with its exit code."""
    die_with_parent(signal.SIGTERM)  # the server is gone: end this run first (below), then this handler
    request = json.loads(_read_line(connection))
    runner = RUNNERS[request["kind"]]
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    child = os.fork()
    if child == 0:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        die_with_parent()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull if request.get("discard_stdout") else log, 1)
        os.dup2(log, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the socket to the grader and the log's own fd
        code = 1
        try:
            code = runner(request)
        except BaseException as error:  # noqa: BLE001 - report it in the log, exit non-zero
            print(f"fork server: {request['kind']} failed: {type(error).__name__}: {error}", flush=True)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(log)

    def end_run(*_: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child, signal.SIGKILL)  # the run and whatever it started in its session
        os._exit(1)

    signal.signal(signal.SIGTERM, end_run)
    pidfd = os.pidfd_open(child)
    hung_up = False
    while True:
        readable, _, _ = select.select([connection, pidfd], [], [])
        if pidfd in readable:
            break
        if not hung_up and not connection.recv(1):  # the client hung up or gave up: end the run now
            hung_up = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)
    _, status = os.waitpid(child, 0)
    with contextlib.suppress(OSError):
        connection.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
    return 0


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk or len(data) > MAX_REQUEST_BYTES:
            raise ForkServerError("incomplete request")
        data += chunk
    return data


def _run_sandbox(request: dict[str, Any]) -> int:
    """Enter the jail and run ``spec['call']`` there; this process's own address space is not the notebook's."""
    from grading import jail

    spec = request["spec"]
    limits = spec["limits"]
    if "RLIMIT_AS" in limits:
        limits["RLIMIT_AS"] += _address_space_bytes()
    return jail.run(spec)


def _enter(request: dict[str, Any]) -> None:
    """Take the request's folder and whole environment (a folder and environment of the grader's)."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])


def _run_checks(request: dict[str, Any]) -> int:
    """Run pytest with ``argv`` in the request's folder and environment."""
    import pytest

    _enter(request)
    return int(pytest.main(request["argv"]))


def _run_grade(request: dict[str, Any]) -> int:
    """A gradebook job: ``grading grade argv`` (the learner's whole grading, as the grader's own process)."""
    from grading.cli import main

    _enter(request)
    return int(main(request["argv"]) or 0)


def _run_kernel(request: dict[str, Any]) -> int:
    """An IPython kernel on the request's connection file, in its folder and environment (``grading.warm_kernel``)."""
    from grading.kernel_fork import run_kernel

    _enter(request)
    return run_kernel(request["connection_file"])


RUNNERS = {"sandbox": _run_sandbox, "checks": _run_checks, "grade": _run_grade, "kernel": _run_kernel}


def _address_space_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------- the client

STOP_GRACE_S = 10.0


@dataclass
class Reply:
    """How a forked run ended: its exit code, and whether the client gave up on it (timeout)."""

    returncode: int
    timed_out: bool


class ForkServer:
    """A running fork server (started here, or one a gradebook shares through ``GRADING_FORKSERVER``)."""

    def __init__(self, socket_path: Path, process: subprocess.Popen | None = None, folder: Path | None = None):
        self.socket_path = socket_path
        self._process = process
        self._folder = folder
        self._ready = threading.Event()
        self._failure: str | None = None

    @classmethod
    def start(cls, modules: Iterable[str] = MODULE_IDS) -> ForkServer:
        """Start a server for grading ``modules`` in the background (it imports for a few seconds); requests
        wait until it is ready.

        Its environment is a sandbox's (``grading.sandbox.sandbox_env``), nothing of the grader's.
        """
        from grading.sandbox import sandbox_env

        folder = Path(tempfile.mkdtemp(prefix="grading-forkserver-"))
        path = folder / "socket"
        env = sandbox_env(folder / "home")
        extra = list(dict.fromkeys(name for module in sorted(modules) for name in MODULE_IMPORTS.get(module, ())))
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", "grading.forkserver", str(path), *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=open(folder / "server.log", "ab"),  # noqa: SIM115 - the server's for its lifetime
            cwd="/",
            env=env,
            start_new_session=True,
        )
        server = cls(path, process, folder)
        threading.Thread(target=server._wait_ready, daemon=True).start()
        return server

    @classmethod
    def connect(cls, socket_path: str | Path) -> ForkServer:
        """A client of a server started elsewhere (a gradebook's), listening at ``socket_path``."""
        server = cls(Path(socket_path))
        server._ready.set()
        return server

    @classmethod
    def from_environment(cls) -> ForkServer | None:
        """The server a gradebook shares with its jobs, if ``GRADING_FORKSERVER`` names one that exists."""
        path = os.environ.get(SOCKET_ENV)
        return cls.connect(path) if path and Path(path).exists() else None

    def _wait_ready(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if line != READY:
            self._failure = f"the fork server did not start (exit {self._process.poll()}): {self.log_tail()}"
        self._ready.set()

    def log_tail(self) -> str:
        """The end of the server's own log (why it failed, if it did)."""
        if self._folder is None:
            return ""
        with contextlib.suppress(OSError):
            return (self._folder / "server.log").read_text(errors="replace")[-500:]
        return ""

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the server has imported and listens; ForkServerError if it cannot."""
        if not self._ready.wait(timeout):
            self._failure = f"the fork server was not ready after {timeout:g} s: {self.log_tail()}"
            self._ready.set()  # every later request fails at once (and starts cold) instead of waiting again
        if self._failure:
            raise ForkServerError(self._failure)

    def run(self, kind: str, request: dict[str, Any], log: Path, timeout: float) -> Reply:
        """Run one request (a ``RUNNERS`` kind); after ``timeout`` seconds the run is killed."""
        self.wait_ready()
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            try:
                connection.connect(str(self.socket_path))
                connection.sendall(json.dumps({**request, "kind": kind, "log": str(log)}).encode() + b"\n")
            except OSError as error:
                raise ForkServerError(f"the fork server at {self.socket_path} is unreachable: {error}") from error
            timed_out = False
            reply = b""
            while not reply.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 and not timed_out:
                    timed_out = True
                    connection.shutdown(socket.SHUT_WR)  # the handler kills the run and answers
                    deadline = time.monotonic() + HANG_UP_GRACE_S
                    continue
                connection.settimeout(max(left, 0.001))
                try:
                    chunk = connection.recv(4096)
                except TimeoutError:
                    continue
                if not chunk:
                    raise ForkServerError("the fork server hung up without an answer (was it stopped?)")
                reply += chunk
        return Reply(int(json.loads(reply)["exit"]), timed_out)

    def close(self) -> None:
        """Stop a server started here, with every handler and run (they end theirs when it dies); remove its folder."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            deadline = time.monotonic() + STOP_GRACE_S
            while group_members(self._process.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
