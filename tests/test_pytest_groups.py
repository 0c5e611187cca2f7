"""The xdist_group plugin: grouped tests and one notebook's nbval cells each run on one worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

TESTS = """
import os, pytest
from pathlib import Path

def _record(name):
    Path(os.environ["WORKER_LOG"], name).write_text(os.environ.get("PYTEST_XDIST_WORKER", "none"))

@pytest.mark.xdist_group("pair")
@pytest.mark.parametrize("n", range(6))
def test_grouped(n):
    _record(f"grouped{n}")

@pytest.mark.parametrize("n", range(6))
def test_free(n):
    _record(f"free{n}")
"""


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "grading.pytest_groups", *args]
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=300, env={**os.environ, "WORKER_LOG": str(folder)}
    )


def test_grouped_tests_share_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    completed = _run(tmp_path, "-n", "2", "--dist", "loadgroup", "test_sample.py")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    workers = {path.name: path.read_text() for path in tmp_path.iterdir() if path.name.startswith(("grouped", "free"))}
    grouped = {workers[f"grouped{n}"] for n in range(6)}
    assert len(grouped) == 1 and grouped != {"none"}, workers


def test_a_folders_notebooks_run_in_order_on_one_worker(tmp_path: Path) -> None:
    """Each notebook's cells share one kernel; the second notebook sees the file the first one wrote."""
    chain = [f"value = {n} if {n} == 0 else value + 1" for n in range(6)]
    sources = {
        "01_first": [*chain, "import time; time.sleep(2); open('made-by-01', 'w').close()"],
        "02_second": ["import os; assert os.path.exists('made-by-01'), 'ran before 01 ended'", *chain],
    }
    for stem, cells in sources.items():
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, tmp_path / f"{stem}.ipynb")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    completed = _run(tmp_path, "-n", "2", "--dist", "loadgroup", "--nbval-lax", "-vv", ".")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    ran = [line.split()[0] for line in completed.stdout.splitlines() if line.startswith("[gw") and "PASSED" in line]
    assert len(ran) == 14 and len(set(ran)) == 1, json.dumps(ran)
