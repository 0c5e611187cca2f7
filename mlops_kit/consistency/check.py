"""The consistency run: every check against one live service, collected into one report.

    sides = compare_sides(model, service.url, orders, dictionary)      # offline vs served
    report = consistency_report(
        "before the fix",
        parity_checks(sides, dictionary, threshold),
        [schema_check(tracking, name, version, service.url, dictionary),
         environment_check(tracking, name, version, service.url, sides)],
        split_and_leakage_checks(feature_set),
    )
    report.write(out, "consistency_before")

The exercises' rules plug in where they belong: ``match`` (tolerance rule), ``compare``
(schema comparison), ``violations`` (split check); the library's own are the defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlops_kit.consistency.environment import environment_parity
from mlops_kit.consistency.leakage import Violations, leakage_check, split_checks, split_violations
from mlops_kit.consistency.live import Side, offline_side, service_json, serving_side
from mlops_kit.consistency.parity import Match, feature_parity, prediction_parity
from mlops_kit.consistency.report import Check, ConsistencyReport
from mlops_kit.consistency.schema import (
    compare_schemas,
    dictionary_columns,
    openapi_columns,
    schema_parity,
    signature_columns,
)
from mlops_kit.consistency.tolerance import Tolerance, values_match
from mlops_kit.features import FeatureDictionary, compute_features


@dataclass(frozen=True)
class Sides:
    """The offline and the served side of the same orders."""

    training: Side
    serving: Side
    rows: int


def compare_sides(
    model: Any, url: str, orders: pd.DataFrame, dictionary: FeatureDictionary, offline: Side | None = None
) -> Sides:
    """Run ``orders`` (key + raw inputs) through the offline path and through the service at ``url``.

    ``offline``: the offline side of the same ``orders`` when it was already computed (it does not
    depend on the service, so checking two services computes it once).
    """
    training = offline if offline is not None else offline_side(model, orders, dictionary)
    return Sides(training, serving_side(url, orders, dictionary), len(orders))


def compare_services(
    model: Any, urls: Mapping[str, str], orders: pd.DataFrame, dictionary: FeatureDictionary
) -> dict[str, Sides]:
    """``compare_sides`` against several services at once: ``{label: Sides}`` for ``urls`` ``{label: url}``.

    The offline side is computed once; the services are asked concurrently (each works in its own
    process while the others answer).
    """
    offline = offline_side(model, orders, dictionary)
    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        futures = {
            label: pool.submit(compare_sides, model, url, orders, dictionary, offline) for label, url in urls.items()
        }
        return {label: future.result() for label, future in futures.items()}


def parity_checks(
    sides: Sides,
    dictionary: FeatureDictionary,
    threshold: float,
    tolerances: Mapping[str, Tolerance] | None = None,
    match: Match = values_match,
) -> list[Check]:
    """Feature parity (per feature, with ``match`` and ``tolerances``) and prediction parity."""
    key = dictionary.key.name
    dtypes = {feature.name: feature.dtype for feature in dictionary.features}
    return [
        feature_parity(sides.training.features, sides.serving.features, key, dtypes, tolerances, match),
        prediction_parity(
            sides.training.predictions, sides.serving.predictions, key, dictionary.prediction.name, threshold
        ),
    ]


def registered_signature(tracking: Any, model_name: str, version: str) -> list[dict[str, Any]]:
    """The input columns of a registered version's MLflow signature (``[]`` when it has none)."""
    import mlflow  # only when the registry is read

    tracking.activate()
    info = mlflow.models.get_model_info(tracking.client().get_model_version_download_uri(model_name, str(version)))
    if info.signature is None or info.signature.inputs is None:
        return []
    return list(info.signature.inputs.to_dict())


def schema_check(
    tracking: Any, model_name: str, version: str, url: str, dictionary: FeatureDictionary, compare=compare_schemas
) -> Check:
    """Dictionary vs the registered signature vs the live service's ``/openapi.json``."""
    key = dictionary.key.name
    sources = {
        "dictionary": dictionary_columns(dictionary),
        "signature": signature_columns(registered_signature(tracking, model_name, version), key),
        "openapi": openapi_columns(service_json(url, "/openapi.json"), key),
    }
    return schema_parity(sources, compare)


def environment_check(tracking: Any, model_name: str, version: str, url: str, sides: Sides | None = None) -> Check:
    """The service's ``/metadata`` packages against the training run's ``env.*`` tags (and the feature code)."""
    from mlops_kit.registry import get_version

    facts = get_version(tracking, model_name, str(version))
    run_tags = tracking.client().get_run(facts.run_id).data.tags
    metadata = service_json(url, "/metadata")
    return environment_parity(
        run_tags,
        metadata.get("packages", {}),
        facts.tags.get("feature_set_version"),
        sides.serving.feature_set_version if sides is not None else None,
    )


def split_and_leakage_checks(
    train: pd.DataFrame, valid: pd.DataFrame, dictionary: FeatureDictionary, violations: Violations = split_violations
) -> list[Check]:
    """Time order and shared ids of the split, and no feature computed from the label (on train)."""
    key, timestamp, label = dictionary.key.name, dictionary.timestamp.name, dictionary.label.name
    checks = split_checks(train, valid, key, timestamp, violations)
    checks.append(leakage_check(compute_features(train, dictionary), train[label], dictionary))
    return checks


def consistency_report(title: str, *groups: Iterable[Check], **context: Any) -> ConsistencyReport:
    """One report of every check in ``groups``, with ``context`` (what was compared) on top."""
    return ConsistencyReport(title, [check for group in groups for check in group], dict(context))
