"""Execute one notebook with papermill in a fresh kernel and say plainly how it ended.

The kernel is its own process, so learner code that crashes, exits or hangs cannot take the
grader down; every way a run can end becomes an ``ExecutionOutcome``, never an exception.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from grading.paths import KERNEL_NAME

Status = Literal["ok", "error", "exit", "timeout", "dead_kernel", "not_run"]


@dataclass(frozen=True)
class ExecutionOutcome:
    """How a notebook run ended, with a message a learner can act on."""

    status: Status
    message: str
    seconds: float
    output_path: str

    @property
    def ok(self) -> bool:
        """True when every cell ran without an error."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the scorecard."""
        return asdict(self)


def use_course_kernel() -> None:
    """Make Jupyter find the course kernel of this environment before any stale user-level one."""
    venv_kernels = str(Path(sys.prefix) / "share" / "jupyter")
    paths = os.environ.get("JUPYTER_PATH", "").split(os.pathsep)
    if venv_kernels not in paths:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([venv_kernels, *filter(None, paths)])
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def execute_notebook(
    input_path: Path,
    output_path: Path,
    parameters: dict[str, Any],
    cwd: Path,
    cell_timeout: float,
    progress_bar: bool = False,
) -> ExecutionOutcome:
    """Run ``input_path`` with papermill, write the executed copy, classify the ending."""
    use_course_kernel()
    import papermill  # heavy: imported only when a notebook is really executed
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    output_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def outcome(status: Status, message: str) -> ExecutionOutcome:
        return ExecutionOutcome(status, message, round(time.perf_counter() - started, 3), str(output_path))

    try:
        papermill.execute_notebook(
            str(input_path),
            str(output_path),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(cwd),
            execution_timeout=cell_timeout,
            progress_bar=progress_bar,
            log_output=False,
            report_mode=False,
        )
    except papermill.PapermillExecutionError as error:
        where = f"cell {error.exec_count}" if error.exec_count else f"cell #{error.cell_index + 1}"
        first_line = str(error.evalue).strip().splitlines()[0] if str(error.evalue).strip() else ""
        if error.ename == "SystemExit":
            return outcome("exit", f"the notebook called sys.exit({first_line}) in {where}; execution stopped there")
        return outcome("error", f"{where} raised {error.ename}: {first_line}"[:500])
    except (CellTimeoutError, TimeoutError) as error:
        return outcome(
            "timeout", f"a cell ran longer than the {cell_timeout:g} s per-cell limit ({_first_line(error)})"
        )
    except DeadKernelError as error:
        return outcome("dead_kernel", f"the kernel died (crash, os._exit or out of memory): {_first_line(error)}")
    except Exception as error:  # papermill/nbclient/jupyter_client raise many types; none may crash grading
        return outcome("error", f"the notebook could not be executed: {type(error).__name__}: {_first_line(error)}")
    problem = _unfinished_cell(output_path)
    if problem is not None:
        return outcome(*problem)
    return outcome("ok", "every cell ran")


def _unfinished_cell(executed_path: Path) -> tuple[Status, str] | None:
    """Find an error the kernel reported as success (``sys.exit(0)``) or cells that never ran.

    papermill raises only when the kernel's reply says "error"; a cell can still leave an
    error output, and execution can stop early, without that. The executed copy tells the truth.
    """
    import nbformat

    notebook = nbformat.read(executed_path, as_version=4)
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        if errors:
            name, value = errors[0].get("ename", "Error"), str(errors[0].get("evalue", ""))
            if name == "SystemExit":
                return "exit", f"the notebook called sys.exit({value}) in cell #{number}; execution stopped there"
            return "error", f"cell #{number} raised {name}: {value.splitlines()[0] if value else ''}"[:500]
        if cell.get("execution_count") is None:
            return "error", f"cell #{number} was never executed; execution stopped before it"
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
