"""Release step: every code cell must still be valid Python after stubbing."""

from __future__ import annotations

import ast

import nbformat

from grading.steps.strip_solutions import SolutionMarkerError


def _python_only(source: str) -> str:
    """Drop IPython magics and shell escapes, which are not Python syntax."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def check_syntax(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Raise SolutionMarkerError naming the cell whose (stubbed) code does not parse."""
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        try:
            ast.parse(_python_only(cell.source))
        except SyntaxError as error:
            raise SolutionMarkerError(
                f"cell {number} ({cell.get('id', '?')}) is not valid Python after release, "
                f"line {error.lineno}: {error.msg}; add a '# STUB: ...' line after the solution"
            ) from error
    return notebook
