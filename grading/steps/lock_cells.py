"""Release step: lock every instructor cell (all but exercises) with a checksum of its source.

Locked cells are also marked non-editable and non-deletable for JupyterLab, so a learner
does not change them by accident; the checksum makes a deliberate change detectable.
"""

from __future__ import annotations

import nbformat

from grading.steps.cell_roles import METADATA_KEY, is_exercise, source_checksum


def lock_cells(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Mark exercises editable and every other cell locked, with its source checksum."""
    for cell in notebook.cells:
        course = dict(cell.metadata.get(METADATA_KEY, {}))
        if is_exercise(cell):
            course.update(exercise=True, locked=False)
            course.pop("checksum", None)
            cell.metadata.pop("editable", None)
            cell.metadata.pop("deletable", None)
        else:
            course.update(locked=True, checksum=source_checksum(cell.source))
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
        cell.metadata[METADATA_KEY] = course
    return notebook
