"""The smoke test: real requests from the held-out batch, every answer checked.

Each order goes in its own ``POST /predict`` with its own request id. An answer passes when it
is a 200, echoes the request id, names the expected model version, carries exactly one
prediction for that order, a probability in [0, 1] that matches the registered model's
in-process prediction (``expected``), and a decision consistent with the threshold.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import httpx
import pandas as pd

from mlops_kit.features import FeatureDictionary, load_feature_dictionary
from mlops_kit.serving import orders_json

MATCH_TOLERANCE = 1e-6


def utc_now() -> str:
    """The current time, UTC, ISO 8601 with microseconds (orders the deploy steps)."""
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="microseconds")


def smoke_orders(eval_batch: pd.DataFrame, size: int, seed: int = 0) -> pd.DataFrame:
    """``size`` orders of the held-out batch (a seeded sample; all of it when smaller), inputs and key only."""
    dictionary = load_feature_dictionary()
    columns = [dictionary.key.name, *dictionary.input_names]
    picked = eval_batch if len(eval_batch) <= size else eval_batch.sample(n=size, random_state=seed).sort_index()
    return picked[[c for c in columns if c in picked.columns]]


def check_answer(
    answer: httpx.Response,
    request_id: str,
    order_id: Any,
    version: str,
    expected: float | None,
    threshold: float,
    dictionary: FeatureDictionary,
) -> list[str]:
    """Problems with one answer (empty: it passed)."""
    if answer.status_code != 200:
        return [f"status {answer.status_code}: {answer.text[:200]}"]
    problems = []
    if answer.headers.get("x-request-id") != request_id:
        problems.append(f"request id not echoed (got {answer.headers.get('x-request-id')!r})")
    body = answer.json()
    if str(body.get("model_version")) != version:
        problems.append(f"answered by version {body.get('model_version')!r}, expected {version!r}")
    predictions = body.get("predictions") or []
    if len(predictions) != 1:
        return [*problems, f"{len(predictions)} predictions for one order"]
    row = predictions[0]
    probability = row.get(dictionary.prediction.name)
    if row.get(dictionary.key.name) != order_id:
        problems.append(f"answer for order {row.get(dictionary.key.name)!r}, sent {order_id!r}")
    if not isinstance(probability, (int, float)) or not math.isfinite(probability) or not 0 <= probability <= 1:
        return [*problems, f"probability {probability!r} is not in [0, 1]"]
    if expected is not None and abs(probability - expected) > MATCH_TOLERANCE:
        problems.append(f"probability {probability:.6f} differs from the registered model's {expected:.6f}")
    if row.get(dictionary.label.name) != int(probability >= threshold):
        problems.append(f"decision {row.get(dictionary.label.name)!r} disagrees with threshold {threshold}")
    return problems


def smoke_test(
    url: str,
    orders: pd.DataFrame,
    version: str,
    threshold: float,
    expected: Sequence[float] | None = None,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """One request per order; a result per request (request id, status, latency, passed, problems, times)."""
    dictionary = load_feature_dictionary()
    key = dictionary.key.name
    results = []
    with httpx.Client(base_url=url, timeout=timeout) as client:
        for position in range(len(orders)):
            order = orders.iloc[[position]]
            order_id = order[key].iloc[0] if key in order.columns else None
            request_id = f"smoke-{position:04d}"
            sent_at, started = utc_now(), time.perf_counter()
            try:
                answer = client.post(
                    "/predict",
                    content=orders_json(order),
                    headers={"Content-Type": "application/json", "X-Request-ID": request_id},
                )
                wanted = None if expected is None else float(expected[position])
                problems = check_answer(answer, request_id, order_id, version, wanted, threshold, dictionary)
                status = answer.status_code
                probability = answer.json()["predictions"][0].get(dictionary.prediction.name) if status == 200 else None
            except (httpx.HTTPError, ValueError, KeyError, IndexError) as error:
                problems, status, probability = [f"{type(error).__name__}: {error}"], None, None
            results.append(
                {
                    "request_id": request_id,
                    "order_id": None if order_id is None else str(order_id),
                    "status": status,
                    dictionary.prediction.name: probability,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "sent_at": sent_at,
                    "answered_at": utc_now(),
                    "passed": not problems,
                    "problems": problems,
                }
            )
    return results
