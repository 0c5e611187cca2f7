"""Where module 4 starts: module 3's champion, rebuilt by module 3's reference solution when needed.

Module 4 adds versions and moves ``champion``. To give the same result on every run (and to
run when module 3 was never done), it starts from a registry that holds only module 3's
versions: if the champion is missing or stale (``ensure_champion``), or if an earlier run of
module 4 left its challengers behind, module 3's reference solution rebuilds the registry.
"""

from __future__ import annotations

from pathlib import Path

from mlops_kit.course import module_id
from mlops_kit.registry.versions import VersionFacts

MODULE_ID = module_id(4)
MODULE4_CANDIDATES: tuple[str, ...] = ("retrain", "broken", "shuffled")
"""Candidate names of the versions module 4 registers (the ``candidate`` tag)."""


def start_from_module3(
    artifacts_dir: str | Path, data_dir: str | Path, variant: int, model_name: str = "late-delivery"
) -> VersionFacts:
    """Module 3's champion, with no module-4 version in the registry (else the reference rebuilds it)."""
    from mlops_kit.registry.reference import ensure_champion, run_reference
    from mlops_kit.registry.tracking import connect
    from mlops_kit.registry.versions import list_versions

    champion = ensure_champion(artifacts_dir, data_dir, variant, model_name)
    tracking = connect(artifacts_dir)
    leftovers = [v for v in list_versions(tracking, model_name) if v.tags.get("candidate") in MODULE4_CANDIDATES]
    if leftovers or champion.tags.get("candidate") in MODULE4_CANDIDATES:
        champion = run_reference(artifacts_dir, data_dir, variant, model_name)
    return champion
