"""A kernel launcher that forks the kernel from a fork server: ``python -m grading.warm_kernel -f CONNECTION_FILE``.

nbval starts a new kernel per notebook, which imports pandas, scikit-learn, MLflow and the course again
(2-4 s), and whose services' warm parents import theirs again too. ``make test`` runs nbval with the
kernelspec ``WARM_KERNEL_NAME`` (written by ``grading.pytest_warm_kernels``), whose command is this
module: when ``SERVER_ENV`` names a fork server (``grading.forkserver``) that answers, the kernel is a
``kernel`` run forked from it, in this process's folder and environment, and this process waits for it
and ends with it (jupyter_client manages this process as the kernel's; interrupts go as messages).
Without a server, or one that cannot be reached, this process becomes an ordinary kernel instead.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

WARM_KERNEL_NAME = "mlops-course-warm"
SERVER_ENV = "GRADING_KERNEL_FORKSERVER"
"""The fork server's socket (set by ``grading.pytest_warm_kernels``; absent: a kernel starts cold)."""
NO_TIMEOUT_S = 7 * 24 * 3600.0
"""A kernel lives as long as its client wants; jupyter_client ends it (this process's exit ends the run)."""


def kernelspec(directory: Path) -> Path:
    """Write the warm kernelspec under ``directory`` (a ``JUPYTER_PATH`` entry); its folder."""
    folder = directory / "kernels" / WARM_KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", __name__, "-f", "{connection_file}"],
        "display_name": "MLOps course (Python 3, forked from a warm process)",
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return folder


def _cold(connection_file: str) -> None:
    """Become an ordinary kernel (this process, a new Python's imports)."""
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file])


def main(argv: list[str]) -> int:
    """Run the kernel for ``-f CONNECTION_FILE``: forked from the server in ``SERVER_ENV``, else cold."""
    if len(argv) != 2 or argv[0] != "-f":
        print("usage: python -m grading.warm_kernel -f CONNECTION_FILE", file=sys.stderr)
        return 2
    connection_file = argv[1]
    socket_path = os.environ.get(SERVER_ENV)
    if not socket_path:
        _cold(connection_file)
    from grading.forkserver import ForkServer, ForkServerError

    server = ForkServer.connect(socket_path)
    # beside the server's socket: its folder goes with the server, so a log survives no launcher that was killed
    log = Path(socket_path).parent / f"kernel-{os.getpid()}.log"
    env = {key: value for key, value in os.environ.items() if key != SERVER_ENV}
    request = {"connection_file": connection_file, "cwd": os.getcwd(), "env": env}
    try:
        reply = server.run("kernel", request, log, timeout=NO_TIMEOUT_S)
    except ForkServerError as error:
        if not log.exists():  # nothing was forked: the kernel starts here instead
            print(f"warm kernel: {error}; starting a new kernel", file=sys.stderr, flush=True)
            _cold(connection_file)
        raise
    if reply.returncode != 0 and log.is_file():
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
    log.unlink(missing_ok=True)
    return reply.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
