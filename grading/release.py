"""``release``: build learner notebooks (notebooks/) from the solutions (solutions/).

A chain of steps: strip solutions to stubs, clear outputs, lock instructor cells, check the
result is valid Python. ``stale_notebooks`` tells a test whether notebooks/ is out of date.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from grading.notebook_io import read_notebook, write_notebook
from grading.paths import NOTEBOOKS_DIR, SOLUTIONS_DIR, course_notebooks
from grading.steps import apply_steps
from grading.steps.check_syntax import check_syntax
from grading.steps.clear_outputs import clear_outputs
from grading.steps.lock_cells import lock_cells
from grading.steps.mark_cells import mark_cells
from grading.steps.strip_solutions import strip_solutions

# Mark and lock first: both recognise exercises by their solution markers, which stripping removes;
# marking before locking puts the marker under the lock's checksum.
RELEASE_STEPS = (mark_cells, lock_cells, strip_solutions, clear_outputs, check_syntax)


def release_notebook(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return the learner version of one solution notebook."""
    return apply_steps(nbformat.from_dict(solution), RELEASE_STEPS)


def released_text(solution_path: Path) -> str:
    """The exact file content ``release`` writes for ``solution_path``."""
    return nbformat.writes(release_notebook(read_notebook(solution_path))) + "\n"


def release(solutions_dir: Path = SOLUTIONS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Write notebooks_dir/<name>.ipynb for every solution; remove learner notebooks with no solution."""
    notebooks_dir.mkdir(parents=True, exist_ok=True)
    written = []
    sources = course_notebooks(solutions_dir)
    for solution_path in sources:
        target = notebooks_dir / solution_path.name
        write_notebook(release_notebook(read_notebook(solution_path)), target)
        written.append(target)
    names = {path.name for path in sources}
    for orphan in course_notebooks(notebooks_dir):
        if orphan.name not in names:
            orphan.unlink()
    return written


def stale_notebooks(solutions_dir: Path = SOLUTIONS_DIR, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """Names of learner notebooks that differ from a fresh release (or are missing/orphaned)."""
    stale = []
    sources = course_notebooks(solutions_dir)
    for solution_path in sources:
        target = notebooks_dir / solution_path.name
        if not target.is_file() or target.read_text(encoding="utf-8") != released_text(solution_path):
            stale.append(solution_path.name)
    names = {path.name for path in sources}
    stale += [path.name for path in course_notebooks(notebooks_dir) if path.name not in names]
    return stale
