"""The fork server (``grading.forkserver``): a forked kernel acts as a new one, only the user that
started the server reaches it, and nothing a run started outlives it, its timeout or the server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import pytest

from grading.forkserver import SOCKET_ENV, ForkServer, ForkServerError
from grading.grade import grade_submission
from grading.paths import SOLUTIONS_DIR
from grading.sandbox import WarmCommand, run_sandboxed, sandbox_env
from grading.secret import GradingSecret
from grading.synthetic_cohort import processes_with
from mlops_kit.course import module_id

pytestmark = pytest.mark.slow
MODULE1 = module_id(1)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes with their own user and namespaces need root")

PROBE_CELLS = [
    "import os, sys\nimport numpy as np, pandas as pd\nimport matplotlib.pyplot as plt",
    "pd.DataFrame({f'column_{i}': range(3) for i in range(30)})",  # wide: pandas' kernel display
    "plt.plot([1, 2, 3]); plt.show()",  # inline figure
    "print(os.getcwd() == PROBE_CWD or os.getcwd(), '' in sys.path, os.getsid(0) == os.getpid())",
    "print(np.random.rand())",
]
RUN_BOTH = """
import json, sys
from grading.forkserver import warm_up
from grading.execute import execute_notebook
warm_up()  # this process is now what the fork server is
from pathlib import Path
work = Path(sys.argv[1])
for name, fork in (("forked-1", True), ("forked-2", True), ("new", False)):
    outcome = execute_notebook(work / "probe.ipynb", work / f"{name}.ipynb", {}, cwd=work, cell_timeout=60, fork_kernel=fork)
    assert outcome.ok, outcome
"""


def _outputs(path: Path) -> list[list[dict]]:
    notebook = nbformat.read(path, as_version=4)
    return [[dict(output) for output in cell.outputs] for cell in notebook.cells if cell.cell_type == "code"]


def test_a_forked_kernel_runs_a_notebook_as_a_new_kernel_does(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "mlops-course", "language": "python", "display_name": "course"}}
    )
    notebook.cells = [nbformat.v4.new_code_cell(f"PROBE_CWD = {str(tmp_path)!r}")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in PROBE_CELLS]
    nbformat.write(notebook, tmp_path / "probe.ipynb")
    subprocess.run([sys.executable, "-c", RUN_BOTH, str(tmp_path)], check=True, timeout=300)
    forked, again, new = (_outputs(tmp_path / f"{name}.ipynb") for name in ("forked-1", "forked-2", "new"))
    table, figure, where, draw = (1 + PROBE_CELLS.index(cell) for cell in PROBE_CELLS[1:])
    assert forked[table] == new[table], "a wide DataFrame displays as in a new kernel"
    assert "image/png" in forked[figure][0]["data"] and "image/png" in new[figure][0]["data"]
    assert forked[where][0]["text"] == new[where][0]["text"] == "True True True\n"
    assert forked[draw] != again[draw], "two forked kernels must not share numpy's random state"


@pytest.fixture
def server(fork_server: ForkServer) -> ForkServer:
    """The session's fork server (tests/grading_support.py), ready: these tests never stop it."""
    fork_server.wait_ready()
    return fork_server


def _assert_gone(marker: str, within_s: float = 10.0) -> None:
    """No process holds ``marker`` within a few seconds (a SIGKILLed process takes a moment to go)."""
    deadline = time.monotonic() + within_s
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []


def _sandbox(tmp_path: Path) -> Path:
    sandbox = tmp_path / "sandbox"
    (sandbox / "home").mkdir(parents=True)
    return sandbox


@needs_root
def test_a_warm_command_runs_in_the_sandbox_as_its_own_user(server: ForkServer, tmp_path: Path) -> None:
    sandbox = _sandbox(tmp_path)
    script = "test $(id -u) -ne 0 && test ! -e /tmp/grading-forkserver-* && echo inside > seen.txt && exit 3"
    command = WarmCommand(server, "subprocess", "call", ["/bin/sh", "-c", script])
    run = run_sandboxed([], sandbox, sandbox_env(sandbox / "home"), timeout=60, warm=command)
    assert (run.returncode, run.timed_out) == (3, False), run.log_tail
    assert (sandbox / "seen.txt").read_text() == "inside\n"
    assert run.isolation["namespaces"].startswith("mount, pid, network")


