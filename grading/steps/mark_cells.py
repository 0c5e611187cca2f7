"""Release step: make course cells and exercise cells look different in plain JupyterLab.

Every locked code cell starts with ``LOCKED_MARKER``; every exercise cell with ``EXERCISE_MARKER``;
exercise headings (``## Exercise N``) get a pencil, so the table of contents shows where to work.
No extension needed: the first line is what a learner sees. Runs before ``lock_cells``, so the
checksum covers the marker, and is idempotent.
"""

from __future__ import annotations

import nbformat

from grading.steps.cell_roles import is_exercise

LOCKED_MARKER = "# 🔒 course cell: run it, don't edit it (edits are discarded at grading)"
EXERCISE_MARKER = "# ✏️ YOUR EXERCISE: this cell is yours to edit (graded)"
MARKERS = (LOCKED_MARKER, EXERCISE_MARKER)
EXERCISE_HEADING = "## Exercise"
HEADING_MARK = "✏️ "


def without_marker(source: str) -> str:
    """``source`` without a leading course marker line."""
    first, _, rest = source.partition("\n")
    return rest if first in MARKERS else source


def unmarked(source: str) -> str:
    """``source`` as it was before ``mark_cells``: what an edit is judged against."""
    source = without_marker(source)
    marked_heading = f"{EXERCISE_HEADING.removesuffix('Exercise')}{HEADING_MARK}Exercise"
    return source.replace(marked_heading, EXERCISE_HEADING, 1) if source.startswith(marked_heading) else source


def mark_cells(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Prefix each code cell with the marker of its role; mark exercise headings."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith(EXERCISE_HEADING):
            cell.source = cell.source.replace("## ", f"## {HEADING_MARK}", 1)
        if cell.cell_type != "code":
            continue
        marker = EXERCISE_MARKER if is_exercise(cell) else LOCKED_MARKER
        cell.source = f"{marker}\n{without_marker(cell.source)}"
    return notebook
