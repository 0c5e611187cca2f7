"""pytest plugin (loaded by ``addopts`` in pyproject.toml): ``xdist_group`` marks that work on pytest 9.2.

``make test`` runs the test suite and nbval on the solution notebooks in one ``pytest -n 3 --dist loadgroup``
session. Two things make that work:

- every cell of the notebooks of one folder joins the group ``nbval-<folder>``: nbval's cells of a notebook
  share one kernel and must run in order in one process, and the course's notebooks run in course order
  (module 2 uses module 1's output when it is there), so a folder of notebooks is one unit of work;
- pytest 9.2 keeps node ids in ``Item._id``, and pytest-xdist 3.8.0 still writes the group suffix into the
  old ``_nodeid`` attribute, which pytest no longer reads: without this plugin no ``xdist_group`` mark has
  any effect (module fixtures are then built once per worker, and notebook cells are scattered).
"""

from __future__ import annotations

import pytest
from _pytest.nodeid import NodeId


def _groups(item: pytest.Item) -> set[str]:
    return {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }


def _has_group_suffix(nodeid: str) -> bool:
    return nodeid.rfind("@") > nodeid.rfind("]")  # the test xdist's loadgroup scheduler applies


def pytest_configure(config: pytest.Config) -> None:
    """Declare the mark, so a run without xdist (``-p no:xdist``) does not warn about it."""
    config.addinivalue_line("markers", "xdist_group(name): run the tests of this group on one xdist worker")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group notebook cells by folder; under ``--dist loadgroup``, put each item's groups into its node id."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(f"nbval-{item.path.parent.name}"))
    if not getattr(config.option, "loadgroup", False):  # set by xdist on the workers of a --dist loadgroup run
        return
    for item in items:
        groups = _groups(item)
        if groups and not _has_group_suffix(item.nodeid):
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(groups))}")
