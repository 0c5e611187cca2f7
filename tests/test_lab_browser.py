"""A learner's first five minutes, in a real browser: ``make lab``, open notebook 01, run all, see a self-check.

The test runs ``make lab`` itself, on a free loopback port with a token, rooted at a temporary
workspace (``LAB_WORKSPACE``: never the learner's ``workspace/``) and with Jupyter's runtime,
config and settings folders in the same temporary folder. It opens the released module-1 notebook
in JupyterLab, checks the kernel shown is the course kernel, runs all cells, and waits for a
self-check's "not done yet". It shuts the server down and checks that no process it started is left.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from browser_support import chromium, chromium_path, free_port

from grading.paths import REPO_ROOT
from mlops_kit.course import module_id

pytestmark = pytest.mark.xdist_group("lab")
KERNEL_DISPLAY_NAME = "MLOps course (Python 3.11)"
START_TIMEOUT_S = 90
RUN_TIMEOUT_MS = 120_000


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (kernels carry their runtime folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{entry.name}: {cmdline.strip()}")
    return found


def _run_all_cells(page: Any) -> None:
    """Run > Run All Cells, as a learner does; once more if no cell started (the menu item was not ready)."""
    started = (
        "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
        ".some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))"
    )
    for attempt in range(2):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        item = page.locator(".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel", has_text="Run All Cells")
        item.first.click(timeout=30_000)
        try:
            page.wait_for_function(started, timeout=30_000)
            return
        except Exception:
            if attempt:
                raise AssertionError(f"Run All Cells started no cell: {_diagnosis(page)}") from None
            page.keyboard.press("Escape")


def _diagnosis(page: Any) -> str:
    """What the page shows: prompts, kernel status and the text of any error output."""
    return page.evaluate(
        "() => JSON.stringify({"
        " prompts: [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim()),"
        " kernel: [...document.querySelectorAll('.jp-Notebook-ExecutionIndicator, .jp-Toolbar-kernelStatus')]"
        "   .map(e => e.getAttribute('title') || e.textContent),"
        " errors: [...document.querySelectorAll(\"[data-mime-type='application/vnd.jupyter.error']\")]"
        "   .map(e => e.textContent.slice(0, 500)),"
        " dialogs: [...document.querySelectorAll('.jp-Dialog')].map(e => e.textContent.slice(0, 300))})"
    )


def test_make_lab_runs_notebook_one_with_the_course_kernel(tmp_path: Path) -> None:
    chromium_path()  # fail plainly before starting anything when there is no browser
    (tmp_path / "datasets").symlink_to(REPO_ROOT / "datasets")  # the notebooks read ../datasets/v0/data
    workspace = tmp_path / "workspace"
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "MAKEFLAGS": "",
    }
    lab_args = (
        f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --ServerApp.port_retries=0 "
        f"--IdentityProvider.token={token}"
    )
    log = (tmp_path / "lab.log").open("wb")
    server = subprocess.Popen(
        # -o: never rebuild the environment under the running test session, even when a lock file is newer
        ["make", "--no-print-directory", "-o", ".venv/.course-installed", "lab", f"LAB_WORKSPACE={workspace}"]
        + [f"LAB_ARGS={lab_args}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(f"{base}/api/status?token={token}"):
            assert server.poll() is None, f"make lab ended ({server.returncode}): {(tmp_path / 'lab.log').read_text()}"
            assert time.monotonic() < deadline, f"JupyterLab did not answer in {START_TIMEOUT_S} s"
            time.sleep(0.5)
        notebook = f"{module_id(1)}.ipynb"
        assert (workspace / notebook).is_file(), "make lab did not create the learner's copy of notebook 01"
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/lab/tree/{notebook}?token={token}", timeout=60_000)
            panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
            panel.wait_for(timeout=60_000)
            kernel = panel.locator(".jp-KernelName, .jp-Toolbar-kernelName").first
            kernel.wait_for(timeout=30_000)
            page.wait_for_function(
                "name => [...document.querySelectorAll('.jp-KernelName, .jp-Toolbar-kernelName')]"
                ".some(e => e.textContent.trim() === name)",
                arg=KERNEL_DISPLAY_NAME,
                timeout=30_000,
            )
            assert kernel.inner_text().strip() == KERNEL_DISPLAY_NAME
            page.locator(".jp-Toolbar-kernelStatus, .jp-Notebook-ExecutionIndicator").first.wait_for(timeout=30_000)
            _run_all_cells(page)
            try:  # in the DOM's text: JupyterLab may skip painting cells outside the viewport
                page.wait_for_function(
                    "() => document.querySelector('.jp-Notebook').textContent.includes('not done yet')",
                    timeout=RUN_TIMEOUT_MS,
                )
            except Exception as error:
                raise AssertionError(f"no self-check message after Run All: {_diagnosis(page)}") from error
            # every code cell ran: each prompt shows an execution number, none is queued or blank
            page.wait_for_function(
                "() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];"
                " return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }",
                timeout=RUN_TIMEOUT_MS,
            )
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count()
            assert errors == 0, f"{errors} cells raised in JupyterLab"
            shots = REPO_ROOT / "build" / "site-shots"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "lab-notebook-01.png"))
    finally:
        request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except OSError:
            pass
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()
    # Nothing left: no process of the server's group, no kernel started from its runtime folder.
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.killpg(server.pid, 0)
    left = _processes_mentioning(str(tmp_path))
    assert not left, f"processes left running after the server stopped: {left}"
    assert not _answers(f"{base}/api/status?token={token}"), "the server still answers"
