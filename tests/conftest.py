"""Session fixtures shared across test files (see grading_support.py)."""

from grading_support import fork_server, graded_solutions, upstream_cache

__all__ = ["fork_server", "graded_solutions", "upstream_cache"]
