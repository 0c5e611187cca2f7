"""A new course database starts as a copy of an empty, migrated one instead of migrating from nothing.

MLflow builds a new SQLite store by running its whole chain of alembic migrations: 1.5-4 s on this
machine, paid by every notebook from module 3 on and by every grading sandbox. The first store built in an
environment whose template folder is writable is kept, emptied, as a template keyed by MLflow's version;
a later new store is a copy of it. The template holds the migrated schema only: its Default experiment
is removed, so MLflow creates that one itself when it opens the copy, with the artifact location it would
have chosen. Without a template (a read-only environment, another MLflow version) MLflow builds the
store as usual.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from importlib import metadata
from pathlib import Path

TEMPLATE_DIR = Path(sys.prefix) / "share" / "mlops-course"
"""Where templates live: inside the environment, so a rebuilt environment starts without stale ones."""


def template_path(folder: Path | None = None) -> Path:
    """The template for the installed MLflow version (its schema changes between versions)."""
    return (folder or TEMPLATE_DIR) / f"mlflow-{metadata.version('mlflow')}-empty.db"


def seed_new_store(database: Path, folder: Path | None = None) -> bool:
    """Create ``database`` as a copy of the template; False (nothing done) if it exists or there is no template."""
    template = template_path(folder)
    if database.exists() or not template.is_file():
        return False
    staging = database.with_name(f".{database.name}.{os.getpid()}.seed")
    try:
        _copy(template, staging)
        with contextlib.suppress(FileExistsError):  # another process created the store first: keep it
            os.link(staging, database)
    finally:
        staging.unlink(missing_ok=True)
    return True


def keep_as_template(database: Path, folder: Path | None = None) -> Path | None:
    """Save a just-migrated ``database`` (nothing logged yet) as the template, minus its Default experiment.

    Returns the template's path, or None when the folder is not writable (nothing is kept then).
    """
    template = template_path(folder)
    if template.is_file():
        return template
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        staging = template.with_name(f".{template.name}.{os.getpid()}.tmp")
        _copy(database, staging)
        with contextlib.closing(sqlite3.connect(staging)) as connection, connection:
            connection.execute("DELETE FROM experiment_tags WHERE experiment_id = 0")
            connection.execute("DELETE FROM experiments WHERE experiment_id = 0")
        os.replace(staging, template)
    except (OSError, sqlite3.Error):
        return None
    return template


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite file (SQLite's backup API, not a byte copy of a file in use)."""
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
