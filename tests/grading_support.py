"""Fixtures shared by the slow grading tests: the reference solutions graded once per variant per session.

Grading the whole course takes minutes, so the tests that need the solved course graded (full points,
the audit, its artifacts relabelled as another variant) share one grade, on ``GRADED_VARIANT``: a variant
the shipped data is not (``make run`` grades the shipped variant 0, and nbval executes the solutions on it).
A test that uses variant ``v`` is marked ``xdist_group(graded_solutions_group(v))``, so one worker holds that
grade.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grading.forkserver import ForkServer
from grading.grade import grade_submission
from grading.paths import SOLUTIONS_DIR, course_notebooks
from grading.pytest_warm_kernels import session_server

GRADED_VARIANT = 7
"""The variant the test suite grades the whole solved course on (as the issues' ``grade solutions --variant 7``)."""


def graded_solutions_group(variant: int) -> str:
    """The xdist group of the tests that share the solutions graded on ``variant``."""
    return f"graded-solutions-v{variant}"


@dataclass(frozen=True)
class GradedSolutions:
    """The course's solutions graded on one variant: the scorecard and the grader's output folder."""

    variant: int
    card: dict[str, Any]
    out_dir: Path

    @property
    def sandbox(self) -> Path:
        """Per-module sandboxes, with the artifacts each notebook left."""
        return self.out_dir / "sandbox"


@pytest.fixture(scope="session")
def upstream_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One reference-upstream cache for the whole session, shared by both xdist workers (as a cohort's graders
    share one): a variant's upstream is built by the first grading that needs it. Per session, never reused
    by the next one, whose code may have changed under the same package version."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-upstream"


@pytest.fixture(scope="session")
def fork_server() -> ForkServer:
    """One fork server per test worker for the gradings that run warm (as a cohort's jobs share one); nbval's
    kernels fork from it too, and it stops with the session (``grading.pytest_warm_kernels``)."""
    return session_server()


@pytest.fixture(scope="session")
def graded_solutions(
    tmp_path_factory: pytest.TempPathFactory, upstream_cache: Path, fork_server: ForkServer
) -> Callable[[int], GradedSolutions]:
    """``graded_solutions(variant)``: the solutions graded on ``variant``, once per session."""
    cache: dict[int, GradedSolutions] = {}

    def grade(variant: int) -> GradedSolutions:
        if variant not in cache:
            tmp = tmp_path_factory.mktemp(f"graded-solutions-v{variant}")
            submission = tmp / "submission"
            submission.mkdir()
            for notebook in course_notebooks(SOLUTIONS_DIR):
                shutil.copy(notebook, submission / notebook.name)
            result = grade_submission(submission, variant, tmp / "out", upstream_cache=upstream_cache, warm=fork_server)
            cache[variant] = GradedSolutions(variant, result.card, tmp / "out")
        return cache[variant]

    return grade
