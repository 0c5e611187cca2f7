"""Where module 6 starts: the champion module 4 deployed, or the reference's when module 4 is missing.

Module 6 needs a registered champion trained on this variant's feature set. Module 4 leaves one
behind (its deploy moves ``champion``); when module 4 was never run, module 3's reference solution
registers one (``ensure_champion`` builds modules 1-3's artifacts as needed). ``start_services``
starts the planted-skew service and the fixed one side by side (their start-up dominates);
the notebook starts them in the background (``monitoring.start_in_background``) while it loads the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mlops_kit.course import module_id
from mlops_kit.gates.reference import MODULE4_CANDIDATES
from mlops_kit.serving import ServiceProcess
from mlops_kit.serving.skew import SkewSpec

MODULE_ID = module_id(6)


def served_champion(artifacts_dir: str | Path, data_dir: str | Path, variant: int, model_name: str) -> tuple[Any, str]:
    """The champion to check and where it came from (``module 4`` or ``reference``)."""
    from mlops_kit.registry.reference import ensure_champion

    champion = ensure_champion(artifacts_dir, data_dir, variant, model_name)
    origin = "module 4" if champion.tags.get("candidate") in MODULE4_CANDIDATES else "reference"
    return champion, origin


def start_services(
    tracking_uri: str, model_name: str, version: str, skew: SkewSpec | None, timeout: float = 120.0
) -> dict[str, ServiceProcess]:
    """``{"skewed": ..., "fixed": ...}``: both with ``debug_features`` on, started in parallel (both stopped on a failure)."""
    configs = {"skewed": skew, "fixed": None}
    started: dict[str, ServiceProcess] = {}
    errors: list[BaseException] = []

    def start(label: str) -> None:
        try:
            started[label] = ServiceProcess.start(
                tracking_uri, model_name, version=version, timeout=timeout, skew=configs[label], debug_features=True
            )
        except BaseException as error:  # stop the other one too
            errors.append(error)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(start, configs))
    if errors:
        stop_services(started)
        raise errors[0]
    return {label: started[label] for label in configs}


def stop_services(services: Mapping[str, ServiceProcess]) -> None:
    """Stop every service of ``services`` (each stop is safe to repeat)."""
    for service in services.values():
        service.stop()
