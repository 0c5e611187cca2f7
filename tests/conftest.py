"""Session fixtures shared across test files (see grading_support.py)."""

from grading_support import graded_solutions, upstream_cache

__all__ = ["graded_solutions", "upstream_cache"]
