"""Which types a logged model may hold, and the one way the course loads a model.

MLflow saves scikit-learn models with skops, which refuses to load any type outside its own
safe list unless told to trust it. The course keeps one allow-list of reviewed types (the
feature pipeline's custom transformers and scikit-learn's tree structure). Before logging,
``check_model_types`` refuses a model holding any other type. When loading,
``load_skops_model`` reads the downloaded model with skops itself, trusting *our* list: the
list recorded in the model's MLmodel file comes with the model (anyone who can write the
model can write it) and is never used.

Why not ``mlflow.sklearn.load_model``: MLflow 3.17 loads only while the process-global
environment variable ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` is true, then hands skops the
model's own list. Flipping a process-global variable races when a service loads models on
several threads, and the model's list is the wrong one to trust. skops' public
``get_untrusted_types``/``load`` and the MLmodel flavor keys (``pickled_model``,
``serialization_format``) are all this module relies on; a missing key raises a clear error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mlops_kit.registry.errors import RegistryError, UntrustedTypesError

# scikit-learn types outside skops' default safe list that the course reviewed and uses.
REVIEWED_SKLEARN_TYPES: tuple[str, ...] = ("sklearn.tree._tree.Tree",)
SKOPS_FORMAT = "skops"


def allowed_types(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The course's allow-list: reviewed scikit-learn types, the feature pipeline's types, ``extra``."""
    # Imported here: mlops_kit.features imports scikit-learn, which importing the registry must not.
    from mlops_kit.features import TRUSTED_TYPES as feature_types

    return tuple(sorted({*REVIEWED_SKLEARN_TYPES, *feature_types, *extra}))


def check_allowed(types: Iterable[str], allowed: Sequence[str], what: str) -> None:
    """UntrustedTypesError naming every type of ``types`` outside ``allowed``."""
    outside = sorted(set(types) - set(allowed))
    if outside:
        raise UntrustedTypesError(
            f"{what} holds types nobody reviewed: {', '.join(outside)}. Review them and add them to the "
            f"allow-list (allowed: {', '.join(allowed) or 'none'})"
        )


def untrusted_types(model: Any) -> list[str]:
    """Types in ``model`` that skops loads only when told to trust them (its own safe list excluded)."""
    import skops.io

    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


def check_model_types(model: Any, allowed: Sequence[str], what: str) -> None:
    """UntrustedTypesError when ``model`` holds a type outside skops' safe list and ``allowed``."""
    check_allowed(untrusted_types(model), allowed, what)


def load_skops_model(model_dir: str | Path, allowed: Sequence[str], what: str) -> Any:
    """The scikit-learn model of a downloaded MLflow model folder, loaded by skops trusting ``allowed`` only.

    RegistryError when the folder holds no scikit-learn model; UntrustedTypesError when the
    model is not in skops format (pickle runs arbitrary code) or holds a type outside ``allowed``.
    """
    import skops.io
    import yaml

    folder = Path(model_dir)
    if not (folder / "MLmodel").is_file():
        raise RegistryError(f"{what}: no MLmodel file in {folder}")
    # The MLmodel file is YAML (MLflow's Model.load reads it the same way); reading it directly keeps
    # mlflow out of a process that only loads a model from a local folder (the service).
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8")) or {}
    flavor = (mlmodel.get("flavors") or {}).get("sklearn")
    if flavor is None:
        raise RegistryError(f"{what} is not a scikit-learn model (no sklearn flavor in its MLmodel file)")
    serialization = flavor.get("serialization_format")
    if serialization != SKOPS_FORMAT:
        raise UntrustedTypesError(
            f"{what} is saved as {serialization!r}; only {SKOPS_FORMAT!r} models are loaded (pickle can run any code)"
        )
    if "pickled_model" not in flavor:
        raise RegistryError(f"{what}: its MLmodel file names no model file (sklearn flavor key 'pickled_model')")
    path = folder / flavor["pickled_model"]
    check_allowed(skops.io.get_untrusted_types(file=path), allowed, what)
    return skops.io.load(path, trusted=list(allowed))
