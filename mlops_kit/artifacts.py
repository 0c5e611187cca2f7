"""Each module's artifacts folder, ``<ARTIFACTS_DIR>/<module id>/``, and its manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_kit.manifest import MANIFEST_NAME, ManifestError, verify_manifest, write_manifest


def module_dir(artifacts_dir: str | Path, module_id: str) -> Path:
    """Return (and create) the folder where module ``module_id`` writes its artifacts."""
    folder = Path(artifacts_dir) / module_id
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_module_manifest(
    artifacts_dir: str | Path, module_id: str, variant: int, data_version: str, **facts: Any
) -> Path:
    """List every file in the module's folder (sha256) with module id, variant and data version."""
    folder = module_dir(artifacts_dir, module_id)
    files = sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.name != MANIFEST_NAME and not path.name.startswith(".")
    )
    return write_manifest(folder, files, module=module_id, variant=int(variant), data_version=data_version, **facts)


def read_module_manifest(artifacts_dir: str | Path, module_id: str) -> dict[str, Any]:
    """Read and verify a module's manifest; ManifestError names what is missing or changed."""
    folder = Path(artifacts_dir) / module_id
    if not folder.is_dir():
        raise ManifestError(f"no artifacts for module {module_id}: {folder} does not exist")
    return verify_manifest(folder)
