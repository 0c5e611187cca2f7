"""Release step: clear outputs and execution counts; drop execution metadata."""

from __future__ import annotations

import nbformat

TRANSIENT_METADATA = ("execution", "papermill", "ExecuteTime", "collapsed", "scrolled")


def clear_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove every output, execution count and per-run metadata entry."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in TRANSIENT_METADATA:
            cell.metadata.pop(key, None)
    notebook.metadata.pop("papermill", None)
    return notebook
