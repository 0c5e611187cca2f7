"""Notebook transformations, one per file; commands chain them (see grading.release).

A step is a function ``step(notebook) -> notebook`` that changes one thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import nbformat

Step = Callable[[nbformat.NotebookNode], nbformat.NotebookNode]


def apply_steps(notebook: nbformat.NotebookNode, steps: Iterable[Step]) -> nbformat.NotebookNode:
    """Run ``steps`` over ``notebook`` in order and return the result."""
    for step in steps:
        notebook = step(notebook)
    return notebook
