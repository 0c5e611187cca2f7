"""A warm parent for service and router processes: their imports paid once, a fork per start (Linux).

A model service spends about 3 s of its start importing pandas, scikit-learn, skops, FastAPI and
uvicorn, and module 7 starts five processes. ``Prefork(entry)`` starts one process,
``python -m mlops_kit.serving.prefork ENTRY FD``, that imports the entry's ``PRELOAD``
modules and then waits on a socket pair. ``ServiceProcess.start_config`` hands it the listening socket
and the log file (``SCM_RIGHTS``) with the environment a new process would get; it forks a child that
starts a session of its own, takes that environment and runs the entry's ``main()``: the same uvicorn
server a new ``python -m ENTRY`` runs, in a real process on loopback, without the imports.

The warm parent serves only the process that started it: it exits when that process closes the
pair (``close()``, at exit) or dies (the pair's other end closes), and its children get SIGTERM
then (``PR_SET_PDEATHSIG``). An environment, folder or interpreter other than the one it was
started with (MLflow's variables aside: it never imports MLflow) means a new warm parent, so a
child never runs with imports made under other settings. Anywhere but Linux, with
``MLOPS_PREFORK=0``, or for more than one worker, ``ServiceProcess`` starts a new Python as before.

A process that has already imported an entry's stack (the grader's forked kernel, see
``grading.kernel_fork``) forks its warm parents instead (``fork_warm_parents``): the same loop, without
the new Python. ``warm_parent`` adopts such a parent on its first call for the entry.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_kit.processes import ForkedProcess, die_with_parent

PREFORK_ENV = "MLOPS_PREFORK"
"""``0`` turns the warm parent off (every service start is a new Python)."""
SWITCH_KEYS = frozenset({PREFORK_ENV})
"""Variables that turn the warm parent on or off: they never make its imports stale."""
UNIMPORTED_PREFIXES = ("MLFLOW_", "PYTEST_")
"""Variables of packages the warm parent never imports (a child that needs MLflow imports it after the fork)."""
UVICORN_MODULES = (
    "uvicorn",
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
    "uvloop",
    "anyio._core._sockets",
)
"""What every entry's ``uvicorn.Server`` imports when it starts: imported before the entry's ``PRELOAD``."""
_MESSAGE_BYTES = 1 << 20


class PreforkError(RuntimeError):
    """The warm parent cannot start this child (the caller starts a new Python instead)."""


class PreforkTimeout(PreforkError):
    """The warm parent did not answer in time (still importing); it forks nothing for that request."""


def enabled(workers: int = 1) -> bool:
    """True when a start of ``workers`` worker(s) may fork from a warm parent here."""
    return sys.platform == "linux" and workers == 1 and os.environ.get(PREFORK_ENV, "1") != "0"


def _comparable(env: Mapping[str, str], per_start: frozenset[str]) -> dict[str, str]:
    """The part of ``env`` that could have changed what the warm parent's imports did."""
    return {
        key: value for key, value in env.items() if key not in per_start and not key.startswith(UNIMPORTED_PREFIXES)
    }


class ForkedChild(ForkedProcess):
    """A child of the warm parent, with the part of ``subprocess.Popen`` that ``ServiceProcess`` uses: the warm
    parent, not this process, reaps it, so ``poll`` asks the parent."""

    def __init__(self, parent: Prefork, pid: int) -> None:
        super().__init__(pid)
        self._parent = parent

    def poll(self) -> int | None:
        """The exit code once the child has exited, else None."""
        if self.returncode is None:
            self.returncode = self._parent.exit_code(self.pid)
        return self.returncode


