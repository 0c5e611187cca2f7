"""Registered versions and aliases, read and moved through MLflow's client.

Aliases (``challenger``, ``champion``) name versions; the deprecated stages are never used.
Every lookup fails with a RegistryError that names the model, version or alias and lists what
exists, instead of MLflow's generic "not found".
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_kit.registry.card import CARD_FILE, card_problems
from mlops_kit.registry.errors import AliasNotFound, ModelNotFound, RegistryError, VersionNotFound
from mlops_kit.registry.lineage import CHAMPION, VersionFacts
from mlops_kit.registry.lineage import LINEAGE_TAGS as LINEAGE_TAGS  # re-exported: its home before lineage.py
from mlops_kit.registry.trust import allowed_types, load_skops_model

if TYPE_CHECKING:
    from mlops_kit.registry.tracking import Tracking

PROTECTED_ALIASES: tuple[str, ...] = (CHAMPION,)


def model_uri(name: str, alias: str | None = None, version: str | int | None = None) -> str:
    """``models:/<name>@<alias>`` or ``models:/<name>/<version>``."""
    if (alias is None) == (version is None):
        raise RegistryError("give exactly one of alias and version")
    return f"models:/{name}@{alias}" if alias is not None else f"models:/{name}/{version}"


def registered_model(tracking: Tracking, name: str) -> Any:
    """MLflow's RegisteredModel ``name``; ModelNotFound listing the registered models otherwise."""
    from mlflow.exceptions import MlflowException

    client = tracking.client()
    try:
        return client.get_registered_model(name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise RegistryError(f"cannot read registered model {name!r}: {error.message}") from error
        known = sorted(model.name for model in client.search_registered_models())
        raise ModelNotFound(
            f"no registered model {name!r} in {tracking.uri}; registered: {', '.join(known) or 'none'}"
        ) from None


def aliases(tracking: Tracking, name: str) -> dict[str, str]:
    """Alias → version of registered model ``name`` (sorted by alias)."""
    return {alias: str(version) for alias, version in sorted(registered_model(tracking, name).aliases.items())}


def list_versions(tracking: Tracking, name: str) -> list[Any]:
    """Every ModelVersion of ``name``, oldest first (ModelNotFound if the model does not exist)."""
    registered_model(tracking, name)
    found = tracking.client().search_model_versions(f"name = '{name}'")
    return sorted(found, key=lambda version: int(version.version))


def get_version(tracking: Tracking, name: str, version: str | int) -> Any:
    """ModelVersion ``version`` of ``name``; VersionNotFound listing the existing versions."""
    from mlflow.exceptions import MlflowException

    registered_model(tracking, name)
    try:
        return tracking.client().get_model_version(name, str(version))
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise RegistryError(f"cannot read version {version} of {name!r}: {error.message}") from error
        existing = [str(found.version) for found in list_versions(tracking, name)]
        raise VersionNotFound(
            f"model {name!r} has no version '{version}'; versions: {', '.join(existing) or 'none'}"
        ) from None


def version_by_alias(tracking: Tracking, name: str, alias: str) -> Any:
    """The ModelVersion ``alias`` points to; AliasNotFound listing the aliases otherwise."""
    known = aliases(tracking, name)
    if alias not in known:
        shown = ", ".join(f"{key} → version {value}" for key, value in known.items()) or "none"
        raise AliasNotFound(f"model {name!r} has no alias {alias!r}; aliases: {shown}")
    return tracking.client().get_model_version(name, known[alias])


def set_alias(tracking: Tracking, name: str, alias: str, version: str | int, allow_protected: bool = False) -> None:
    """Point ``alias`` at an existing version (VersionNotFound otherwise).

    A protected alias (``champion``) moves only through ``promote``, which checks the policy
    and writes the audit trail; ``allow_protected=True`` is for tools that write their own.
    """
    if not alias or not isinstance(alias, str) or alias.isdigit():
        raise RegistryError(f"an alias is a name such as 'challenger', got {alias!r}")
    if alias in PROTECTED_ALIASES and not allow_protected:
        raise RegistryError(
            f"alias {alias!r} moves only through promote(), which checks the policy and records the audit trail"
        )
    from mlflow.exceptions import MlflowException

    found = get_version(tracking, name, version)
    try:
        tracking.client().set_registered_model_alias(name, alias, str(found.version))
    except MlflowException as error:
        raise RegistryError(
            f"cannot set alias {alias!r} on version {found.version} of {name!r}: {error.message}"
        ) from None


def read_model_card(tracking: Tracking, run_id: str | None) -> str | None:
    """The markdown model card logged with run ``run_id``, or None when there is none."""
    if not run_id:
        return None
    client = tracking.client()
    if CARD_FILE not in {item.path for item in client.list_artifacts(run_id)}:
        return None
    with tempfile.TemporaryDirectory(prefix="model-card-") as folder:
        path = client.download_artifacts(run_id, CARD_FILE, folder)
        return Path(path).read_text(encoding="utf-8")


def version_facts(tracking: Tracking, name: str, version: str | int) -> VersionFacts:
    """Tags, validation metrics, aliases and model-card state of one version."""
    found = get_version(tracking, name, version)
    metrics: dict[str, float] = {}
    if found.run_id:
        metrics = dict(tracking.client().get_run(found.run_id).data.metrics)
    card = read_model_card(tracking, found.run_id)
    return VersionFacts(
        name=name,
        version=str(found.version),
        run_id=found.run_id,
        tags=dict(found.tags),
        metrics=metrics,
        aliases=tuple(sorted(found.aliases)),
        card_problems=None if card is None else tuple(card_problems(card)),
    )


def load_model(
    tracking: Tracking,
    name: str,
    alias: str = "champion",
    allowed: tuple[str, ...] | None = None,
    *,
    version: str | int | None = None,
) -> Any:
    """Load the scikit-learn model behind ``models:/<name>@<alias>`` (or ``models:/<name>/<version>``).

    Fails with AliasNotFound for an unknown alias, VersionNotFound for an unknown version, and
    with UntrustedTypesError when the model holds types outside the course's allow-list.
    A service pins a version: it resolves the alias once and loads by ``version``. Safe to call
    from several threads: no process-global state is changed (see ``mlops_kit.registry.trust``).
    """
    import mlflow

    found = get_version(tracking, name, version) if version is not None else version_by_alias(tracking, name, alias)
    pinned = model_uri(name, version=found.version)  # the version resolved above, even if the alias moves now
    # The version's artifact location, asked of *this* store: MLflow 3.17 resolves a ``models:/`` URI
    # with the process-global registry, ignoring download_artifacts' ``registry_uri``.
    source = tracking.client().get_model_version_download_uri(name, found.version)
    with tempfile.TemporaryDirectory(prefix="model-") as folder:
        local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=folder, tracking_uri=tracking.uri)
        what = f"{model_uri(name, alias=alias) if version is None else pinned} (version {found.version})"
        return load_skops_model(local, allowed_types() if allowed is None else allowed, what=what)
