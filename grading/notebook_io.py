"""Reading and writing notebooks, with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from mlops_kit.io import atomic_write_text

NBFORMAT_VERSION = 4


class NotebookError(ValueError):
    """A file that should be a notebook is missing, not JSON, or not a valid notebook."""


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a v4 notebook; NotebookError names the file and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such notebook file")
    if path.suffix != ".ipynb":
        raise NotebookError(f"{path}: not a notebook (expected a .ipynb file)")
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
    except UnicodeDecodeError as error:
        raise NotebookError(f"{path}: not a notebook: the file is not UTF-8 text ({error})") from error
    except json.JSONDecodeError as error:
        raise NotebookError(
            f"{path}: invalid notebook JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error
    if not isinstance(raw, dict) or "cells" not in raw:
        raise NotebookError(f"{path}: not a notebook: JSON without a 'cells' list")
    try:
        notebook = nbformat.reads(text, as_version=NBFORMAT_VERSION)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several unrelated types
        raise NotebookError(f"{path}: not a valid notebook: {str(error).splitlines()[0]}") from error
    return notebook


def write_notebook(notebook: nbformat.NotebookNode, path: str | Path) -> Path:
    """Write a notebook atomically, in nbformat's canonical JSON layout."""
    return atomic_write_text(path, nbformat.writes(notebook) + "\n")