class Prefork:
    """Client of one warm parent for ``entry`` (``mlops_kit.serving`` or ``mlops_kit.rollout``)."""

    def __init__(
        self,
        entry: str,
        env: Mapping[str, str],
        per_start: frozenset[str],
        process: subprocess.Popen | ForkedProcess,
        channel: socket.socket,
    ) -> None:
        self.entry = entry
        self.env = dict(env)
        self.cwd = os.getcwd()
        self.executable = sys.executable
        self.owner = os.getpid()
        self.process = process
        self._channel = channel
        self._per_start = per_start | SWITCH_KEYS
        self._lock = threading.Lock()
        self._broken = False
        self._sequence = 0

    @classmethod
    def launch(cls, entry: str, env: Mapping[str, str], per_start: frozenset[str]) -> Prefork:
        """Start a new warm parent, ``python -m mlops_kit.serving.prefork ENTRY FD``, with ``env``."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, entry, str(theirs.fileno())],
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return cls(entry, env, per_start, process, ours)

    def fits(self, env: Mapping[str, str]) -> bool:
        """True when a child started with ``env`` may come from this warm parent."""
        return (
            not self._broken
            and self.process.poll() is None
            and self.owner == os.getpid()
            and self.cwd == os.getcwd()
            and self.executable == sys.executable
            and _comparable(env, self._per_start) == _comparable(self.env, self._per_start)
        )

    def start(
        self, env: Mapping[str, str], listen: socket.socket, fd_env: str, log_fd: int, timeout: float
    ) -> ForkedChild:
        """Fork a child that runs the entry on ``listen`` (its descriptor in ``fd_env``) with ``env``, its
        output to ``log_fd``."""
        request = {"op": "start", "env": dict(env), "fd_env": fd_env, "cwd": os.getcwd()}
        reply = self._ask(request, [listen.fileno(), log_fd], timeout)
        return ForkedChild(self, int(reply["pid"]))

    def exit_code(self, pid: int) -> int | None:
        """The exit code of child ``pid`` once it has exited (-9 when the warm parent is gone with it)."""
        try:
            return self._ask({"op": "poll", "pid": pid}, [], 10.0)["returncode"]
        except PreforkError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return -signal.SIGKILL
            return None

    def _ask(self, request: dict[str, Any], fds: list[int], timeout: float) -> dict[str, Any]:
        """Send ``request`` and wait for its reply; a start the warm parent reads after ``timeout`` forks nothing."""
        with self._lock:
            if self._broken:
                raise PreforkError("the warm parent is gone")
            self._sequence += 1
            request = {**request, "id": self._sequence, "deadline": time.time() + timeout}
            deadline = time.monotonic() + timeout
            try:
                socket.send_fds(self._channel, [json.dumps(request).encode()], fds)
                while True:  # replies to requests that timed out earlier come first: skip them
                    self._channel.settimeout(max(deadline - time.monotonic(), 0.001))
                    answer = self._channel.recv(_MESSAGE_BYTES)
                    if not answer or json.loads(answer).get("id") == self._sequence:
                        break
            except TimeoutError:
                raise PreforkTimeout(f"the warm parent did not answer within {timeout:g} s") from None
            except OSError as error:
                self._broken = True
                raise PreforkError(f"the warm parent cannot be reached: {error}") from None
            if not answer:
                self._broken = True
                raise PreforkError("the warm parent exited")
        reply = json.loads(answer)
        if "error" in reply:
            raise PreforkError(reply["error"])
        return reply

    def close(self) -> None:
        """End the warm parent (and so its children); idempotent."""
        self._broken = True
        if self.owner != os.getpid():
            return  # a forked copy of the owner: the pair is the owner's to close
        self._channel.close()
        try:
            self.process.wait(2)  # one still importing reads the EOF only afterwards: no need to wait for it
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_parents: dict[str, Prefork] = {}
_retired: list[Prefork] = []
_parents_lock = threading.Lock()


def warm_parent(entry: str, env: Mapping[str, str], per_start: frozenset[str]) -> Prefork:
    """This process's warm parent for ``entry`` whose imports fit ``env`` (started or replaced when needed)."""
    with _parents_lock:
        current = _parents.get(entry)
        if current is not None and current.fits(env):
            return current
        if current is not None and current.owner == os.getpid():
            _retired.append(current)  # its children keep running; it ends at exit with them
        inherited = _inherited.pop(entry, None) if _inherited_owner[0] == os.getpid() else None
        if inherited is not None and inherited.process.poll() is None:
            _parents[entry] = Prefork(entry, env, per_start, inherited.process, inherited.channel)
        else:
            if inherited is not None:
                inherited.channel.close()
            _parents[entry] = Prefork.launch(entry, env, per_start)
        return _parents[entry]


@atexit.register
def close_all() -> None:
    """End every warm parent of this process."""
    with _parents_lock:
        for parent in [*_parents.values(), *_retired]:
            parent.close()
        _parents.clear()
        _retired.clear()
        if _inherited_owner[0] == os.getpid():
            for unused in _inherited.values():  # forked but never adopted: the closed pair ends it
                unused.channel.close()
            _inherited.clear()


