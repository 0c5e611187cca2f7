"""The feature dictionary: one JSON file that says what every raw field and every feature is.

It sits below every stage because it is the one declaration of the raw order columns
(``mlops_kit.domain`` derives them from its key, inputs and label); module 2's
``mlops_kit.features`` re-exports it with the transformation built from it.

Training reads it to build the feature transformation; serving reads it to generate the
request and response models. Each entry has a name, a dtype, a description and (features)
a version; ``load_feature_dictionary`` checks the file and names the entry that is wrong.

File layout (``feature_dictionary.json``)::

    {"name": ..., "description": ...,
     "key": {field}, "timestamp": {field}, "label": {field}, "prediction": {field},
     "inputs": [{field}, ...],              # the raw order fields a request carries
     "features": [{feature}, ...]}          # in model order

    field:   name, dtype, description; optional unit, min, max, categories
    feature: name, dtype, description, version, inputs (input names), compute
             (the name of a computation); optional unit
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_kit.io import atomic_write_json

DICTIONARY_PATH: Path = Path(__file__).resolve().parent / "features" / "feature_dictionary.json"
"""The shipped dictionary (package data of ``mlops_kit.features``, module 2's part)."""
DTYPES: tuple[str, ...] = ("bool", "category", "datetime", "float", "int", "str")
FEATURE_DTYPES: tuple[str, ...] = ("bool", "category", "float", "int")
PANDAS_DTYPES: dict[str, str] = {
    "bool": "bool",
    "category": "str",
    "datetime": "datetime64[us]",
    "float": "float64",
    "int": "int64",
    "str": "str",
}
"""The pandas dtype of each dictionary dtype (categories are plain strings)."""

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_FIELD_REQUIRED = ("name", "dtype", "description")
_FIELD_OPTIONAL = ("unit", "min", "max", "categories")
_FEATURE_REQUIRED = ("name", "dtype", "description", "version", "inputs", "compute")
_FEATURE_OPTIONAL = ("unit",)
_TOP_REQUIRED = ("name", "description", "key", "timestamp", "label", "prediction", "inputs", "features")
_ROLES = ("key", "timestamp", "label", "prediction")


class FeatureDictionaryError(ValueError):
    """The feature dictionary (file or entry) is malformed; the message names the entry and field."""


@dataclass(frozen=True)
class FieldSpec:
    """A raw field: the key, timestamp, label, prediction or one input of a request."""

    name: str
    dtype: str
    description: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, optional fields only when set."""
        entry: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "description": self.description}
        if self.unit:
            entry["unit"] = self.unit
        if self.min is not None:
            entry["min"] = self.min
        if self.max is not None:
            entry["max"] = self.max
        if self.categories:
            entry["categories"] = list(self.categories)
        return entry


@dataclass(frozen=True)
class FeatureSpec:
    """One model feature: computed by ``compute`` from the ``inputs`` columns."""

    name: str
    dtype: str
    description: str
    version: int
    inputs: tuple[str, ...]
    compute: str
    unit: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        entry: dict[str, Any] = {
            "name": self.name,
            "dtype": self.dtype,
            "description": self.description,
            "version": self.version,
            "inputs": list(self.inputs),
            "compute": self.compute,
        }
        if self.unit:
            entry["unit"] = self.unit
        return entry


@dataclass(frozen=True)
class FeatureDictionary:
    """The whole dictionary: key, timestamp, label, prediction, request inputs and features."""

    name: str
    description: str
    key: FieldSpec
    timestamp: FieldSpec
    label: FieldSpec
    prediction: FieldSpec
    inputs: tuple[FieldSpec, ...]
    features: tuple[FeatureSpec, ...] = field(default=())

    @property
    def feature_names(self) -> list[str]:
        """Feature names in model order (what the transformer's ``get_feature_names_out`` gives)."""
        return [feature.name for feature in self.features]

    @property
    def input_names(self) -> list[str]:
        """Names of the raw order fields the features are computed from."""
        return [spec.name for spec in self.inputs]

    def feature(self, name: str) -> FeatureSpec:
        """The feature called ``name``; KeyError naming the known ones otherwise."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"no feature {name!r} in the dictionary; features: {', '.join(self.feature_names)}")

    def input(self, name: str) -> FieldSpec:
        """The input field called ``name``; KeyError naming the known ones otherwise."""
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(f"no input {name!r} in the dictionary; inputs: {', '.join(self.input_names)}")

    def names_of(self, *dtypes: str) -> list[str]:
        """Feature names with one of ``dtypes``, in model order."""
        return [feature.name for feature in self.features if feature.dtype in dtypes]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what ``save`` writes and what the feature-set version hashes)."""
        payload: dict[str, Any] = {"name": self.name, "description": self.description}
        payload.update({role: getattr(self, role).to_dict() for role in _ROLES})
        payload["inputs"] = [spec.to_dict() for spec in self.inputs]
        payload["features"] = [feature.to_dict() for feature in self.features]
        return payload

    def with_feature(self, entry: Mapping[str, Any] | FeatureSpec) -> FeatureDictionary:
        """A new dictionary with one more feature at the end, checked like a loaded file."""
        new = entry.to_dict() if isinstance(entry, FeatureSpec) else entry
        if not isinstance(new, Mapping):
            raise FeatureDictionaryError(f"a feature entry must be a dict, got {type(new).__name__}")
        payload = self.to_dict()
        payload["features"] = [*payload["features"], dict(new)]
        return parse_feature_dictionary(payload, source="with_feature")

    def save(self, path: str | Path) -> Path:
        """Write the dictionary as JSON, atomically."""
        return atomic_write_json(path, self.to_dict())

    def table(self) -> Any:
        """The features as a DataFrame (name, dtype, version, inputs, compute, description)."""
        import pandas as pd  # here: the raw columns (mlops_kit.domain) are read without pandas

        return pd.DataFrame(
            [(f.name, f.dtype, f.version, ", ".join(f.inputs), f.compute, f.description) for f in self.features],
            columns=["feature", "dtype", "version", "inputs", "compute", "description"],
        )

    def __repr__(self) -> str:
        return f"FeatureDictionary({self.name!r}, {len(self.features)} features: {', '.join(self.feature_names)})"


def load_feature_dictionary(path: str | Path | None = None) -> FeatureDictionary:
    """Read and check a feature dictionary file (default: the one shipped with mlops_kit).

    Raises FeatureDictionaryError naming the file, the entry and the field for a missing
    file, invalid JSON, a missing or unknown field, an unknown dtype or a duplicate name.
    """
    source = Path(path) if path is not None else DICTIONARY_PATH
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise FeatureDictionaryError(f"{source}: feature dictionary file not found") from error
    except (OSError, UnicodeDecodeError) as error:
        raise FeatureDictionaryError(f"{source}: cannot read the feature dictionary: {error}") from error
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise FeatureDictionaryError(
            f"{source}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error
    return parse_feature_dictionary(payload, source=str(source))


def parse_feature_dictionary(payload: Any, source: str = "<dict>") -> FeatureDictionary:
    """Check a dictionary's JSON form and build it; FeatureDictionaryError names what is wrong."""
    if not isinstance(payload, Mapping):
        raise FeatureDictionaryError(f"{source}: the top level must be a JSON object, got {type(payload).__name__}")
    _check_keys(payload, _TOP_REQUIRED, (), source)
    for name in ("name", "description"):
        _text(payload[name], f"{source}: {name}")
    roles = {role: _field(payload[role], f"{source}: {role}") for role in _ROLES}
    inputs = tuple(
        _field(entry, f"{source}: inputs[{index}]")
        for index, entry in enumerate(_list(payload["inputs"], f"{source}: inputs"))
    )
    _no_duplicates([spec.name for spec in inputs], f"{source}: inputs")
    features = tuple(
        _feature(entry, f"{source}: features[{index}]")
        for index, entry in enumerate(_list(payload["features"], f"{source}: features"))
    )
    if not features:
        raise FeatureDictionaryError(f"{source}: features: the dictionary declares no feature")
    _no_duplicates([feature.name for feature in features], f"{source}: features")
    dictionary = FeatureDictionary(
        name=payload["name"],
        description=payload["description"],
        inputs=inputs,
        features=features,
        **roles,
    )
    _check_references(dictionary, source)
    return dictionary


def _check_keys(entry: Mapping[str, Any], required: Sequence[str], optional: Sequence[str], where: str) -> None:
    missing = [key for key in required if key not in entry]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise FeatureDictionaryError(f"{where}: missing field{plural} {', '.join(map(repr, missing))}")
    unknown = sorted(str(key) for key in entry if key not in required and key not in optional)
    if unknown:
        allowed = ", ".join([*required, *optional])
        raise FeatureDictionaryError(f"{where}: unknown field {', '.join(map(repr, unknown))} (allowed: {allowed})")


def _entry(entry: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        raise FeatureDictionaryError(f"{where}: must be a JSON object, got {type(entry).__name__}")
    return entry


def _named(entry: Mapping[str, Any], where: str) -> str:
    """``where`` extended with the entry's name when it has a usable one."""
    name = entry.get("name")
    return f"{where} ({name!r})" if isinstance(name, str) and name else where


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FeatureDictionaryError(f"{where}: must be a non-empty string, got {value!r}")
    return value


def _identifier(value: Any, where: str) -> str:
    _text(value, where)
    if not _NAME.fullmatch(value):
        raise FeatureDictionaryError(
            f"{where}: {value!r} is not a valid name (lower-case letters, digits and _, starting with a letter)"
        )
    return value


def _dtype(value: Any, allowed: Sequence[str], where: str) -> str:
    if value not in allowed:
        raise FeatureDictionaryError(f"{where}: unknown dtype {value!r}; known: {', '.join(allowed)}")
    return value


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FeatureDictionaryError(f"{where}: must be a number, got {value!r}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise FeatureDictionaryError(f"{where}: must be a JSON list, got {type(value).__name__}")
    return value


def _no_duplicates(names: Sequence[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise FeatureDictionaryError(f"{where}: duplicate name {name!r}")
        seen.add(name)


def _field(entry: Any, where: str) -> FieldSpec:
    entry = _entry(entry, where)
    where = _named(entry, where)
    _check_keys(entry, _FIELD_REQUIRED, _FIELD_OPTIONAL, where)
    categories = entry.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) and c for c in categories):
        raise FeatureDictionaryError(f"{where}: categories must be a list of non-empty strings, got {categories!r}")
    spec = FieldSpec(
        name=_identifier(entry["name"], f"{where}: name"),
        dtype=_dtype(entry["dtype"], DTYPES, f"{where}: dtype"),
        description=_text(entry["description"], f"{where}: description"),
        unit=_optional_text(entry.get("unit", ""), f"{where}: unit"),
        min=_number(entry.get("min"), f"{where}: min"),
        max=_number(entry.get("max"), f"{where}: max"),
        categories=tuple(categories),
    )
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        raise FeatureDictionaryError(f"{where}: min {spec.min} is above max {spec.max}")
    if spec.categories and spec.dtype != "category":
        raise FeatureDictionaryError(f"{where}: only a category field has categories (dtype is {spec.dtype!r})")
    return spec


def _optional_text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise FeatureDictionaryError(f"{where}: must be a string, got {value!r}")
    return value


def _feature(entry: Any, where: str) -> FeatureSpec:
    entry = _entry(entry, where)
    where = _named(entry, where)
    _check_keys(entry, _FEATURE_REQUIRED, _FEATURE_OPTIONAL, where)
    version = entry["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FeatureDictionaryError(f"{where}: version must be a whole number of 1 or more, got {version!r}")
    inputs = _list(entry["inputs"], f"{where}: inputs")
    if not inputs:
        raise FeatureDictionaryError(f"{where}: inputs must name at least one input column")
    for position, name in enumerate(inputs):
        _text(name, f"{where}: inputs[{position}]")
    _no_duplicates(inputs, f"{where}: inputs")
    return FeatureSpec(
        name=_identifier(entry["name"], f"{where}: name"),
        dtype=_dtype(entry["dtype"], FEATURE_DTYPES, f"{where}: dtype"),
        description=_text(entry["description"], f"{where}: description"),
        version=version,
        inputs=tuple(inputs),
        compute=_identifier(entry["compute"], f"{where}: compute"),
        unit=_optional_text(entry.get("unit", ""), f"{where}: unit"),
    )


def _check_references(dictionary: FeatureDictionary, source: str) -> None:
    """Features read declared inputs only, never the label; a feature named like an input is that input."""
    inputs = set(dictionary.input_names)
    for role in ("key", "label", "prediction"):
        name = getattr(dictionary, role).name
        if name in inputs:
            raise FeatureDictionaryError(f"{source}: inputs: {name!r} is the {role}, it cannot be a model input")
    if dictionary.timestamp.name not in inputs:
        raise FeatureDictionaryError(f"{source}: timestamp {dictionary.timestamp.name!r} must also be listed in inputs")
    for index, feature in enumerate(dictionary.features):
        where = f"{source}: features[{index}] ({feature.name!r})"
        for name in feature.inputs:
            if name == dictionary.label.name:
                raise FeatureDictionaryError(
                    f"{where}: reads the label {name!r}; a feature computed from the label leaks the answer"
                )
            if name not in inputs:
                raise FeatureDictionaryError(
                    f"{where}: input {name!r} is not declared in inputs ({', '.join(dictionary.input_names)})"
                )
        if feature.name in (dictionary.key.name, dictionary.label.name, dictionary.prediction.name):
            raise FeatureDictionaryError(f"{where}: a feature cannot be named like the key, label or prediction")
        if feature.name in inputs and (feature.inputs != (feature.name,) or feature.compute != "identity"):
            raise FeatureDictionaryError(
                f"{where}: has the name of the input {feature.name!r} but is computed differently; give it its own name"
            )
