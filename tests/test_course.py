"""The course spec is the one place its facts are written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_kit.course import MODULE_IDS, module_id

REPO = Path(__file__).resolve().parents[1]
PYTHON_SOURCES = ("mlops_kit", "grading", "tests")


def test_module_ids_are_the_solution_notebooks_in_order() -> None:
    stems = sorted(path.stem for path in (REPO / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert list(MODULE_IDS) == stems, "declare each solution notebook's stem in mlops_kit.course.MODULE_IDS, in order"
    assert [module_id(int(module[:2])) for module in MODULE_IDS] == list(MODULE_IDS)


@pytest.mark.parametrize("number", [0, len(MODULE_IDS) + 1, "1", True])
def test_an_unknown_module_number_is_named(number) -> None:
    with pytest.raises(ValueError, match=f"no module {number!r}; the course has modules 01_data_validation"):
        module_id(number)


def test_no_python_file_writes_a_module_id_again() -> None:
    """Module ids appear as text only in mlops_kit/course.py; everything else reads them from there."""
    pattern = re.compile(r"[\"'](?:" + "|".join(map(re.escape, MODULE_IDS)) + r")[\"']")
    copies = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in PYTHON_SOURCES
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "mlops_kit" / "course.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not copies, "module ids written out instead of read from mlops_kit.course: " + ", ".join(copies)
