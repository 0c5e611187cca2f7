"""Where the course's folders are, and which notebooks make up the course."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
# The learner's own copies (git-ignored): created from notebooks/ by `make lab`, never overwritten.
WORKSPACE_DIR = REPO_ROOT / "workspace"
ARTIFACT_TESTS_DIR = Path(__file__).resolve().parent / "artifact_tests"
KERNEL_NAME = "mlops-course"


def course_notebooks(folder: Path) -> list[Path]:
    """The module notebooks in ``folder`` (``NN_name.ipynb``), in course order."""
    return sorted(path for path in folder.glob("[0-9][0-9]_*.ipynb") if path.is_file())


def module_id(notebook: Path) -> str:
    """A module's id is its notebook's stem, e.g. ``01_data_validation``."""
    return notebook.stem
