"""The environment a model was trained in: Python and package versions, pip requirements.

Pip requirements are given explicitly (pinned to what is installed): MLflow's own inference
imports the model in a subprocess and costs seconds per ``log_model``.
"""

from __future__ import annotations

import platform
from importlib import metadata

# Distributions a logged model needs to be loaded and to predict.
MODEL_REQUIREMENTS: tuple[str, ...] = ("mlflow", "scikit-learn", "skops", "pandas", "numpy", "scipy")
# Versions recorded on every run and model version (``env.<name>`` tags).
RECORDED_PACKAGES: tuple[str, ...] = (*MODEL_REQUIREMENTS, "mlops-in-seven-projects")
ENV_TAG_PREFIX = "env."


def package_version(distribution: str) -> str | None:
    """Installed version of ``distribution``, or None when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def pip_requirements(distributions: tuple[str, ...] = MODEL_REQUIREMENTS) -> list[str]:
    """``name==version`` for each installed distribution (``mlflow`` falls back to mlflow-skinny)."""
    pins = []
    for name in distributions:
        version = package_version(name)
        if version is None and name == "mlflow":
            name, version = "mlflow-skinny", package_version("mlflow-skinny")
        if version is not None:
            pins.append(f"{name}=={version}")
    return pins


def environment_tags() -> dict[str, str]:
    """``env.python`` and ``env.<package>`` version tags for runs and model versions."""
    tags = {f"{ENV_TAG_PREFIX}python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        version = package_version(name)
        if version is not None:
            tags[f"{ENV_TAG_PREFIX}{name}"] = version
    return tags
