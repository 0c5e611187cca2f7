"""Inside the grading sandbox, the standard devices work: a service started with stdin=DEVNULL must not fail."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from grading.sandbox import run_sandboxed, sandbox_env

PROBE = """
import subprocess, sys
with open("/dev/null", "w") as sink:
    sink.write("discarded")
assert len(open("/dev/urandom", "rb").read(16)) == 16
assert open("/dev/zero", "rb").read(4) == bytes(4)
done = subprocess.run([sys.executable, "-c", "print('child')"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
assert done.stdout.strip() == "child", done.stderr
open("devices-ok", "w").write("yes")
"""


def test_null_zero_and_urandom_work_in_the_sandbox(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    run = run_sandboxed([sys.executable, "-c", PROBE], sandbox, sandbox_env(sandbox), timeout=60)
    if str(run.isolation.get("namespaces", "none")).startswith("none"):
        pytest.skip(f"no namespaces on this machine: {run.isolation}")  # the devices are the host's own then
    assert run.returncode == 0, run.log_tail
    assert (sandbox / "devices-ok").read_text() == "yes"
