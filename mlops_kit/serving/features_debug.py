"""The feature vector the service computed, for the consistency check (module 6); off by default.

``FeatureTap`` wraps the served pipeline (whose first step is module 2's shared feature
transformation): ``features(frame)`` is that step's output, with the planted skew applied when
the config declares one, and ``predict_proba`` predicts from exactly those features, so what
``/features`` shows is what ``/predict`` used. ``add_features_endpoint`` adds ``POST /features``
(same body as ``/predict``) when ``ServiceConfig.debug_features`` is on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import Body, FastAPI, Request
from fastapi.responses import Response

from mlops_kit.features import feature_set_version
from mlops_kit.serving.skew import SkewSpec, skew_features

FEATURES_PATH = "/features"


class FeatureTap:
    """The served pipeline split after its feature step, with an optional skew in between."""

    def __init__(self, pipeline: Any, skew: SkewSpec | None = None) -> None:
        steps = getattr(pipeline, "steps", None)
        if not steps or len(steps) < 2:
            raise ValueError("the served model is not a pipeline whose first step computes the features")
        self.pipeline = pipeline
        self.skew = skew
        self.feature_step = steps[0][1]
        self.rest = pipeline[1:]
        self.steps = steps

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature vectors the service computes for ``frame`` (skewed when a skew is planted)."""
        computed = self.feature_step.transform(frame)
        return computed if self.skew is None else skew_features(computed, self.skew)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.skew is None:
            return self.pipeline.predict_proba(frame)
        return self.rest.predict_proba(self.features(frame))


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else str(value)


def add_features_endpoint(
    app: FastAPI, served: Any, parse_orders: Callable[[str, Any], Any], respond: Callable[..., Response]
) -> None:
    """``POST /features``: each order's key and the feature vector the service computed for it.

    ``parse_orders(request_id, payload)`` is the service's own request validation (a list of
    orders, or the error Response); ``respond(payload)`` its JSON response.
    """
    tap = served.model
    key = served.dictionary.key.name
    version = feature_set_version(served.dictionary)

    @app.post(FEATURES_PATH)
    def features(request: Request, payload: Annotated[Any, Body()]) -> Response:
        """Debug: the feature vectors the service computed (module 2's transformation, as served)."""
        request_id = request.state.request_id
        orders = parse_orders(request_id, payload)
        if isinstance(orders, Response):
            return orders
        columns = {name: [getattr(order, name) for order in orders] for name in served.input_names}
        computed = tap.features(served.frame(columns))
        rows = [
            {key: getattr(order, key), **row}
            for order, row in zip(orders, computed.to_dict(orient="records"), strict=True)
        ]
        return respond(
            {
                "request_id": request_id,
                "model_version": served.version,
                "feature_set_version": version,
                "features": json.loads(json.dumps(rows, default=_native)),
            }
        )
