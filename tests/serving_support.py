"""A real MLflow registry for the service and deploy tests, built once per test process.

Three versions of ``late-delivery`` trained on the shipped data with module 3's reference pieces
(feature set, model pipeline, lineage, model card): version 1 is the champion (logistic
regression), version 2 a sound retrain, version 3 a challenger trained with a broken feature
(``mlops_kit.gates.broken_feature_challenger``) that the gate must block.
"""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

MODEL = "late-delivery"
SERVING_MARKS = [
    pytest.mark.xdist_group("serving"),  # one process builds the registry and runs the services
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
]
"""The ``pytestmark`` of every test file that uses this module's registry and starts services."""
START_TIMEOUT = 300
"""Seconds a service may take to be ready: a loaded 2-core machine imports sklearn and mlflow slowly."""


@dataclass(frozen=True)
class Registry:
    artifacts: Path
    uri: str
    champion: str
    good: str
    broken: str
    eval_batch: pd.DataFrame
    orders: pd.DataFrame  # held-out orders, inputs and key only


@functools.lru_cache(maxsize=1)
def build_registry(root: str) -> Registry:
    from sklearn.linear_model import LogisticRegression

    from mlops_kit.data import SHIPPED_DATA_DIR
    from mlops_kit.gates import broken_feature_challenger, evaluation_batch, retrained_challenger
    from mlops_kit.pipeline import ensure_feature_set
    from mlops_kit.registry import PromotionPolicy, connect, fit_candidate, log_candidate, promote
    from mlops_kit.registry.reference import model_pipeline, reference_card, reference_lineage

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    artifacts = Path(root) / "artifacts"
    feature_set = ensure_feature_set(artifacts, SHIPPED_DATA_DIR, 0)
    tracking = connect(artifacts)
    lineage = reference_lineage(feature_set)
    example = feature_set.valid.drop(columns=["is_late"]).head(5)
    champion_fit = fit_candidate(
        "logreg",
        model_pipeline(feature_set.dictionary, LogisticRegression(max_iter=1000)),
        feature_set.train,
        feature_set.valid,
    )
    versions = []
    for candidate in (
        champion_fit,
        retrained_challenger(feature_set, champion_fit.model),
        broken_feature_challenger(feature_set),
    ):
        registered = log_candidate(
            tracking,
            candidate,
            model_name=MODEL,
            lineage=lineage,
            card=reference_card(candidate, lineage, MODEL),
            input_example=example,
        )
        versions.append(str(registered.version))
    promote(tracking, MODEL, versions[0], PromotionPolicy(metric="roc_auc", min_value=0.5), reason="test champion")
    batch = evaluation_batch(SHIPPED_DATA_DIR)
    dictionary = feature_set.dictionary
    orders = batch[[dictionary.key.name, *dictionary.input_names]]
    return Registry(artifacts, tracking.uri, versions[0], versions[1], versions[2], batch, orders)


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Registry:
    """The shared registry (built on first use in this test process)."""
    return build_registry(str(tmp_path_factory.getbasetemp() / "serving-registry"))


@pytest.fixture(scope="module")
def tracking(registry):
    from mlops_kit.registry import Tracking

    return Tracking(registry.uri, "", "")


def group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process of group ``pgid`` exists, as ``ps`` sees it."""
    listing = subprocess.run(["ps", "-eo", "pgid=,stat="], capture_output=True, text=True, check=True).stdout
    return any(line.split()[0] == str(pgid) and not line.split()[1].startswith("Z") for line in listing.splitlines())
