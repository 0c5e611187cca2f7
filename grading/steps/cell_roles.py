"""What each cell of a course notebook is: parameters, exercise (solution) or locked instructor cell.

The metadata lives under ``cell.metadata["course"]``; solutions mark the learner's part in code
with ``# BEGIN SOLUTION`` / ``# END SOLUTION`` lines.
"""

from __future__ import annotations

import hashlib

import nbformat

METADATA_KEY = "course"
BEGIN_SOLUTION = "# BEGIN SOLUTION"
END_SOLUTION = "# END SOLUTION"
STUB_PREFIX = "# STUB:"
PARAMETERS_TAG = "parameters"


def is_exercise(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell holding a solution region (learner-editable after release)."""
    if cell.cell_type != "code":
        return False
    marked = any(line.strip() == BEGIN_SOLUTION for line in cell.source.splitlines())
    return marked or bool(cell.metadata.get(METADATA_KEY, {}).get("exercise"))


def source_checksum(source: str) -> str:
    """sha256 of a cell's source, the lock that makes tampering detectable."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def is_locked(cell: nbformat.NotebookNode) -> bool:
    """True for an instructor cell the release locked."""
    return bool(cell.metadata.get(METADATA_KEY, {}).get("locked"))


def lock_intact(cell: nbformat.NotebookNode) -> bool:
    """True when a locked cell's source still matches its recorded checksum."""
    return cell.metadata.get(METADATA_KEY, {}).get("checksum") == source_checksum(cell.source)
