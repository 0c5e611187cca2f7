"""Where module 5 starts: the registry's champion (module 4's deploy moved it), or module 3's reference.

Module 5 watches the model module 4 deployed. When the registry is missing or was built on
other data (module 4 not done, or the grader runs this module on its own), module 3's
reference solution rebuilds it, so the service has a champion to serve.
"""

from __future__ import annotations

from pathlib import Path

from mlops_kit.registry.reference import ensure_champion
from mlops_kit.registry.versions import VersionFacts


def start_from_module4(
    artifacts_dir: str | Path, data_dir: str | Path, variant: int, model_name: str = "late-delivery"
) -> VersionFacts:
    """The champion to monitor: module 4's (or module 3's) when trained on this data, else the reference's."""
    return ensure_champion(artifacts_dir, data_dir, variant, model_name)
