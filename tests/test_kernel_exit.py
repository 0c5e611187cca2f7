"""What importing mlops_kit does to a process: offline MLflow, and a notebook kernel that exits at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

CYCLE_AT_EXIT = textwrap.dedent(
    """
    import os, sys, types
    if sys.argv[1] == "kernel":
        sys.modules["ipykernel"] = types.ModuleType("ipykernel")  # what a notebook's kernel has loaded
    import mlops_kit

    class Node:
        def __del__(self):
            os.write(1, b"collected at exit")

    node = Node()
    node.self = node  # a cycle: only the garbage collector frees it
    del node
    import gc
    gc.disable()  # nothing collects it before the interpreter's own pass at exit
    """
)


@pytest.mark.parametrize(("process", "collected"), [("kernel", False), ("script", True)])
def test_a_kernel_skips_the_garbage_collection_at_exit_and_other_processes_keep_it(process, collected) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CYCLE_AT_EXIT, process], capture_output=True, text=True, timeout=60, check=True
    )
    assert ("collected at exit" in done.stdout) is collected, done.stdout


def test_importing_the_course_turns_mlflow_telemetry_off() -> None:
    """As on a learner's laptop: not under pytest or CI (MLflow turns telemetry off there by itself). Only the
    course's own case is run: a process with telemetry on would try the network."""
    quiet_markers = ("PYTEST_CURRENT_TEST", "CI", "GITHUB_ACTIONS", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")
    laptop = {name: value for name, value in os.environ.items() if name not in quiet_markers}
    probe = subprocess.run(
        [sys.executable, "-c", "from mlflow.telemetry.utils import _is_ci_env_or_testing as t; print(t())"],
        capture_output=True,
        text=True,
        timeout=120,
        env=laptop,
    )
    assert probe.stdout.strip() == "False", "the laptop environment still looks like CI to MLflow"
    code = "import mlops_kit, mlflow; from mlflow.telemetry.client import get_telemetry_client as c; print(c() is None)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=laptop)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True", "importing mlops_kit first turns it off"
