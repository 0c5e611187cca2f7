"""``run``: execute the course's notebooks in order with papermill, each in a fresh kernel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from grading.execute import ExecutionOutcome, execute_notebook
from grading.paths import SOLUTIONS_DIR, course_notebooks
from mlops_kit.course import DEFAULT_CELL_TIMEOUT_S


def run_course(
    folder: Path = SOLUTIONS_DIR,
    out_dir: Path = Path("build/run"),
    data_dir: Path | None = None,
    variant: int = 0,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT_S,
    progress_bar: bool = True,
    only: Sequence[str] = (),
) -> dict[str, ExecutionOutcome]:
    """Execute every module notebook of ``folder`` (or ``only`` these, in course order).

    Executed copies and artifacts go to ``out_dir``. ``only`` names modules as ``grade --module`` does.
    """
    from grading.grade import select_modules
    from mlops_kit.data import SHIPPED_DATA_DIR

    found = course_notebooks(folder)
    if not found:
        raise FileNotFoundError(f"no course notebooks (NN_name.ipynb) in {folder}")
    notebooks = list(select_modules({path.stem: path for path in found}, only).values())
    out_dir = out_dir.resolve()
    artifacts_dir = out_dir / "artifacts"
    data_dir = (data_dir or SHIPPED_DATA_DIR).resolve()
    outcomes: dict[str, ExecutionOutcome] = {}
    for position, notebook in enumerate(notebooks, start=1):
        print(f"[{position}/{len(notebooks)}] {notebook.name}", flush=True)
        outcome = execute_notebook(
            notebook,
            out_dir / notebook.name,
            parameters={"DATA_DIR": str(data_dir), "ARTIFACTS_DIR": str(artifacts_dir), "VARIANT": variant},
            cwd=notebook.parent.resolve(),
            cell_timeout=cell_timeout,
            progress_bar=progress_bar,
        )
        print(f"    {outcome.status}: {outcome.message} ({outcome.seconds:.1f} s)", flush=True)
        outcomes[notebook.stem] = outcome
    return outcomes


def refresh_solution_outputs(
    folder: Path = SOLUTIONS_DIR, cell_timeout: float = DEFAULT_CELL_TIMEOUT_S, only: list[str] | None = None
) -> list[Path]:
    """Re-execute each solution notebook in place with its default parameters (what nbval compares).

    Uses nbclient directly, so the committed notebooks carry outputs but no papermill metadata.
    """
    import nbclient

    from grading.execute import use_course_kernel
    from grading.notebook_io import read_notebook, write_notebook
    from grading.paths import KERNEL_NAME
    from grading.steps.clear_outputs import clear_outputs

    use_course_kernel()
    written = []
    for notebook_path in course_notebooks(folder):
        if only and notebook_path.stem not in only and notebook_path.name not in only:
            continue
        notebook = clear_outputs(read_notebook(notebook_path))
        client = nbclient.NotebookClient(
            notebook,
            timeout=cell_timeout,
            kernel_name=KERNEL_NAME,
            resources={"metadata": {"path": str(notebook_path.parent.resolve())}},
        )
        client.execute()
        for cell in notebook.cells:
            cell.metadata.pop("execution", None)
        written.append(write_notebook(notebook, notebook_path))
        print(f"refreshed outputs of {notebook_path.name}", flush=True)
    return written