@needs_root
def test_a_run_past_its_timeout_ends_with_everything_it_started(
    server: ForkServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = _sandbox(tmp_path)
    grader_tmp = tmp_path / "grader-tmp"
    grader_tmp.mkdir()
    system_tmp = Path(tempfile.gettempdir())
    jail_roots = {path.name for path in system_tmp.glob("course-jail-*")}  # where the jail's root used to go
    monkeypatch.setattr(tempfile, "tempdir", str(grader_tmp))  # where the grader's private folder goes
    marker = f"forkserver-survivor-{os.getpid()}-{tmp_path.name}"
    daemon = f"setsid {sys.executable} -c 'import time; time.sleep(300)' {marker} &"
    command = WarmCommand(server, "subprocess", "call", ["/bin/sh", "-c", f"{daemon} exec sleep 300"])
    started = time.monotonic()
    run = run_sandboxed([], sandbox, sandbox_env(sandbox / "home"), timeout=3, warm=command)
    assert run.timed_out and time.monotonic() - started < 60
    _assert_gone(marker)
    assert list(grader_tmp.iterdir()) == [], "the grader's private folder outlived the run"
    assert {path.name for path in system_tmp.glob("course-jail-*")} <= jail_roots, "the killed jail left its root"


@needs_root
def test_only_the_user_that_started_it_may_connect(server: ForkServer) -> None:
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # another user, as a sandbox's learner would be without namespaces
        os.close(read_end)
        outcome = "connected"
        try:
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(str(server.socket_path))
        except OSError as error:
            outcome = type(error).__name__
        os.write(write_end, outcome.encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    assert os.read(read_end, 100).decode() == "PermissionError"
    os.close(read_end)


def test_closing_the_server_ends_its_runs_and_itself(tmp_path: Path) -> None:
    marker = f"forkserver-orphan-{os.getpid()}-{tmp_path.name}"
    test_file = tmp_path / "test_sleeps.py"
    test_file.write_text(
        textwrap.dedent(f"""
            import subprocess, sys, time
            def test_sleeps():
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", {marker!r}])
                time.sleep(300)
            """)
    )
    server = ForkServer.start([MODULE1])  # a module 1 server: it imports what pytest runs need, no more
    answers: list[object] = []

    def run() -> None:
        request = {"argv": [str(test_file), "-q", "-p", "no:cacheprovider"], "cwd": str(tmp_path), "env": {}}
        try:
            answers.append(server.run("checks", request, tmp_path / "checks.log", timeout=600))
        except ForkServerError as error:
            answers.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while not processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker), "the run never started"
    server_pid = server._process.pid
    server.close()
    thread.join(timeout=30)
    assert not thread.is_alive() and isinstance(answers[0], ForkServerError)
    _assert_gone(marker)
    assert not Path(f"/proc/{server_pid}").exists() and not server.socket_path.exists()


def test_a_server_answers_a_checks_run_with_its_exit_code(server: ForkServer, tmp_path: Path) -> None:
    test_file = tmp_path / "test_fails.py"
    test_file.write_text("def test_fails():\n    assert 1 == 2, 'expected failure'\n")
    request = {"argv": [str(test_file), "-q", "-p", "no:cacheprovider"], "cwd": str(tmp_path), "env": {}}
    reply = server.run("checks", request, tmp_path / "checks.log", timeout=120)
    assert (reply.returncode, reply.timed_out) == (1, False)
    assert "expected failure" in (tmp_path / "checks.log").read_text()
    assert json.loads(json.dumps(reply.__dict__)) == {"returncode": 1, "timed_out": False}


def test_grading_starts_cold_when_the_fork_server_cannot_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_server = tmp_path / "socket"
    not_a_server.write_text("a file, not a listening socket")
    monkeypatch.setenv(SOCKET_ENV, str(not_a_server))
    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copy(SOLUTIONS_DIR / f"{MODULE1}.ipynb", submission)
    card = grade_submission(submission, 2, tmp_path / "out", secret=GradingSecret("fallback-test", "test")).card
    entry = card["modules"][MODULE1]
    assert entry["execution"]["status"] == "ok" and entry["points"] == entry["max_points"] > 0, entry


def test_a_server_whose_owner_is_killed_ends_and_removes_its_folder(tmp_path: Path) -> None:
    owner_code = textwrap.dedent(f"""
        import time
        from grading.forkserver import ForkServer
        server = ForkServer.start([{MODULE1!r}])
        server.wait_ready()
        print(server.socket_path.parent, server._process.pid, flush=True)
        time.sleep(300)
        """)
    owner = subprocess.Popen([sys.executable, "-c", owner_code], stdout=subprocess.PIPE, text=True)
    try:
        folder, pid = owner.stdout.readline().split()
        assert Path(folder).is_dir()
    finally:
        owner.kill()  # as a gradebook stopped with kill -9: no clean-up of its own
        owner.wait()
        owner.stdout.close()
    deadline = time.monotonic() + 20
    while (Path(folder).exists() or Path(f"/proc/{pid}").exists()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(folder).exists(), "the server's folder (its socket) is left behind"
    assert not Path(f"/proc/{pid}").exists(), "the server outlives its owner"
