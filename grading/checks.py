"""Run a module's artifact tests in a separate pytest process and read back their results.

The process (``python -P``, or a fork of the fork server, whose import path is the same) runs in a
folder of the grader's own, so nothing the notebook left in its sandbox (a ``pandas.py``, a
``conftest.py``) is ever imported; results come back as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grading.forkserver import ForkServerError
from grading.paths import ARTIFACT_TESTS_DIR

if TYPE_CHECKING:
    from grading.forkserver import ForkServer

CHECKS_TIMEOUT_SECONDS = 300
RESULTS_FILE = "checks.json"


def artifact_test_file(module_id: str) -> Path:
    """The artifact test file of a module: ``grading/artifact_tests/test_<module id>.py``."""
    return ARTIFACT_TESTS_DIR / f"test_{module_id}.py"


def run_artifact_checks(
    module_id: str,
    artifacts_dir: Path,
    data_dir: Path,
    variant_dir: Path,
    variant: int,
    log_path: Path,
    server: ForkServer | None = None,
) -> list[dict[str, Any]]:
    """Return ``[{name, passed, points, max_points, message}]``; never raises for a bad run.

    pytest's output goes to ``log_path`` (a file of the grader's, outside any sandbox). With a fork
    server, pytest runs in a process forked from its warm image instead of a new Python (a new one
    if the server cannot answer).
    """
    test_file = artifact_test_file(module_id)
    if not test_file.is_file():
        return [_grader_failure(f"no artifact tests for module {module_id} ({test_file} is missing)")]
    with tempfile.TemporaryDirectory(prefix="grading-checks-") as private:
        arguments = _pytest_arguments(test_file, artifacts_dir, data_dir, variant_dir, variant, Path(private))
        return _run_pytest(arguments, Path(private), log_path, server)


def _pytest_arguments(
    test_file: Path, artifacts_dir: Path, data_dir: Path, variant_dir: Path, variant: int, work_dir: Path
) -> list[str]:
    return [
        str(test_file),
        "-q",
        "-p",
        "no:cacheprovider",
        f"--rootdir={ARTIFACT_TESTS_DIR}",
        f"--confcutdir={ARTIFACT_TESTS_DIR}",  # never a conftest.py the notebook left in its artifacts
        "-c",
        str(ARTIFACT_TESTS_DIR / "pytest.ini"),
        # NAME=VALUE: pytest takes a bare argument that is a folder as a place to look for conftest.py
        f"--artifacts-dir={artifacts_dir}",
        f"--data-dir={data_dir}",
        f"--variant-dir={variant_dir}",
        f"--variant={variant}",
        f"--results-json={work_dir / RESULTS_FILE}",
    ]


def _run_pytest(
    arguments: list[str], work_dir: Path, log_path: Path, server: ForkServer | None
) -> list[dict[str, Any]]:
    results_path = work_dir / RESULTS_FILE
    # the artifact tests need no installed pytest plugin; autoloading them (nbval & co.) costs ~3 s
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    reply = None
    if server is not None:
        log_path.write_bytes(b"")
        with contextlib.suppress(ForkServerError):  # a server that cannot answer: a new Python, below
            reply = server.run(
                "checks", {"argv": arguments, "cwd": str(work_dir), "env": env}, log_path, CHECKS_TIMEOUT_SECONDS
            )
    if reply is not None:
        if reply.timed_out:
            return [_grader_failure(f"the artifact tests took longer than {CHECKS_TIMEOUT_SECONDS} s")]
        returncode = reply.returncode
        output = log_path.read_text(encoding="utf-8", errors="replace")
    else:
        command = [sys.executable, "-P", "-m", "pytest", *arguments]
        try:
            completed = subprocess.run(
                command, cwd=work_dir, capture_output=True, text=True, timeout=CHECKS_TIMEOUT_SECONDS, env=env
            )
        except subprocess.TimeoutExpired:
            return [_grader_failure(f"the artifact tests took longer than {CHECKS_TIMEOUT_SECONDS} s")]
        returncode, output = completed.returncode, completed.stdout + completed.stderr
        log_path.write_text(output, encoding="utf-8")
    if not results_path.is_file():
        tail = output.strip().splitlines()[-3:]
        return [_grader_failure(f"the artifact tests did not run (exit {returncode}): {' | '.join(tail)}")]
    return json.loads(results_path.read_text(encoding="utf-8"))["checks"]


def _grader_failure(message: str) -> dict[str, Any]:
    return {"name": "artifact_tests", "passed": False, "points": 0, "max_points": 0, "message": message}
