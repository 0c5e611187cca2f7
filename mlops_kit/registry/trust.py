"""Which types a logged model may hold: skops loads only types someone reviewed.

MLflow saves scikit-learn models with skops, which refuses to load any type outside its own
safe list unless told to trust it. The course keeps one allow-list of reviewed types (the
feature pipeline's custom transformers and scikit-learn's tree structure) and hands it to
MLflow when logging, so a model holding any other type is refused at logging time. At loading
time the list recorded in the model's MLmodel file (which comes with the model, so anyone who
can write the model can write it) is checked against ours before anything is deserialised.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from mlops_kit.registry.errors import UntrustedTypesError

# scikit-learn types outside skops' default safe list that the course reviewed and uses.
REVIEWED_SKLEARN_TYPES: tuple[str, ...] = ("sklearn.tree._tree.Tree",)
_DESERIALIZATION_ENV = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"


def allowed_types(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The course's allow-list: reviewed scikit-learn types, the feature pipeline's types, ``extra``."""
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


@contextmanager
def deserialization_allowed() -> Iterator[None]:
    """Let MLflow deserialise a model for the duration of the block (types checked beforehand)."""
    previous = os.environ.get(_DESERIALIZATION_ENV)
    os.environ[_DESERIALIZATION_ENV] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_DESERIALIZATION_ENV, None)
        else:
            os.environ[_DESERIALIZATION_ENV] = previous
