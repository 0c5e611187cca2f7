"""Challengers for the gate to judge: a sound retrain, and two broken ones it must block.

- ``retrained_challenger``: the champion's estimator refit on every labelled row of the feature
  set (train and validation months): the routine monthly retrain.
- ``broken_feature_challenger``: trained where a refactoring turned the preparation time around
  (longest became shortest): it learns that slow kitchens make orders *early*. Its metric may
  look tolerable; the directional behavioural test catches it.
- ``shuffled_labels_challenger``: trained on labels shuffled against their rows: no signal at all.

Each returns a ``Candidate`` (module 3), scored on the validation split, ready for ``log_candidate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from mlops_kit.registry.candidates import Candidate, fit_candidate
from mlops_kit.registry.reference import model_pipeline

BROKEN_COLUMN = "prep_time_min"


def final_estimator(model: Any) -> Any:
    """The last step of a fitted pipeline (the estimator itself otherwise)."""
    return model.steps[-1][1] if hasattr(model, "steps") else model


def retrained_challenger(feature_set: Any, champion_model: Any, name: str = "retrain") -> Candidate:
    """The champion's estimator (unfitted clone) refit on train + validation months."""
    everything = pd.concat([feature_set.train, feature_set.valid])
    pipeline = model_pipeline(feature_set.dictionary, clone(final_estimator(champion_model)))
    return fit_candidate(name, pipeline, everything, feature_set.valid)


def mirrored(values: pd.Series) -> pd.Series:
    """Values turned around their range: the largest becomes the smallest."""
    return values.max() + values.min() - values


def broken_feature_challenger(feature_set: Any, column: str = BROKEN_COLUMN, name: str = "broken") -> Candidate:
    """A logistic regression trained on rows whose ``column`` was turned around (a feature bug)."""
    train = feature_set.train.assign(**{column: mirrored(feature_set.train[column])})
    pipeline = model_pipeline(feature_set.dictionary, LogisticRegression(C=1.0, max_iter=1000))
    return fit_candidate(name, pipeline, train, feature_set.valid)


def shuffled_labels_challenger(feature_set: Any, seed: int = 0, name: str = "shuffled") -> Candidate:
    """A logistic regression trained on labels shuffled against their rows."""
    label = feature_set.label
    rng = np.random.default_rng(seed)
    train = feature_set.train.assign(**{label: rng.permutation(feature_set.train[label].to_numpy())})
    pipeline = model_pipeline(feature_set.dictionary, LogisticRegression(C=1.0, max_iter=1000))
    return fit_candidate(name, pipeline, train, feature_set.valid)
