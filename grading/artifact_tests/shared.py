"""What every module's artifact tests share: the manifest precondition and row lists in messages.

Integrity is never a source of points; when it fails, every check of the module fails with
the same clear message instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from mlops_kit.artifacts import read_module_manifest
from mlops_kit.manifest import ManifestError


def fail(message: str) -> NoReturn:
    """Fail the current check (or fixture) with ``message``, the text the learner reads."""
    raise AssertionError(message)


def require_manifest(artifacts_dir: Path, module: str, variant: int, required_files: Sequence[str]) -> dict[str, Any]:
    """The module's verified manifest, listing ``required_files``, for the graded ``variant``."""
    try:
        manifest = read_module_manifest(artifacts_dir, module)
    except ManifestError as error:
        fail(f"artifacts incomplete: {error}")
    missing = [name for name in required_files if name not in manifest["files"]]
    if missing:
        fail(f"the manifest does not list {missing}; run the notebook's last cell")
    if manifest.get("variant") != variant:
        fail(f"artifacts are for data variant {manifest.get('variant')}, the graded variant is {variant}")
    return manifest


def rows_text(rows: Iterable[Any], limit: int = 5) -> str:
    """The first ``limit`` of ``rows``, sorted, and how many more: for failure messages."""
    rows = sorted(rows)
    shown = ", ".join(str(row) for row in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")
