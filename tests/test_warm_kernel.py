"""nbval's warm kernels (grading.warm_kernel): forked from the fork server, interruptible, gone at shutdown;
a new kernel when no server answers. Real kernels through jupyter_client, as nbval starts them."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager

from grading.forkserver import ForkServer
from grading.warm_kernel import SERVER_ENV, WARM_KERNEL_NAME, kernelspec

pytestmark = pytest.mark.slow
PROBE = (  # whether scikit-learn was imported before the notebook's code, then the service warm parents it forked
    "import os, sys\nwarm = 'sklearn' in sys.modules\nfrom mlops_kit.serving import prefork\n"
    "print(os.getppid(), warm, os.getcwd(), ','.join(sorted(prefork._inherited)) or '-')"
)


@pytest.fixture
def warm_kernelspec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    kernelspec(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join([str(tmp_path / "jupyter"), os.environ.get("JUPYTER_PATH", "")]))
    return tmp_path


def _run(client, code: str, timeout: float = 60) -> tuple[str, dict]:
    """Execute ``code``; its stdout and its execute_reply's content."""
    message_id = client.execute(code)
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != message_id:
            continue
        if message["msg_type"] == "stream":
            out.append(message["content"]["text"])
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    return "".join(out), client.get_shell_msg(timeout=timeout)["content"]


@contextlib.contextmanager
def _kernel(folder: Path, now: bool = False) -> Iterator[tuple[KernelManager, object]]:
    """A kernel of the warm kernelspec started in ``folder`` as nbval starts one; shut down at the end (``now``:
    its launcher killed at once, as nbval ends its kernels)."""
    folder.mkdir()
    manager = KernelManager(kernel_name=WARM_KERNEL_NAME)
    manager.start_kernel(cwd=str(folder))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=now)


def test_a_warm_kernel_is_forked_from_the_server_interrupts_and_ends(
    fork_server: ForkServer, monkeypatch: pytest.MonkeyPatch, warm_kernelspec: Path
) -> None:
    fork_server.wait_ready()
    monkeypatch.setenv(SERVER_ENV, str(fork_server.socket_path))
    folder = warm_kernelspec / "notebooks"
    with _kernel(folder, now=True) as (manager, client):
        connection_file = Path(manager.connection_file)
        output, _ = _run(client, PROBE + "\nprint(os.getpid())")
        parent, warm, cwd, service_parents, pid = output.split()
        launcher = manager.provisioner.process.pid
        assert int(parent) != launcher and warm == "True", "forked from the warm server, not a new Python"
        assert service_parents == "mlops_kit.rollout,mlops_kit.serving", "its services' warm parents forked with it"
        assert cwd == str(folder), "in the folder nbval gave the kernel"
        started = time.monotonic()
        message_id = client.execute("import time\ntime.sleep(60)")
        time.sleep(1.0)
        manager.interrupt_kernel()  # interrupt_mode message: no signal to the launcher
        reply = client.get_shell_msg(timeout=30)["content"]
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
        assert time.monotonic() - started < 30 and message_id
        assert _run(client, "print(6 * 7)")[0] == "42\n", "the kernel goes on after an interrupt"
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "the forked kernel ends with its killed launcher"
    assert not list(connection_file.parent.glob(f"{connection_file.name}*.log")), "no log left beside it"


def test_without_a_server_the_launcher_becomes_a_new_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm_kernelspec: Path
) -> None:
    not_a_server = tmp_path / "socket"
    not_a_server.write_text("a file, not a listening socket")
    monkeypatch.setenv(SERVER_ENV, str(not_a_server))
    folder = warm_kernelspec / "notebooks"
    with _kernel(folder) as (manager, client):
        output, _ = _run(client, PROBE + "\nprint(os.getpid())")
        _parent, warm, cwd, service_parents, pid = output.split()
        assert int(pid) == manager.provisioner.process.pid and warm == "False", "the launcher itself, a new Python"
        assert service_parents == "-", "a new kernel forks no warm parent (its first start launches one)"
        assert cwd == str(folder)
