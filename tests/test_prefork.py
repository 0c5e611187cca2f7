"""Services forked from a warm parent (mlops_kit.serving.prefork) against services started as a new Python.

Real uvicorn processes on loopback, the shared SQLite registry of tests/serving_support.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import serving_support
from serving_support import MODEL, group_alive

from mlops_kit.serving import ServiceProcess, ServiceStartError, orders_json, prefork
from mlops_kit.serving.prefork import PREFORK_ENV, ForkedChild

registry = serving_support.registry
pytestmark = [*serving_support.SERVING_MARKS, pytest.mark.skipif(sys.platform != "linux", reason="Linux only")]
START_TIMEOUT = serving_support.START_TIMEOUT


@pytest.fixture(autouse=True)
def _prefork_on(monkeypatch) -> None:
    """These tests are about the warm path: on even where a run turned it off."""
    monkeypatch.setenv(PREFORK_ENV, "1")


def children(pid: int) -> list[int]:
    """Live child processes of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.05)
    return False


def test_a_forked_service_answers_as_a_new_python_does(registry, monkeypatch) -> None:
    orders = json.loads(orders_json(registry.orders.head(20)))
    monkeypatch.setenv(PREFORK_ENV, "0")
    cold = ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=START_TIMEOUT)
    try:
        assert isinstance(cold.process, subprocess.Popen)
        cold_answer, cold_metadata = cold.predict(orders).json(), cold.metadata()
    finally:
        cold_code = cold.stop()
    monkeypatch.setenv(PREFORK_ENV, "1")
    warm = ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=START_TIMEOUT)
    try:
        assert isinstance(warm.process, ForkedChild)
        parent = prefork._parents["mlops_kit.serving"].process.pid
        assert warm.pid in children(parent) and os.getpgid(warm.pid) == warm.pid  # a session of its own
        environ = Path(f"/proc/{warm.pid}/environ").read_bytes().split(b"\0")
        assert b"MLOPS_SERVICE_CONFIG=" + warm.config.model_dump_json().encode() in environ
        warm_answer, warm_metadata = warm.predict(orders).json(), warm.metadata()
        second = ServiceProcess.start(registry.uri, MODEL, version=registry.good, timeout=START_TIMEOUT)
        try:  # the same warm parent, a different model: nothing of the first service's state is shared
            assert second.process._parent is warm.process._parent
            assert second.metadata()["model_version"] == registry.good
        finally:
            second.stop()
    finally:
        code = warm.stop()
    assert code == cold_code == warm.process.returncode and not group_alive(warm.pid)  # as uvicorn ends on SIGTERM
    assert [p["late_probability"] for p in warm_answer["predictions"]] == [
        p["late_probability"] for p in cold_answer["predictions"]
    ]
    for facts in (cold_metadata, warm_metadata):
        for per_process in ("loaded_at", "pid", "load_seconds", "request_id"):
            facts.pop(per_process, None)
    assert warm_metadata == cold_metadata


def test_a_killed_forked_service_reports_its_signal(registry) -> None:
    service = ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=START_TIMEOUT)
    os.killpg(service.pid, 9)
    assert service.process.wait(10) == -9 and not service.running()
    assert service.stop() == -9 and not group_alive(service.pid)


def test_another_environment_gets_its_own_warm_parent_which_starts_nothing_for_an_expired_request(
    registry, monkeypatch
) -> None:
    first = ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=START_TIMEOUT)
    try:
        monkeypatch.setenv("MLFLOW_COURSE_TEST_MARKER", "MLflow's settings: the warm parent never imports MLflow")
        same = ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=START_TIMEOUT)
        same.stop()
        assert same.process._parent is first.process._parent
        monkeypatch.setenv("COURSE_TEST_MARKER", "another environment")
        with pytest.raises(ServiceStartError, match="not ready within 0.2 s .*nothing was started"):
            ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=0.2)  # a new warm parent, importing
        parent = prefork._parents["mlops_kit.serving"]
        assert parent is not first.process._parent
        assert parent.exit_code(1) is not None  # answered after it read the expired start
        assert children(parent.process.pid) == []
        second = ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=START_TIMEOUT)
        try:
            assert second.process._parent is parent  # the late reply did not break the conversation
            environ = Path(f"/proc/{second.pid}/environ").read_bytes().split(b"\0")
            assert b"COURSE_TEST_MARKER=another environment" in environ
            assert first.running() and first.metadata()["model_name"] == MODEL  # the old parent keeps its child
        finally:
            second.stop()
    finally:
        first.stop()


def test_a_dead_warm_parent_means_a_new_python(registry) -> None:
    service = ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=START_TIMEOUT)
    service.stop()
    parent = service.process._parent
    parent.process.kill()
    parent.process.wait()
    replacement = ServiceProcess.start(registry.uri, MODEL, alias="champion", timeout=START_TIMEOUT)
    try:
        assert replacement.metadata()["model_name"] == MODEL
    finally:
        replacement.stop()


def test_a_program_that_exits_without_stopping_its_services_leaves_nothing_running(registry, tmp_path) -> None:
    """A program that exits (``launched``: its first start made a new Python the warm parent), and one that is
    killed (``forked``: it preloaded the service's stack and forked its warm parent, as the grader's forked
    kernel does, and the start adopted it)."""
    script = tmp_path / "leaves.py"
    script.write_text(
        textwrap.dedent(f"""
        import json, os, sys
        from mlops_kit.serving import ServiceProcess, prefork
        forked = []
        if sys.argv[2] == "forked":
            prefork.preload("mlops_kit.serving")
            forked = prefork.fork_warm_parents()
        service = ServiceProcess.start({registry.uri!r}, {MODEL!r}, alias="champion", timeout={START_TIMEOUT})
        parent = prefork._parents["mlops_kit.serving"].process.pid
        with open(f"/proc/{{parent}}/cmdline", "rb") as cmdline:
            parent_argv = cmdline.read().decode().split("\\0")
        print(json.dumps({{"service": service.pid, "parent": parent, "forked": forked, "argv": parent_argv,
                           "ppid": int(open(f"/proc/{{parent}}/stat").read().rsplit(")", 1)[1].split()[1]),
                           "answered": service.metadata()["model_name"]}}))
        sys.stdout.flush()
        if sys.argv[1] == "killed":
            import os, signal
            os.kill(os.getpid(), signal.SIGKILL)  # no atexit: the warm parent learns it from the kernel
        """)
    )
    endings = {"exit": "launched", "killed": "forked"}
    tempdirs = {ending: tmp_path / f"tmp-{ending}" for ending in endings}
    for folder in tempdirs.values():
        folder.mkdir()
    runs = {
        ending: subprocess.Popen(
            [sys.executable, str(script), ending, warm_parent],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "TMPDIR": str(tempdirs[ending])},
        )
        for ending, warm_parent in endings.items()
    }
    for ending, run in runs.items():
        warm_parent = endings[ending]
        pids = json.loads(run.communicate(timeout=300)[0].strip().splitlines()[-1])
        assert pids["answered"] == MODEL and pids["ppid"] == run.pid
        if warm_parent == "forked":  # a fork of the program itself, not a new Python running prefork
            assert pids["forked"] == ["mlops_kit.serving"] and "mlops_kit.serving.prefork" not in pids["argv"]
        else:
            assert pids["forked"] == [] and "mlops_kit.serving.prefork" in pids["argv"]
        assert gone(pids["parent"]) and gone(pids["service"]), ending
        assert not group_alive(pids["service"]), ending
        assert list(tempdirs[ending].iterdir()) == [], f"{ending}: the program left files in its temporary folder"
