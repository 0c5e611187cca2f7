"""Module 2, the feature dictionary and the feature transformation that training and serving share.

Typical use::

    dictionary = load_feature_dictionary()                 # the shipped feature_dictionary.json
    transformer = build_feature_transformer(dictionary)    # clean orders → features (pandas)
    model = Pipeline([("features", transformer), ("encode", build_encoder(dictionary)), ("model", estimator)])
    feature_set_version(dictionary)                        # hash of the dictionary and the code

``TRUSTED_TYPES`` lists the mlops_kit classes a saved model pipeline contains, for loaders
that only construct trusted types (skops, MLflow's default sklearn format).
"""

from mlops_kit.features.computations import COMPUTATIONS, DINNER_RUSH, LUNCH_RUSH
from mlops_kit.features.dictionary import (
    DICTIONARY_PATH,
    DTYPES,
    FEATURE_DTYPES,
    PANDAS_DTYPES,
    FeatureDictionary,
    FeatureDictionaryError,
    FeatureSpec,
    FieldSpec,
    load_feature_dictionary,
    parse_feature_dictionary,
)
from mlops_kit.features.transform import (
    FeatureEncoder,
    OrderFeatures,
    build_encoder,
    build_feature_transformer,
    compute_features,
    resolve_computations,
)
from mlops_kit.features.version import feature_set_version

TRUSTED_TYPES: list[str] = [f"{step.__module__}.{step.__qualname__}" for step in (OrderFeatures, FeatureEncoder)]
"""Fully qualified names of the custom types in a model pipeline built from the shipped dictionary."""

__all__ = [
    "COMPUTATIONS",
    "DICTIONARY_PATH",
    "DINNER_RUSH",
    "DTYPES",
    "FEATURE_DTYPES",
    "LUNCH_RUSH",
    "PANDAS_DTYPES",
    "TRUSTED_TYPES",
    "FeatureEncoder",
    "OrderFeatures",
    "FeatureDictionary",
    "FeatureDictionaryError",
    "FeatureSpec",
    "FieldSpec",
    "build_encoder",
    "build_feature_transformer",
    "compute_features",
    "feature_set_version",
    "load_feature_dictionary",
    "parse_feature_dictionary",
    "resolve_computations",
]
