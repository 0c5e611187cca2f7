"""Grading step: rebuild a submission on the released notebook, keeping only the learner's work.

Locked instructor cells come from the official release, whatever the submission holds, so
editing a check or the artifact-writing cell changes nothing. Exercise cells come from the
submission (matched by cell id), as do cells the learner added, in the learner's order.
Every difference is reported so the scorecard can say what was restored.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat

from grading.steps.cell_roles import is_locked
from grading.steps.mark_cells import unmarked


@dataclass
class RestoreReport:
    """What was changed to put the released instructor cells back."""

    restored: list[str] = field(default_factory=list)
    reinserted: list[str] = field(default_factory=list)

    @property
    def tampered(self) -> bool:
        """True when a locked cell was edited or removed (the scorecard's tamper flag)."""
        return bool(self.restored or self.reinserted)

    def messages(self) -> list[str]:
        """Human-readable lines for the scorecard."""
        lines = [f"locked cell {cell_id} was edited; the released version was used" for cell_id in self.restored]
        lines += [f"locked cell {cell_id} was missing; the released version was used" for cell_id in self.reinserted]
        return lines


def restore_locked(
    official: nbformat.NotebookNode, submission: nbformat.NotebookNode
) -> tuple[nbformat.NotebookNode, RestoreReport]:
    """Return the submission with every locked cell of ``official`` in place and untouched."""
    report = RestoreReport()
    official_locked = {cell.id: cell for cell in official.cells if is_locked(cell)}
    merged = copy.deepcopy(official)
    merged.cells = []
    seen: set[str] = set()
    for cell in submission.cells:
        cell_id = cell.get("id")
        if cell_id in official_locked:
            original = official_locked[cell_id]
            if unmarked(cell.source) != unmarked(
                original.source
            ):  # compared with the release; a solution has no markers
                report.restored.append(cell_id)
            merged.cells.append(copy.deepcopy(original))
            seen.add(cell_id)
        elif is_locked(cell):
            continue  # a locked cell that is not in the release (renamed id): drop, the real one is re-inserted
        else:
            merged.cells.append(copy.deepcopy(cell))
    _reinsert_missing(official, merged, seen, report)
    return merged, report


def _reinsert_missing(
    official: nbformat.NotebookNode,
    merged: nbformat.NotebookNode,
    seen: set[str],
    report: RestoreReport,
) -> None:
    """Put back locked cells the learner deleted, right after their released predecessor."""
    for position, cell in enumerate(official.cells):
        if not is_locked(cell) or cell.id in seen:
            continue
        anchor_ids = [previous.id for previous in official.cells[:position]]
        insert_at = 0
        for index, present in enumerate(merged.cells):
            if present.get("id") in anchor_ids:
                insert_at = index + 1
        merged.cells.insert(insert_at, copy.deepcopy(cell))
        seen.add(cell.id)
        report.reinserted.append(cell.id)
