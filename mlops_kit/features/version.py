"""The feature-set version: a hash of the dictionary and of the code that computes the features.

Two feature sets with the same version were computed by the same definitions and the same
code, so a model trained on one can be served with the other. Change a description, add a
feature or edit a computation, and the version changes.
"""

from __future__ import annotations

from collections.abc import Mapping

import mlops_kit.features.computations as _computations
import mlops_kit.features.transform as _transform
from mlops_kit.features.computations import Computation
from mlops_kit.features.dictionary import FeatureDictionary
from mlops_kit.hashing import code_version, hash_value

TRANSFORMATION_CODE = (_computations, _transform)
"""The modules whose source is part of every feature-set version."""


def feature_set_version(dictionary: FeatureDictionary, computations: Mapping[str, Computation] | None = None) -> str:
    """16 hex characters: sha256 of the dictionary, the transformation code and extra computations used."""
    used = {feature.compute for feature in dictionary.features}
    extra = {name: code_version(function) for name, function in sorted((computations or {}).items()) if name in used}
    return hash_value(
        {
            "dictionary": dictionary.to_dict(),
            "transformation_code": code_version(*TRANSFORMATION_CODE),
            "computations": extra,
        }
    )
