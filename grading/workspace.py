"""The learner's workspace: their own copies of the released notebooks, never overwritten.

``sync_workspace`` copies each released notebook the workspace does not have yet and records
the sha256 of the release it was copied from (``.course-release.json``). A notebook the learner
already has is never touched: when a newer release changes it, ``sync_workspace`` says so and
leaves the learner's copy as it is. ``python -m grading.workspace`` runs it (``make lab`` does).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grading.paths import NOTEBOOKS_DIR, REPO_ROOT, WORKSPACE_DIR, course_notebooks
from mlops_kit.io import atomic_write_json

RELEASE_RECORD = ".course-release.json"


@dataclass
class SyncReport:
    """What ``sync_workspace`` did and what the learner should know."""

    copied: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    changed_upstream: list[str] = field(default_factory=list)

    def lines(self, workspace: Path, notebooks_dir: Path) -> list[str]:
        """Messages for the learner, one per notebook that needs their attention."""
        out = [f"new in your workspace: {_shown(workspace / name)}" for name in self.copied]
        for name in self.changed_upstream:
            out.append(
                f"a new release changed {name}; your copy {_shown(workspace / name)} is kept as it is. "
                f"The new version is {_shown(notebooks_dir / name)}: copy the cells you need from it, "
                f"or rename your copy and run `make lab` again to get the new version."
            )
        return out


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_release_record(workspace: Path) -> dict[str, str]:
    """Notebook name → sha256 of the released notebook the learner's copy started from."""
    path = workspace / RELEASE_RECORD
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}  # a damaged record only costs the "changed upstream" notice, never a notebook
    return {str(name): str(digest) for name, digest in record.items()} if isinstance(record, dict) else {}


def sync_workspace(workspace: Path = WORKSPACE_DIR, notebooks_dir: Path = NOTEBOOKS_DIR) -> SyncReport:
    """Copy released notebooks the workspace lacks; report those a newer release changed. Never overwrites."""
    released = course_notebooks(notebooks_dir)
    if not released:
        raise FileNotFoundError(f"no released notebooks in {notebooks_dir}: run `python -m grading release`")
    workspace.mkdir(parents=True, exist_ok=True)
    record = read_release_record(workspace)
    report = SyncReport()
    for source in released:
        target = workspace / source.name
        digest = file_sha256(source)
        if not target.exists():
            shutil.copyfile(source, target)
            record[source.name] = digest
            report.copied.append(source.name)
        elif record.setdefault(source.name, digest) != digest:
            report.changed_upstream.append(source.name)
        else:
            report.kept.append(source.name)
    atomic_write_json(workspace / RELEASE_RECORD, record)
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m grading.workspace [--workspace DIR]``: create or top up the learner's workspace."""
    parser = argparse.ArgumentParser(prog="python -m grading.workspace", description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=WORKSPACE_DIR)
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, help="released notebooks to copy from")
    args = parser.parse_args(argv)
    try:
        report = sync_workspace(args.workspace, args.notebooks)
    except (FileNotFoundError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in report.lines(args.workspace, args.notebooks):
        print(line)
    print(
        f"your workspace: {_shown(args.workspace)} ({len(report.copied) + len(report.kept) + len(report.changed_upstream)} notebooks)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
