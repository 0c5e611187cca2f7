"""Environment parity: the serving process's package versions against the training run's environment tags.

The training run records ``env.<package>`` tags (module 3, ``mlops_kit.registry.environment``);
the service reports its versions in ``/metadata``. A difference in a package that computes or
loads the model (scikit-learn, numpy, pandas, Python) or in the feature code (the feature-set
version the service computes against the one the model was trained with) is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_kit.consistency.report import Check
from mlops_kit.registry.environment import ENV_TAG_PREFIX

PACKAGES_THAT_MATTER: tuple[str, ...] = ("python", "scikit-learn", "numpy", "pandas")
"""Packages whose version must be the same in training and serving."""
FEATURE_CODE = "feature_set_version"


def environment_parity(
    training_tags: Mapping[str, str],
    serving_packages: Mapping[str, str],
    training_feature_set: str | None = None,
    serving_feature_set: str | None = None,
    packages: tuple[str, ...] = PACKAGES_THAT_MATTER,
) -> Check:
    """Each package of ``packages``: the training tag ``env.<name>`` against the service's version."""
    compared: dict[str, dict[str, Any]] = {}
    for name in packages:
        trained, served = training_tags.get(f"{ENV_TAG_PREFIX}{name}"), serving_packages.get(name)
        compared[name] = {"training": trained, "serving": served, "same": trained is not None and trained == served}
    if training_feature_set is not None or serving_feature_set is not None:
        compared[FEATURE_CODE] = {
            "training": training_feature_set,
            "serving": serving_feature_set,
            "same": training_feature_set is not None and training_feature_set == serving_feature_set,
        }
    differing = [
        f"{name}: trained with {entry['training'] or 'unknown'}, served with {entry['serving'] or 'unknown'}"
        for name, entry in compared.items()
        if not entry["same"]
    ]
    details = {"compared": compared, "differing": differing}
    if differing:
        return Check(
            "environment_parity",
            "environment",
            False,
            f"{len(differing)} differences: " + "; ".join(differing) + ". Serve with the training environment.",
            details,
        )
    return Check("environment_parity", "environment", True, f"same versions of {', '.join(compared)}", details)