@dataclass(frozen=True)
class _Inherited:
    process: ForkedProcess
    channel: socket.socket


_inherited: dict[str, _Inherited] = {}
_inherited_owner = [0]
ENTRIES = ("mlops_kit.serving", "mlops_kit.rollout")
"""The entries a warm parent runs: the model service and module 7's router."""


def imported_entries() -> list[str]:
    """The entries whose ``__main__`` this process has imported: the ones it preloads and forks warm parents for."""
    return [entry for entry in ENTRIES if f"{entry}.__main__" in sys.modules]


def preload(entry: str) -> Any:
    """Import what ``entry``'s processes need before they fork (its ``__main__``, uvicorn's stack, its
    ``PRELOAD``); the ``__main__`` module."""
    module = importlib.import_module(f"{entry}.__main__")
    for name in (*UVICORN_MODULES, *getattr(module, "PRELOAD", ())):
        with contextlib.suppress(ImportError):  # a name an upgrade moved costs its child the import, no more
            importlib.import_module(name)
    return module


def fork_warm_parents() -> list[str]:
    """Fork a warm parent for each entry this process has preloaded; ``warm_parent`` then adopts it.

    For a process that has already made the imports (the grader's forked kernel: ``grading.kernel_fork``):
    its warm parents cost a fork, not a new Python's 2-3 s of imports. Call it while the process has one
    thread. The parents serve this process only, as a launched one does. The entries forked.
    """
    if not enabled():
        return []
    forked = []
    for entry in imported_entries():
        if entry in _inherited:
            continue
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                ours.close()
                os.setsid()
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.closerange(3, theirs.fileno())
                os.closerange(theirs.fileno() + 1, os.sysconf("SC_OPEN_MAX"))
                code = serve(entry, theirs.detach())
            finally:
                os._exit(code)
        theirs.close()
        _inherited[entry] = _Inherited(ForkedProcess(pid), ours)
        forked.append(entry)
    _inherited_owner[0] = os.getpid()
    return forked


# --- the warm parent's side ------------------------------------------------------------------------


def _run_child(entry_main: Any, request: dict[str, Any], fds: list[int], channel: socket.socket, parent: int) -> int:
    """In the forked child of warm parent ``parent``: become the entry's process and run it; its exit code."""
    os.setsid()
    die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:  # the warm parent ended before the line above
        os._exit(0)
    channel.close()
    listen_fd, log_fd = fds
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ[request["fd_env"]] = str(listen_fd)
    return int(entry_main() or 0)


def serve(entry: str, channel_fd: int) -> int:
    """The warm parent: import ``entry``'s stack, then fork a child per start request until EOF.

    Not ``PR_SET_PDEATHSIG`` here: it fires when the *thread* that started this process ends, and
    services are started from worker threads. The pair's EOF comes when the owner closes it or dies.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = socket.socket(fileno=channel_fd)
    module = preload(entry)
    import gc

    gc.collect()
    gc.freeze()  # the children share these pages instead of copying them on the first collection
    exited: dict[int, int] = {}
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(channel, _MESSAGE_BYTES, 2)
        except OSError:
            return 0
        if not message:
            return 0
        request = json.loads(message)
        if request["op"] == "start" and time.time() > request["deadline"]:
            reply: dict[str, Any] = {"error": "the request waited past its deadline: nothing was started"}
        elif request["op"] == "start":
            parent = os.getpid()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    code = _run_child(module.main, request, fds, channel, parent)
                except BaseException:  # the child must never return into this loop
                    import traceback

                    traceback.print_exc()
                finally:
                    with contextlib.suppress(Exception):
                        sys.stdout.flush()
                        sys.stderr.flush()
                    os._exit(code)
            reply = {"pid": pid}
        elif request["op"] == "poll":
            reply = {"returncode": _reap(int(request["pid"]), exited)}
        else:
            reply = {"error": f"unknown request {request['op']!r}"}
        for fd in fds:
            os.close(fd)
        channel.send(json.dumps({**reply, "id": request.get("id")}).encode())


def _reap(pid: int, exited: dict[int, int]) -> int | None:
    if pid in exited:
        return exited[pid]
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return exited.get(pid, -signal.SIGKILL)
    if done == 0:
        return None
    exited[pid] = os.waitstatus_to_exitcode(status)
    return exited[pid]


if __name__ == "__main__":
    raise SystemExit(serve(sys.argv[1], int(sys.argv[2])))
