"""The course's reference solution for module 3, and what later modules call when it is missing.

``run_reference`` does what the solved notebook does: train the two reference candidates on the
feature set, log and register them with lineage and model cards, promote the best by the
reference policy and write the module's artifacts. ``ensure_champion`` returns the current
champion when it was trained on the graded data, and runs the reference otherwise, so module 4
onward never depends on a learner's module 3.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from mlops_kit.artifacts import module_dir, write_module_manifest
from mlops_kit.course import module_id
from mlops_kit.pipeline.feature_set import ensure_feature_set
from mlops_kit.registry.audit import AUDIT_LOG_FILE
from mlops_kit.registry.candidates import Candidate, fit_candidate, model_pipeline
from mlops_kit.registry.card import ModelCard
from mlops_kit.registry.errors import RegistryError
from mlops_kit.registry.lineage import CHALLENGER, CHAMPION, LINEAGE_TAGS, VersionFacts
from mlops_kit.registry.policy import PromotionPolicy
from mlops_kit.registry.promotion import best_version, current_holder, promote
from mlops_kit.registry.record import ALIASES_FILE, CANDIDATES_FILE, POLICY_FILE, write_registry_artifacts
from mlops_kit.registry.runs import log_candidate, reset_model
from mlops_kit.registry.tracking import DEFAULT_MODEL_NAME, connect
from mlops_kit.registry.versions import set_alias, version_facts

__all__ = [
    "ALIASES_FILE",
    "CANDIDATES_FILE",
    "MODEL_NAME",
    "MODULE_ID",
    "POLICY_FILE",
    "REFERENCE_POLICY",
    "ensure_champion",
    "model_pipeline",
    "reference_card",
    "reference_estimators",
    "reference_lineage",
    "run_reference",
    "write_registry_artifacts",
]

MODULE_ID = module_id(3)
MODEL_NAME = DEFAULT_MODEL_NAME
REFERENCE_POLICY = PromotionPolicy(
    metric="roc_auc",
    min_value=0.6,
    must_beat_champion=True,
    required_tags=LINEAGE_TAGS,
    require_model_card=True,
)


def reference_estimators() -> dict[str, Any]:
    """The two reference candidates: a linear model and a small, seeded tree ensemble."""
    return {
        "logreg": LogisticRegression(C=1.0, max_iter=1000),
        "forest": RandomForestClassifier(n_estimators=50, max_depth=6, min_samples_leaf=20, random_state=0, n_jobs=1),
    }


def reference_lineage(feature_set: Any) -> dict[str, str]:
    """The lineage tags of a model trained on ``feature_set``."""
    return {"data_version": str(feature_set.data_version), "feature_set_version": str(feature_set.feature_set_version)}


def reference_card(candidate: Candidate, lineage: Mapping[str, str], model_name: str = MODEL_NAME) -> ModelCard:
    """The reference model card of ``candidate``."""
    return ModelCard(
        model_name=model_name,
        candidate=candidate.name,
        intended_use=(
            "Estimate the probability that a food-delivery order arrives after the promised time, at the "
            "moment the order is placed, so the app can warn the customer. Used for orders in the cities "
            "and zones seen in training."
        ),
        out_of_scope=[
            "Judging couriers or restaurants: the label says nothing about who caused a delay.",
            "Promising delivery times: the model ranks risk, it does not predict minutes.",
        ],
        data={
            "data version": lineage.get("data_version", "unknown"),
            "feature-set version": lineage.get("feature_set_version", "unknown"),
            "training split": f"{candidate.train_rows} orders, {candidate.train_period[0]} to {candidate.train_period[1]}",
            "validation split": f"{candidate.valid_rows} orders, {candidate.valid_period[0]} to {candidate.valid_period[1]}",
        },
        metrics=dict(candidate.metrics),
        limitations=[
            "Trained on one reference period: seasons, zones and vehicle types not seen then (drift) degrade it.",
            f"Moderate ranking quality (validation ROC AUC {candidate.metrics.get('roc_auc', float('nan')):.3f}): "
            "use it for a warning, never for a refund decision.",
            "Probabilities are not calibrated per zone; check calibration before using a threshold other than 0.5.",
        ],
    )


def run_reference(
    artifacts_dir: str | Path, data_dir: str | Path, variant: int, model_name: str = MODEL_NAME
) -> VersionFacts:
    """Module 3's reference solution end to end; returns the champion's facts."""
    feature_set = ensure_feature_set(artifacts_dir, data_dir, variant)
    out = module_dir(artifacts_dir, MODULE_ID)
    tracking = connect(artifacts_dir)
    reset_model(tracking, model_name, audit_log=out / AUDIT_LOG_FILE)
    lineage = reference_lineage(feature_set)
    inputs = feature_set.valid.drop(columns=["is_late"])
    registered = []
    for name, estimator in reference_estimators().items():
        candidate = fit_candidate(
            name, model_pipeline(feature_set.dictionary, estimator), feature_set.train, feature_set.valid
        )
        registered.append(
            log_candidate(
                tracking,
                candidate,
                model_name=model_name,
                lineage=lineage,
                card=reference_card(candidate, lineage, model_name),
                input_example=inputs,
            )
        )
    best = best_version([version_facts(tracking, model_name, v.version) for v in registered], REFERENCE_POLICY.metric)
    set_alias(tracking, model_name, CHALLENGER, best.version)
    promote(
        tracking,
        model_name,
        best.version,
        REFERENCE_POLICY,
        reason=f"best {REFERENCE_POLICY.metric} of the reference candidates (reference solution)",
        audit_log=out / AUDIT_LOG_FILE,
    )
    write_registry_artifacts(out, tracking, model_name, REFERENCE_POLICY, registered)
    write_module_manifest(
        artifacts_dir,
        MODULE_ID,
        variant,
        feature_set.data_version,
        feature_set_version=feature_set.feature_set_version,
        model_name=model_name,
        built_by="reference solution",
    )
    return version_facts(tracking, model_name, best.version)


def ensure_champion(
    artifacts_dir: str | Path, data_dir: str | Path, variant: int, model_name: str = MODEL_NAME
) -> VersionFacts:
    """The champion of ``model_name`` if it was trained on this data and feature set; else run the reference."""
    feature_set = ensure_feature_set(artifacts_dir, data_dir, variant)
    try:
        champion = current_holder(connect(artifacts_dir), model_name, CHAMPION)
    except RegistryError:
        champion = None
    if champion is not None and champion.lineage == reference_lineage(feature_set) and champion.card_problems == ():
        return champion
    return run_reference(artifacts_dir, data_dir, variant, model_name)
