"""Both sides of the comparison: the offline path in-process, the live service over HTTP.

``offline_side(model, orders, dictionary)``: module 2's shared transformation computes the
feature vectors and the registered model (loaded in-process) the late probabilities.
``serving_side(url, orders, dictionary)``: the same raw orders are sent to the running service,
``POST /features`` (its debug option, on for this check) and ``POST /predict``, in chunks.
Each side is a pair of frames keyed by the order id, ready for ``parity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd

from mlops_kit.features import FeatureDictionary, compute_features, feature_set_version

CHUNK_ROWS = 1_000
"""Orders per request: well under the service's row and body limits."""


@dataclass(frozen=True)
class Side:
    """Features (key + feature columns) and predictions (key + probability) of one path."""

    features: pd.DataFrame
    predictions: pd.DataFrame
    feature_set_version: str | None = None
    """The feature-set version this side computes with (the service reports its own)."""


class ServiceCallError(RuntimeError):
    """The service answered an error or not at all; the message says which endpoint and why."""


def offline_side(model: Any, orders: pd.DataFrame, dictionary: FeatureDictionary) -> Side:
    """Features by module 2's transformation, probabilities by ``model`` (the registered pipeline) in-process."""
    key = dictionary.key.name
    features = compute_features(orders, dictionary)
    features.insert(0, key, orders[key].to_numpy())
    probabilities = model.predict_proba(orders[dictionary.input_names])[:, 1]
    predictions = pd.DataFrame({key: orders[key].to_numpy(), dictionary.prediction.name: probabilities})
    return Side(features.reset_index(drop=True), predictions, feature_set_version(dictionary))


def _post(client: httpx.Client, url: str, body: str) -> dict[str, Any]:
    try:
        answer = client.post(url, content=body, headers={"Content-Type": "application/json"})
    except httpx.HTTPError as error:
        raise ServiceCallError(f"POST {url} failed: {type(error).__name__}: {error}") from error
    if answer.status_code == 404 and url.endswith("/features"):
        raise ServiceCallError(
            f"POST {url} answered 404: start the service with debug_features=True to see its feature vectors"
        )
    if answer.status_code != 200:
        raise ServiceCallError(f"POST {url} answered {answer.status_code}: {answer.text[:300]}")
    return answer.json()


def serving_side(url: str, orders: pd.DataFrame, dictionary: FeatureDictionary, timeout: float = 60.0) -> Side:
    """The service's feature vectors (``/features``) and probabilities (``/predict``) for ``orders``."""
    key, prediction = dictionary.key.name, dictionary.prediction.name
    columns = [key, *dictionary.input_names]
    features: list[dict[str, Any]] = []
    version: str | None = None
    predictions: list[dict[str, Any]] = []
    with httpx.Client(timeout=timeout) as client:
        for start in range(0, len(orders), CHUNK_ROWS):
            body = (
                orders[columns]
                .iloc[start : start + CHUNK_ROWS]
                .to_json(orient="records", date_format="iso", date_unit="s", double_precision=15)
            )
            computed = _post(client, f"{url}/features", body)
            features += computed["features"]
            version = computed.get("feature_set_version")
            answered = _post(client, f"{url}/predict", body)["predictions"]
            predictions += [{key: row[key], prediction: row[prediction]} for row in answered]
    names = [key, *dictionary.feature_names]
    return Side(pd.DataFrame(features, columns=names), pd.DataFrame(predictions, columns=[key, prediction]), version)


def service_json(url: str, path: str, timeout: float = 30.0) -> dict[str, Any]:
    """``GET {url}{path}`` as JSON (``/metadata``, ``/openapi.json``); ServiceCallError otherwise."""
    try:
        answer = httpx.get(f"{url}{path}", timeout=timeout)
    except httpx.HTTPError as error:
        raise ServiceCallError(f"GET {url}{path} failed: {type(error).__name__}: {error}") from error
    if answer.status_code != 200:
        raise ServiceCallError(f"GET {url}{path} answered {answer.status_code}: {answer.text[:300]}")
    return answer.json()
