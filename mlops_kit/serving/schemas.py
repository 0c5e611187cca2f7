"""Request and response models generated from the feature dictionary, so serving and training agree.

``order_model(dictionary)`` has one field per raw input (name, type, bounds and description from
the dictionary) plus the optional order key; ``prediction_model`` and ``response_model`` say
what comes back. The service validates a body with ``orders_adapter`` so an error's location is
``(row, field)``, whether the body was one order or a list.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NaiveDatetime, TypeAdapter, create_model

from mlops_kit.features import FeatureDictionary, FieldSpec, load_feature_dictionary

PYTHON_TYPES: dict[str, Any] = {
    "bool": bool,
    "category": str,
    "datetime": NaiveDatetime,
    "float": float,
    "int": int,
    "str": str,
}
"""The pydantic type of each dictionary dtype (times carry no zone, as in the data)."""


def _field(spec: FieldSpec) -> tuple[Any, Any]:
    """``(type, Field)`` of one input: required, bounded by the dictionary's min and max."""
    description = spec.description + (f" ({spec.unit})" if spec.unit else "")
    if spec.categories:
        description += f" Known values: {', '.join(spec.categories)}."
    bounds: dict[str, Any] = {}
    if spec.dtype in ("float", "int"):
        if spec.min is not None:
            bounds["ge"] = spec.min
        if spec.max is not None:
            bounds["le"] = spec.max
    if spec.dtype == "float":
        bounds["allow_inf_nan"] = False
    if spec.dtype in ("category", "str"):
        bounds["min_length"] = 1
    return PYTHON_TYPES[spec.dtype], Field(..., description=description, **bounds)


@lru_cache(maxsize=8)
def _order_model(dictionary: FeatureDictionary) -> type[BaseModel]:
    fields: dict[str, Any] = {
        dictionary.key.name: (str | None, Field(default=None, description=dictionary.key.description))
    }
    fields.update({spec.name: _field(spec) for spec in dictionary.inputs})
    return create_model(
        "Order",
        __config__=ConfigDict(extra="ignore", str_strip_whitespace=True),
        __doc__=f"One order as the service receives it: the raw inputs of {dictionary.name!r}.",
        **fields,
    )


def order_model(dictionary: FeatureDictionary | None = None) -> type[BaseModel]:
    """The request model of one order (cached per dictionary)."""
    return _order_model(dictionary or load_feature_dictionary())


def orders_adapter(dictionary: FeatureDictionary | None = None) -> TypeAdapter:
    """Validates a list of order dicts; an error's ``loc`` is ``(row, field)``."""
    return TypeAdapter(list[order_model(dictionary)])


@lru_cache(maxsize=8)
def _prediction_model(dictionary: FeatureDictionary) -> type[BaseModel]:
    prediction, label = dictionary.prediction, dictionary.label
    return create_model(
        "Prediction",
        **{
            dictionary.key.name: (str | None, Field(default=None, description=dictionary.key.description)),
            prediction.name: (float, Field(..., ge=0.0, le=1.0, description=prediction.description)),
            label.name: (int, Field(..., description=f"The decision: 1 when {prediction.name} ≥ the threshold.")),
            "unknown_categories": (
                list[str],
                Field(default_factory=list, description="Fields whose value the model never saw (policy 'flag')."),
            ),
        },
    )


def prediction_model(dictionary: FeatureDictionary | None = None) -> type[BaseModel]:
    """One answer row: the order key, the probability, the decision, unseen categories."""
    return _prediction_model(dictionary or load_feature_dictionary())


@lru_cache(maxsize=8)
def _response_model(dictionary: FeatureDictionary) -> type[BaseModel]:
    return create_model(
        "PredictResponse",
        request_id=(str, Field(..., description="Echo of X-Request-ID, or generated.")),
        model_name=(str, ...),
        model_version=(str, Field(..., description="The registered version that answered.")),
        threshold=(float, ...),
        unknown_category_policy=(str, ...),
        predictions=(list[_prediction_model(dictionary)], ...),
    )


def response_model(dictionary: FeatureDictionary | None = None) -> type[BaseModel]:
    """The body of a ``/predict`` answer (always a list of predictions, one per order sent)."""
    return _response_model(dictionary or load_feature_dictionary())


def request_schema(dictionary: FeatureDictionary | None = None) -> dict[str, Any]:
    """OpenAPI schema of the ``/predict`` body: one order, or a non-empty list of orders."""
    one = order_model(dictionary).model_json_schema()
    return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}], "title": "Orders"}
