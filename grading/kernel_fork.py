"""Start a notebook's kernel by forking the current process instead of starting a new Python.

In a warm process (``grading.forkserver``: pandas, scikit-learn, MLflow, ipykernel and the course
already imported) a kernel that is forked starts with all of that loaded; a kernel that papermill
starts the usual way imports it all again, 2-8 s per notebook. ``KernelSeed.fork()`` forks a child
while the process is still single-threaded, before papermill creates its event loop and sockets;
the child waits on a pipe. papermill runs with ``kernel_manager_class=seed.manager_class()``: when
jupyter_client asks its provisioner to launch the kernel, the connection file is written, the seed
is told where it is, and the child becomes an ordinary IPython kernel (own session, like a kernel
jupyter_client starts). jupyter_client manages it from there as its own child process: interrupt,
shutdown, kill and the dead-kernel check all work as for a kernel it started itself.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from mlops_kit.processes import ForkedProcess

SEED_DIED = 70  # exit code of a seed whose parent never said where the connection file is


class ChildKernel(ForkedProcess):
    """The part of ``subprocess.Popen`` that jupyter_client's ``LocalProvisioner`` uses, for a forked child."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid)
        self.stdin = self.stdout = self.stderr = None  # the kernel shares this process's streams


class KernelSeed:
    """A forked child that becomes the kernel once jupyter_client has written its connection file."""

    def __init__(self, pid: int, write_fd: int) -> None:
        self.pid = pid
        self._write_fd = write_fd
        self.used = False

    @classmethod
    def fork(cls) -> KernelSeed:
        """Fork the seed now (call this while the process has one thread and no event loop)."""
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(write_fd)
            _seed_main(read_fd)
        os.close(read_fd)
        return cls(pid, write_fd)

    def launch(self, connection_file: str, cwd: str | None) -> ChildKernel:
        """Tell the seed to start the kernel on ``connection_file`` in ``cwd``; the kernel process."""
        if self.used:
            raise RuntimeError("a forked kernel cannot be started twice (restarts are not supported)")
        self.used = True
        os.write(self._write_fd, json.dumps({"connection_file": connection_file, "cwd": cwd}).encode())
        os.close(self._write_fd)
        return ChildKernel(self.pid)

    def discard(self) -> None:
        """End an unused seed (papermill never got to start the kernel)."""
        if not self.used:
            self.used = True
            os.close(self._write_fd)  # the seed reads end-of-file and exits
            os.waitpid(self.pid, 0)

    def manager_class(self) -> type[AsyncKernelManager]:
        """A kernel manager class for papermill whose kernel is this seed."""
        seed = self

        class ForkedProvisioner(LocalProvisioner):
            async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
                cwd = kwargs.get("cwd") or os.getcwd()  # papermill changes this process's folder to the kernel's
                self.process = seed.launch(str(self.parent.connection_file), cwd)
                self.pid = self.pgid = self.process.pid  # the kernel leads a session of its own
                self.cwd = cwd
                return self.connection_info

        class ForkedKernelManager(AsyncKernelManager):
            async def _async_pre_start_kernel(self, **kw: Any) -> Any:
                if self.provisioner is None:
                    self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or os.urandom(16).hex()
                    self.provisioner = ForkedProvisioner(
                        kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
                    )
                return await super()._async_pre_start_kernel(**kw)

        return ForkedKernelManager


def _seed_main(read_fd: int) -> None:
    """In the seed: wait for the connection file, then run an IPython kernel on it; never returns."""
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    if not chunks:
        os._exit(SEED_DIED)
    request = json.loads(b"".join(chunks))
    code = 1
    try:
        os.setsid()
        os.environ["JPY_PARENT_PID"] = str(os.getppid())  # as jupyter_client sets it: the kernel ends with papermill
        if request["cwd"]:
            os.chdir(request["cwd"])
        code = run_kernel(request["connection_file"])
    except BaseException as error:  # noqa: BLE001 - report, never return into the parent's code
        print(f"forked kernel failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_kernel(connection_file: str) -> int:
    """Become an IPython kernel on ``connection_file`` in this (warm, forked, single-threaded) process; its exit code."""
    _as_in_a_new_kernel()
    _fork_service_parents()
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = ["ipykernel_launcher", "-f", connection_file, "--IPKernelApp.log_level=ERROR"]
    try:
        IPKernelApp.launch_instance(argv=sys.argv[1:])
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    return 0


def _fork_service_parents() -> None:
    """The model service's and the router's warm parents, forked now if the warm process preloaded them.

    Modules 4-7 start services; a warm parent launched from the kernel would import their stack again
    (2-3 s of CPU each). Forked here, while the seed still has one thread, it costs a fork.
    """
    prefork = sys.modules.get("mlops_kit.serving.prefork")
    if prefork is not None:
        prefork.fork_warm_parents()


def _as_in_a_new_kernel() -> None:
    """Undo what the warm process's imports decided outside a kernel, so a forked kernel acts as a new one.

    numpy's legacy global generator would be the same in every forked kernel (Python's ``random``
    reseeds itself after a fork); pandas chose its display for a terminal when it was imported
    (``display.max_columns`` is 0 in a terminal, 20 in a Jupyter kernel).
    """
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    pandas = sys.modules.get("pandas")
    if pandas is not None and pandas.get_option("display.max_columns") == 0:
        pandas.set_option("display.max_columns", 20)
