"""The feature dictionary, re-exported from ``mlops_kit.dictionary`` (where the raw columns are derived from it)."""

from mlops_kit.dictionary import (
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

__all__ = [
    "DICTIONARY_PATH",
    "DTYPES",
    "FEATURE_DTYPES",
    "PANDAS_DTYPES",
    "FeatureDictionary",
    "FeatureDictionaryError",
    "FeatureSpec",
    "FieldSpec",
    "load_feature_dictionary",
    "parse_feature_dictionary",
]
