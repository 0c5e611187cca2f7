"""Release step: replace each solution region with a stub that keeps the kernel running.

A region is the lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION``. It becomes
``# YOUR CODE HERE`` at the region's indentation, followed by any ``# STUB: code`` lines
that come right after the region, uncommented (e.g. ``# STUB: return None``), so the
unsolved notebook still runs top to bottom.
"""

from __future__ import annotations

import nbformat

from grading.steps.cell_roles import BEGIN_SOLUTION, END_SOLUTION, STUB_PREFIX, is_exercise


class SolutionMarkerError(ValueError):
    """Unbalanced or nested solution markers in a solution notebook."""


def strip_source(source: str, where: str = "cell") -> str:
    """Return ``source`` with every solution region replaced by its stub."""
    lines = source.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.strip() == END_SOLUTION:
            raise SolutionMarkerError(f"{where}: '{END_SOLUTION}' without a matching begin")
        if line.strip() != BEGIN_SOLUTION:
            out.append(line)
            index += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        end = _find_end(lines, index, where)
        out.append(f"{indent}# YOUR CODE HERE")
        index = end + 1
        while index < len(lines) and lines[index].strip().startswith(STUB_PREFIX):
            stub_line = lines[index]
            stub_indent = stub_line[: len(stub_line) - len(stub_line.lstrip())]
            out.append(stub_indent + stub_line.strip()[len(STUB_PREFIX) :].strip())
            index += 1
    return "\n".join(out)


def _find_end(lines: list[str], begin: int, where: str) -> int:
    for index in range(begin + 1, len(lines)):
        marker = lines[index].strip()
        if marker == BEGIN_SOLUTION:
            raise SolutionMarkerError(f"{where}: nested '{BEGIN_SOLUTION}' at line {index + 1}")
        if marker == END_SOLUTION:
            return index
    raise SolutionMarkerError(f"{where}: '{BEGIN_SOLUTION}' at line {begin + 1} is never closed")


def strip_solutions(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Stub every solution region in the notebook's code cells."""
    for number, cell in enumerate(notebook.cells, start=1):
        if is_exercise(cell):
            cell.source = strip_source(cell.source, where=f"cell {number} ({cell.get('id', '?')})")
    return notebook
