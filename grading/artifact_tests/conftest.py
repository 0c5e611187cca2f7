"""Options, fixtures and the points/results plugin for the artifact tests.

Run by the grader as::

    python -m pytest grading/artifact_tests/test_<module>.py --artifacts-dir A --data-dir D \
        --variant-dir V --variant N --results-json R

Each test carries ``@pytest.mark.points(n)``; its assertion message is what the learner reads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mlops_kit.io import atomic_write_json


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("course artifacts")
    group.addoption("--artifacts-dir", type=Path, help="the ARTIFACTS_DIR the notebook wrote to")
    group.addoption("--data-dir", type=Path, help="the DATA_DIR the notebook read")
    group.addoption("--variant-dir", type=Path, help="the generated variant, ledger included (grader-private)")
    group.addoption("--variant", type=int, help="the graded data variant")
    group.addoption("--results-json", type=Path, help="where to write per-check results")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): points a passing check is worth")
    config.pluginmanager.register(CheckResults(config.getoption("results_json")), "course-check-results")


def _required(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name)
    if value is None:
        raise pytest.UsageError(f"--{name.replace('_', '-')} is required for the artifact tests")
    return value


@pytest.fixture(scope="session")
def artifacts_dir(pytestconfig: pytest.Config) -> Path:
    return _required(pytestconfig, "artifacts_dir")


@pytest.fixture(scope="session")
def data_dir(pytestconfig: pytest.Config) -> Path:
    return _required(pytestconfig, "data_dir")


@pytest.fixture(scope="session")
def variant_dir(pytestconfig: pytest.Config) -> Path:
    return _required(pytestconfig, "variant_dir")


@pytest.fixture(scope="session")
def variant(pytestconfig: pytest.Config) -> int:
    return _required(pytestconfig, "variant")


def points_of(item: pytest.Item) -> int:
    """Points a check is worth (its ``points`` marker, default 1)."""
    marker = item.get_closest_marker("points")
    return int(marker.args[0]) if marker and marker.args else 1


def check_name(item: pytest.Item) -> str:
    """The scorecard name of a check: the test name without ``test_``."""
    return item.name.removeprefix("test_")


def exercise_of(item: pytest.Item) -> int | None:
    """The exercise a check scores (docstring ``Exercise N: ...``); None for checks of the whole module."""
    match = re.match(r"Exercise (\d+)\b", describe(item))
    return int(match.group(1)) if match else None


def describe(item: pytest.Item) -> str:
    """First line of the test's docstring: what a passing check means."""
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else "passed"


def failure_message(report: pytest.TestReport) -> str:
    """The assertion's own message, without pytest's expression introspection."""
    excinfo = getattr(report, "_course_excinfo", None)
    if excinfo is not None:
        text = str(excinfo.value).strip()
        if isinstance(excinfo.value, AssertionError):
            text = text.split("\nassert ")[0].strip()
        else:
            text = f"{type(excinfo.value).__name__}: {text}"
        return text.splitlines()[0][:500] if text else type(excinfo.value).__name__
    return str(report.longrepr).strip().splitlines()[-1][:500]


class CheckResults:
    """Collects each check's outcome, points and message; writes them as JSON at the end."""

    def __init__(self, target: Path | None) -> None:
        self.target = target
        self.results: dict[str, dict[str, Any]] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.results[item.nodeid] = {
                "name": check_name(item),
                "passed": False,
                "points": 0,
                "max_points": points_of(item),
                "message": "not run",
                "exercise": exercise_of(item),
                "_description": describe(item),
            }

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        outcome = yield
        if call.excinfo is not None:
            outcome.get_result()._course_excinfo = call.excinfo

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.results.get(report.nodeid)
        if entry is None:
            return
        if report.when == "call" and report.passed:
            entry.update(passed=True, points=entry["max_points"], message=entry["_description"])
        elif report.failed:
            entry.update(passed=False, points=0, message=failure_message(report))

    def pytest_sessionfinish(self) -> None:
        if self.target is None:
            return
        checks = [
            {key: value for key, value in entry.items() if not key.startswith("_")} for entry in self.results.values()
        ]
        atomic_write_json(self.target, {"checks": checks})
