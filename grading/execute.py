"""Execute one notebook with papermill in a fresh kernel and say plainly how it ended.

The kernel is its own process, so learner code that crashes, exits or hangs cannot take the
grader down; every way a run can end becomes an ``ExecutionOutcome``, never an exception.
Grading runs this module inside a sandbox (``python -P -m grading.execute REQUEST``, or ``main``
called in a fork of ``grading.forkserver``, see ``grading.sandbox``) and reads back the outcome as JSON; outputs are capped there, so a
notebook that prints 100 MB leaves a small executed copy.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from grading.paths import KERNEL_NAME

Status = Literal["ok", "error", "exit", "timeout", "dead_kernel", "not_run"]
STATUSES = ("ok", "error", "exit", "timeout", "dead_kernel", "not_run")
MAX_OUTPUT_BYTES = 2_000_000  # kept outputs per executed notebook; the rest is dropped with a note
MAX_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class ExecutionOutcome:
    """How a notebook run ended, with a message a learner can act on."""

    status: Status
    message: str
    seconds: float
    output_path: str
    cell_id: str | None = None  # the cell where execution stopped, if known

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
    fork_kernel: bool = False,
) -> ExecutionOutcome:
    """Run ``input_path`` with papermill, write the executed copy, classify the ending.

    ``fork_kernel``: the kernel is forked from this process (``grading.kernel_fork``), which pays
    only in a process that has already imported what notebooks use (``grading.forkserver``).
    """
    use_course_kernel()
    import papermill  # heavy: imported only when a notebook is really executed
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    output_path.parent.mkdir(parents=True, exist_ok=True)
    _track_running_cell()
    _RUNNING_CELL[0] = None
    started = time.perf_counter()

    def outcome(status: Status, message: str, cell_id: str | None = None) -> ExecutionOutcome:
        seconds = round(time.perf_counter() - started, 3)
        return ExecutionOutcome(status, message[:MAX_MESSAGE_CHARS], seconds, str(output_path), cell_id)

    seed = None
    if fork_kernel:
        from grading.kernel_fork import KernelSeed

        seed = KernelSeed.fork()
    manager = {"kernel_manager_class": seed.manager_class()} if seed else {}
    try:
        papermill.execute_notebook(
            str(input_path),
            str(output_path),
            **manager,
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(cwd),
            execution_timeout=cell_timeout,
            iopub_timeout=cell_timeout,  # a cell's remaining output may take a while to arrive (floods)
            progress_bar=progress_bar,
            log_output=False,
            report_mode=False,
        )
    except papermill.PapermillExecutionError as error:
        cell_id, where = stopped_at(input_path)
        first_line = str(error.evalue).strip().splitlines()[0] if str(error.evalue).strip() else ""
        if error.ename == "SystemExit":
            return outcome(
                "exit", f"the notebook called sys.exit({first_line}) in {where}; execution stopped there", cell_id
            )
        return outcome("error", f"{where} raised {error.ename}: {first_line}", cell_id)
    except (CellTimeoutError, TimeoutError) as error:
        cell_id, where = stopped_at(input_path)
        message = f"{where} ran longer than the {cell_timeout:g} s per-cell limit ({_first_line(error)})"
        return outcome("timeout", message, cell_id)
    except DeadKernelError as error:
        cell_id, where = stopped_at(input_path)
        return outcome(
            "dead_kernel",
            f"the kernel died in {where} (crash, os._exit or out of memory): {_first_line(error)}",
            cell_id,
        )
    except Exception as error:  # papermill/nbclient/jupyter_client raise many types; none may crash grading
        return outcome("error", f"the notebook could not be executed: {type(error).__name__}: {_first_line(error)}")
    finally:
        if seed is not None:
            seed.discard()
    problem = _unfinished_cell(output_path)
    if problem is not None:
        return outcome(*problem)
    return outcome("ok", "every cell ran")


INJECTED_TAG = "injected-parameters"  # papermill's cell: not in the learner's notebook, so not counted


def learner_cells(executed_path: Path) -> list[tuple[int, Any]]:
    """(number as the learner counts it in JupyterLab, cell) of the executed copy, papermill's cell left out."""
    import nbformat

    try:
        notebook = nbformat.read(executed_path, as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable copy just means "no location"
        return []
    cells = [cell for cell in notebook.cells if INJECTED_TAG not in cell.metadata.get("tags", [])]
    return list(enumerate(cells, start=1))


def describe_cell(number: int, cell: Any) -> str:
    """``cell 12 (m01-ex2)``: what a learner can find in their notebook."""
    return f"cell {number} ({cell.get('id', '?')})"


_RUNNING_CELL: list[str | None] = [None]  # id of the cell papermill started last, in this process


def _track_running_cell() -> None:
    """Record the id of each cell as papermill starts it (its saved copy can lag behind a crash)."""
    from papermill.engines import NotebookExecutionManager

    if getattr(NotebookExecutionManager.cell_start, "_course_tracked", False):
        return
    original = NotebookExecutionManager.cell_start

    def cell_start(self: Any, cell: Any, cell_index: int | None = None, **kwargs: Any) -> Any:
        _RUNNING_CELL[0] = cell.get("id")
        return original(self, cell, cell_index, **kwargs)

    cell_start._course_tracked = True  # type: ignore[attr-defined]
    NotebookExecutionManager.cell_start = cell_start  # type: ignore[method-assign]


def stopped_at(input_path: Path) -> tuple[str | None, str]:
    """The cell that was running when execution stopped, numbered as in the learner's notebook."""
    cell_id = _RUNNING_CELL[0]
    for number, cell in learner_cells(input_path):
        if cell.get("id") == cell_id:
            return cell_id, describe_cell(number, cell)
    return None, "a cell"


def _unfinished_cell(executed_path: Path) -> tuple[Status, str, str | None] | None:
    """Find an error the kernel reported as success (``sys.exit(0)``) or cells that never ran.

    papermill raises only when the kernel's reply says "error"; a cell can still leave an
    error output, and execution can stop early, without that. The executed copy tells the truth.
    """
    for number, cell in learner_cells(executed_path):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        where = describe_cell(number, cell)
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        if errors:
            name, value = errors[0].get("ename", "Error"), str(errors[0].get("evalue", ""))
            if name == "SystemExit":
                return "exit", f"the notebook called sys.exit({value}) in {where}; execution stopped there", cell.id
            return "error", f"{where} raised {name}: {value.splitlines()[0] if value else ''}", cell.id
        if cell.get("execution_count") is None:
            return "error", f"{where} was never executed; execution stopped before it", cell.id
    return None


def cap_outputs(limit_bytes: int = MAX_OUTPUT_BYTES) -> None:
    """Make nbclient keep at most ``limit_bytes`` of outputs per notebook (errors always kept).

    Past the limit, a cell's further outputs are dropped and one stream output says so.
    """
    from nbclient import NotebookClient

    if getattr(NotebookClient.output, "_course_capped", False):
        return
    original = NotebookClient.output

    def output(self: Any, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        content = msg.get("content", {})
        size = _output_size(content)
        used = getattr(self, "_course_output_bytes", 0)
        if msg.get("msg_type") == "error" or used + size <= limit_bytes:
            self._course_output_bytes = used + size
            return original(self, outs, msg, display_id, cell_index)
        room = limit_bytes - used
        if msg.get("msg_type") == "stream" and room > 0:  # keep the start of a long print
            self._course_output_bytes = limit_bytes
            original(
                self,
                outs,
                {**msg, "content": {**content, "text": str(content.get("text", ""))[:room]}},
                None,
                cell_index,
            )
        noted = self.__dict__.setdefault("_course_truncated_cells", set())
        if cell_index not in noted:
            noted.add(cell_index)
            from nbformat.v4 import new_output

            note = f"\n[grading: output truncated; a notebook keeps at most {limit_bytes} bytes of output]\n"
            outs.append(new_output("stream", name="stderr", text=note))
        return None

    output._course_capped = True  # type: ignore[attr-defined]
    NotebookClient.output = output  # type: ignore[method-assign]


def _output_size(content: dict[str, Any]) -> int:
    """Roughly how many bytes an output message adds to the notebook (without serialising it again)."""
    if "text" in content:
        return len(str(content["text"]))
    data = content.get("data", {})
    return sum(len(value) if isinstance(value, str) else len(json.dumps(value, default=str)) for value in data.values())


def read_outcome(path: Path, output_path: Path, max_bytes: int = 65_536) -> ExecutionOutcome | None:
    """Parse an outcome JSON written in the sandbox (so: untrusted); None if absent or malformed."""
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read(max_bytes))
        status, message, seconds = data["status"], str(data["message"]), float(data["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    cell_id = data.get("cell_id")
    if status not in STATUSES or not (cell_id is None or (isinstance(cell_id, str) and len(cell_id) <= 100)):
        return None
    return ExecutionOutcome(status, message[:MAX_MESSAGE_CHARS], round(seconds, 3), str(output_path), cell_id)


def main(argv: list[str]) -> int:
    """Inside the sandbox: execute the request (JSON in ``argv[1]``) and write its outcome as JSON."""
    request = json.loads(argv[1])
    cap_outputs(int(request.get("max_output_bytes", MAX_OUTPUT_BYTES)))
    outcome = execute_notebook(
        Path(request["input"]),
        Path(request["output"]),
        parameters=request["parameters"],
        cwd=Path(request["cwd"]),
        cell_timeout=float(request["cell_timeout"]),
        fork_kernel=bool(request.get("fork_kernel", False)),
    )
    Path(request["outcome"]).write_text(json.dumps(outcome.to_dict()), encoding="utf-8")
    return 0


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


if __name__ == "__main__":
    sys.exit(main(sys.argv))
