"""Manifests: which files a folder holds, with their sha256, plus facts about them.

Used for the shipped data (``datasets``) and for every module's artifacts, so a reader can
tell a complete, untouched folder from a broken one, and name the file that is wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlops_kit.io import atomic_write_json

MANIFEST_NAME = "manifest.json"


class ManifestError(ValueError):
    """A manifest or a file it lists is missing, unreadable or does not match its hash."""


def sha256_file(path: str | Path) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(
    directory: str | Path,
    files: Iterable[str] | Mapping[str, Mapping[str, Any]],
    **fields: Any,
) -> Path:
    """Write ``directory/manifest.json`` listing ``files`` (paths relative to it) with sha256.

    ``files`` is a list of relative paths, or a mapping from relative path to extra facts
    about that file (rows, period, ...). ``fields`` are top-level facts (variant, module...).
    """
    root = Path(directory)
    extras: Mapping[str, Mapping[str, Any]] = files if isinstance(files, Mapping) else {name: {} for name in files}
    listed: dict[str, dict[str, Any]] = {}
    for name in sorted(extras):
        path = root / name
        if not path.is_file():
            raise ManifestError(f"cannot list {path} in the manifest: the file does not exist")
        listed[Path(name).as_posix()] = {
            "sha256": sha256_file(path),
            "bytes": path.stat().st_size,
            **dict(extras[name]),
        }
    return atomic_write_json(root / MANIFEST_NAME, {**fields, "files": listed})


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """Read ``directory/manifest.json``; ManifestError if it is missing or not valid JSON."""
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"manifest missing: {path}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ManifestError(f"manifest {path} is not valid JSON: {error}") from error
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ManifestError(f"manifest {path} has no 'files' mapping")
    return manifest


def verify_file(directory: str | Path, name: str, manifest: Mapping[str, Any] | None = None) -> None:
    """Check one listed file exists and matches its sha256; ManifestError names it otherwise."""
    manifest = manifest if manifest is not None else read_manifest(directory)
    entry = manifest["files"].get(name)
    path = Path(directory) / name
    if entry is None:
        raise ManifestError(f"{path} is not listed in {Path(directory) / MANIFEST_NAME}")
    if not path.is_file():
        raise ManifestError(f"file missing: {path} (listed in the manifest)")
    actual = sha256_file(path)
    if actual != entry["sha256"]:
        raise ManifestError(
            f"file corrupted or changed: {path} has sha256 {actual[:12]}…, the manifest says {entry['sha256'][:12]}…"
        )


def verify_manifest(directory: str | Path) -> dict[str, Any]:
    """Check every listed file; return the manifest or raise ManifestError naming a bad file."""
    manifest = read_manifest(directory)
    for name in manifest["files"]:
        verify_file(directory, name, manifest)
    return manifest
