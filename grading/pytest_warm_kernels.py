"""pytest plugin (loaded by ``addopts`` in pyproject.toml): nbval's kernels forked from the session's fork server.

With ``--nbval`` (and no kernel chosen on the command line), notebooks run on the kernelspec
``grading.warm_kernel.WARM_KERNEL_NAME``, written into a folder put first on ``JUPYTER_PATH``: each
notebook's kernel is forked from one fork server per test process (``session_server``), which the
grading tests share (``tests/grading_support.py``), instead of a new Python importing the course's stack
again. The server starts on the first notebook cell, and stops with the session. The notebooks' outputs
are compared as before: a forked kernel acts as a new one (``tests/test_forkserver.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from grading.forkserver import ForkServer, ForkServerError
from grading.warm_kernel import SERVER_ENV, WARM_KERNEL_NAME, kernelspec

_server: list[ForkServer] = []
_kernelspecs: list[Path] = []


def session_server() -> ForkServer:
    """This test process's fork server (started on first use, stopped at the end of the session)."""
    if not _server:
        _server.append(ForkServer.start())
    return _server[0]


def pytest_configure(config: pytest.Config) -> None:
    """Point nbval at the warm kernelspec when it runs notebooks and no kernel was chosen."""
    option = config.option
    nbval = getattr(option, "nbval", False) or getattr(option, "nbval_lax", False)
    if not nbval or getattr(option, "nbval_kernel_name", None) or getattr(option, "current_env", False):
        return
    folder = Path(tempfile.mkdtemp(prefix="nbval-kernels-"))
    kernelspec(folder)
    _kernelspecs.append(folder)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(folder), os.environ.get("JUPYTER_PATH")]))
    option.nbval_kernel_name = WARM_KERNEL_NAME


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a notebook's kernel starts: the session's fork server, ready (if it cannot start, kernels start cold)."""
    if not _kernelspecs or item.path.suffix != ".ipynb" or SERVER_ENV in os.environ:
        return
    server = session_server()
    try:
        server.wait_ready()
    except ForkServerError:
        return
    os.environ[SERVER_ENV] = str(server.socket_path)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the fork server and remove the kernelspec."""
    os.environ.pop(SERVER_ENV, None)
    while _server:
        _server.pop().close()
    while _kernelspecs:
        shutil.rmtree(_kernelspecs.pop(), ignore_errors=True)
