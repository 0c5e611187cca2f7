"""Schema parity: the feature dictionary, the model's signature in the registry and the service's OpenAPI schema.

Each source is read into one list of ``(name, type)`` in its own order, with types in one shared
vocabulary (``string``, ``datetime``, ``number``, ``integer``, ``boolean``): the dictionary's
inputs (``dictionary_columns``), the registered version's MLflow signature
(``signature_columns``) and the request schema of one order in the running service's
``/openapi.json`` (``openapi_columns``). ``compare_schemas`` names every difference against the
dictionary: a missing or extra field, another order, another type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mlops_kit.consistency.report import Check
from mlops_kit.features import FeatureDictionary

Columns = list[tuple[str, str]]
DICTIONARY_TYPES = {
    "category": "string",
    "str": "string",
    "datetime": "datetime",
    "float": "number",
    "int": "integer",
    "bool": "boolean",
}
SIGNATURE_TYPES = {
    "string": "string",
    "datetime": "datetime",
    "double": "number",
    "float": "number",
    "long": "integer",
    "integer": "integer",
    "boolean": "boolean",
}
PREDICT_PATH = "/predict"


def dictionary_columns(dictionary: FeatureDictionary) -> Columns:
    """The dictionary's raw inputs, in order."""
    return [(spec.name, DICTIONARY_TYPES[spec.dtype]) for spec in dictionary.inputs]


def signature_columns(signature_inputs: list[Mapping[str, Any]], key: str) -> Columns:
    """A signature's input columns (``signature.inputs.to_dict()``), without the order key."""
    return [
        (str(item["name"]), SIGNATURE_TYPES.get(str(item.get("type")), str(item.get("type"))))
        for item in signature_inputs
        if item.get("name") != key
    ]


def _openapi_type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if kind is None and "anyOf" in schema:
        kinds = [option for option in schema["anyOf"] if option.get("type") != "null"]
        return _openapi_type(kinds[0]) if len(kinds) == 1 else "mixed"
    if kind == "string" and schema.get("format") == "date-time":
        return "datetime"
    return str(kind)


def _resolve(document: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with a local ``$ref`` (``#/components/schemas/...``) followed."""
    while "$ref" in schema:
        node: Any = document
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def request_order_schema(document: Mapping[str, Any], path: str = PREDICT_PATH) -> Mapping[str, Any]:
    """The schema of one order in ``path``'s JSON request body (one order, or a list of them)."""
    try:
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    except (KeyError, TypeError):
        raise ValueError(f"the OpenAPI document has no JSON request body for POST {path}") from None
    candidates = [_resolve(document, body)]
    candidates += [_resolve(document, option) for option in candidates[0].get("anyOf", [])]
    for candidate in candidates:
        if "properties" in candidate:
            return candidate
    raise ValueError(f"the request body of POST {path} declares no object with properties")


def openapi_columns(document: Mapping[str, Any], key: str) -> Columns:
    """The fields of one order in the service's ``/predict`` request schema (``/openapi.json``), without the key."""
    properties = request_order_schema(document)["properties"]
    return [(name, _openapi_type(_resolve(document, schema))) for name, schema in properties.items() if name != key]


def compare_schemas(sources: Mapping[str, Columns]) -> list[str]:
    """Every difference of each source from the first one (the dictionary): fields, order, types."""
    (reference_name, reference), *others = list(sources.items())
    wanted = [name for name, _ in reference]
    types = dict(reference)
    problems = []
    for source, columns in others:
        names = [name for name, _ in columns]
        missing = [name for name in wanted if name not in names]
        extra = [name for name in names if name not in wanted]
        if missing:
            problems.append(f"{source} lacks the fields {missing} that the {reference_name} declares")
        if extra:
            problems.append(f"{source} has fields the {reference_name} does not declare: {extra}")
        if not missing and not extra and names != wanted:
            problems.append(f"{source} orders the fields {names}, the {reference_name} {wanted}")
        for name, kind in columns:
            if name in types and kind != types[name]:
                problems.append(f"{source}: field {name!r} is {kind}, the {reference_name} says {types[name]}")
    return problems


def schema_parity(
    sources: Mapping[str, Columns], compare: Callable[[Mapping[str, Columns]], list[str]] = compare_schemas
) -> Check:
    """The schema check: ``compare(sources)`` finds no difference."""
    if len(sources) < 2:
        raise ValueError(f"schema parity needs at least two sources, got {list(sources)}")
    problems = list(compare(sources))
    details = {
        "sources": {name: [list(column) for column in columns] for name, columns in sources.items()},
        "problems": problems,
    }
    names = ", ".join(sources)
    if problems:
        return Check("schema_parity", "schema", False, f"{len(problems)} differences: " + "; ".join(problems), details)
    first = next(iter(sources.values()))
    return Check("schema_parity", "schema", True, f"{names} agree on {len(first)} fields: names, types, order", details)
