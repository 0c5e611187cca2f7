"""The reference upstream of a graded module, built once per graded data and copied into each sandbox.

Grading module N never depends on the learner's module N-1: its notebook starts from the reference
solution of the modules before it (``ensure_feature_set``, ``ensure_champion``), and used to rebuild
them inside every sandbox (validation, features, three candidates trained and registered in MLflow:
seconds per module, paid again by modules 4, 5, 6 and 7). The grader now builds that reference once,
in a subprocess of the course's own code, before any learner code runs, and seeds each sandbox with a
copy of the parts owned by the modules before the one graded: what the notebook would have built for
itself, so ``ensure_*`` finds it current and moves on.

MLflow records absolute paths (the SQLite store, each model's ``MLmodel``), so a copy has the build's
folder replaced by the sandbox's in every text value of the store and in the copied text files. The
cache sits in the grader's output (hidden from notebooks), keyed by the data's manifest and the
installed course and MLflow versions; a build goes to a staging folder renamed into place, so
concurrent graders of one cohort share it safely.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mlops_kit.course import MODULE_IDS, module_id

FIRST_SEEDED_MODULE = 3
"""Modules from 3 on start from a reference upstream worth caching (module 2's is one cheap validation)."""


def module_number(module: str) -> int:
    """The course position of a module id (1 for the first)."""
    return MODULE_IDS.index(module) + 1


BUILT_AT = "built_at.txt"
"""The absolute artifacts folder the build ran in (the paths MLflow recorded), next to ``artifacts/``."""
TEXT_SUFFIXES = frozenset({"", ".json", ".jsonl", ".yaml", ".yml", ".txt", ".md"})


def cache_key(data_dir: Path) -> str:
    """The data's manifest and the versions of the code that builds from it."""
    digest = hashlib.sha256((data_dir / "manifest.json").read_bytes())
    for package in ("mlops-in-seven-projects", "mlflow", "scikit-learn"):
        digest.update(f"{package}=={metadata.version(package)}".encode())
    return digest.hexdigest()[:16]


def reference_upstream(data_dir: Path, variant: int, cache_root: Path) -> Path:
    """The folder holding the reference artifacts of modules 2-3 for this data (built now if missing)."""
    entry = cache_root / cache_key(data_dir)
    if (entry / BUILT_AT).is_file():
        return entry
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = cache_root / f".{entry.name}.{os.getpid()}.building"
    shutil.rmtree(staging, ignore_errors=True)
    artifacts = staging / "artifacts"
    command = [sys.executable, "-m", "grading.upstream", str(data_dir), str(variant), str(artifacts)]
    built = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if built.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"building the reference upstream failed: {built.stderr.strip()[-2000:]}")
    (staging / BUILT_AT).write_text(str(artifacts.resolve()))
    try:
        staging.rename(entry)
    except OSError:  # another grader built it first: keep theirs
        shutil.rmtree(staging, ignore_errors=True)
    return entry


def owners() -> dict[str, int]:
    """Which module's reference builds each top-level entry of the artifacts folder."""
    from mlops_kit.registry.tracking import ARTIFACT_ROOT_NAME, DATABASE_NAME  # imported here: it loads sklearn

    return {module_id(2): 2, module_id(3): 3, DATABASE_NAME: 3, ARTIFACT_ROOT_NAME: 3}


def seed_sandbox(upstream: Path, artifacts_dir: Path, module_number: int) -> list[str]:
    """Copy the entries owned by modules before ``module_number`` into ``artifacts_dir``; their names."""
    built_at, owner = (upstream / BUILT_AT).read_text(), owners()
    target = str(artifacts_dir.resolve())
    copied = []
    for source in sorted((upstream / "artifacts").iterdir()):
        if owner.get(source.name, module_number) >= module_number:
            continue
        destination = artifacts_dir / source.name
        if source.is_dir():
            shutil.copytree(source, destination)
        else:
            shutil.copy2(source, destination)
        copied.append(source.name)
    for path in [artifacts_dir / name for name in copied]:
        for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            _relocate_file(file, built_at, target)
    return copied


def _relocate_file(file: Path, old: str, new: str) -> None:
    """Replace the build's folder by the sandbox's in a copied store or text file."""
    if file.suffix == ".db":
        _relocate_store(file, old, new)
    elif file.suffix in TEXT_SUFFIXES:
        data = file.read_bytes()
        if old.encode() in data:
            file.write_bytes(data.replace(old.encode(), new.encode()))


def _relocate_store(database: Path, old: str, new: str) -> None:
    """Every text value of every table of the SQLite store, with ``old`` replaced by ``new``."""
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]:
                connection.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                    f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?) > 0',
                    (old, new, old),
                )


def _build(data_dir: str, variant: int, artifacts_dir: str) -> None:
    """Run module 3's reference (and so module 2's) into ``artifacts_dir``, as the notebooks would."""
    from mlops_kit.registry.reference import ensure_champion

    ensure_champion(artifacts_dir, data_dir, variant)


def main(argv: list[str] | None = None) -> int:
    """``python -m grading.upstream DATA_DIR VARIANT ARTIFACTS_DIR``: the build, in its own process."""
    parser = argparse.ArgumentParser(prog="python -m grading.upstream", description=_build.__doc__)
    parser.add_argument("data_dir")
    parser.add_argument("variant", type=int)
    parser.add_argument("artifacts_dir")
    args = parser.parse_args(argv)
    _build(args.data_dir, args.variant, args.artifacts_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
