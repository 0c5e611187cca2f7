"""Module 3, model registry & governance: MLflow tracking and registry for the course's model.

Typical use::

    tracking = connect(ARTIFACTS_DIR)                       # sqlite:///<ARTIFACTS_DIR>/mlflow.db
    candidate = fit_candidate("logreg", pipeline, fs.train, fs.valid)
    version = log_candidate(tracking, candidate, model_name="late-delivery", lineage=lineage,
                            card=card, input_example=fs.valid.drop(columns="is_late"))
    promote(tracking, "late-delivery", version.version, PromotionPolicy(metric="roc_auc", min_value=0.6),
            reason="best validation ROC AUC", audit_log=out / "audit_log.jsonl")
    model = load_model(tracking, "late-delivery", "champion")   # models:/late-delivery@champion

One job per file: ``tracking`` (store and experiment), ``candidates`` (fit and score),
``metrics``, ``card`` (model cards), ``environment`` (versions, pip requirements), ``trust``
(skops types), ``runs`` (log and register), ``versions`` (versions, aliases, loading),
``policy`` (declared promotion rules), ``promotion`` (promote with an audit trail), ``audit``,
``plots`` and ``reference`` (the course's reference solution, used when module 3 is missing).
mlflow is imported only inside the functions that talk to it.
"""

from mlops_kit.registry.audit import AUDIT_LOG_FILE, AUDIT_TAGS, current_actor, read_audit_log
from mlops_kit.registry.candidates import (
    Candidate,
    comparison_table,
    features_and_label,
    fit_candidate,
    late_probability,
)
from mlops_kit.registry.card import CARD_FILE, REQUIRED_SECTIONS, ModelCard, card_problems, card_sections
from mlops_kit.registry.environment import environment_tags, pip_requirements
from mlops_kit.registry.errors import (
    AliasNotFound,
    MissingLineageError,
    ModelNotFound,
    PromotionRefused,
    RegistryError,
    UntrustedTypesError,
    VersionNotFound,
)
from mlops_kit.registry.metrics import METRIC_DIRECTIONS, higher_is_better, validation_metrics
from mlops_kit.registry.policy import (
    CHALLENGER,
    CHAMPION,
    PolicyError,
    PromotionDecision,
    PromotionPolicy,
    evaluate_policy,
)
from mlops_kit.registry.promotion import best_version, current_holder, evaluate_promotion, promote
from mlops_kit.registry.runs import RegisteredVersion, log_candidate, reset_model
from mlops_kit.registry.tracking import DEFAULT_EXPERIMENT, DEFAULT_MODEL_NAME, Tracking, connect, tracking_uri
from mlops_kit.registry.trust import allowed_types
from mlops_kit.registry.versions import (
    LINEAGE_TAGS,
    VersionFacts,
    aliases,
    get_version,
    list_versions,
    load_model,
    model_uri,
    read_model_card,
    set_alias,
    version_by_alias,
    version_facts,
)

__all__ = [
    "AUDIT_LOG_FILE",
    "AUDIT_TAGS",
    "CARD_FILE",
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_EXPERIMENT",
    "DEFAULT_MODEL_NAME",
    "LINEAGE_TAGS",
    "METRIC_DIRECTIONS",
    "REQUIRED_SECTIONS",
    "AliasNotFound",
    "Candidate",
    "MissingLineageError",
    "ModelCard",
    "ModelNotFound",
    "PolicyError",
    "PromotionDecision",
    "PromotionPolicy",
    "PromotionRefused",
    "RegisteredVersion",
    "RegistryError",
    "Tracking",
    "UntrustedTypesError",
    "VersionFacts",
    "VersionNotFound",
    "aliases",
    "allowed_types",
    "best_version",
    "card_problems",
    "card_sections",
    "comparison_table",
    "connect",
    "current_actor",
    "current_holder",
    "environment_tags",
    "evaluate_policy",
    "evaluate_promotion",
    "features_and_label",
    "fit_candidate",
    "get_version",
    "higher_is_better",
    "late_probability",
    "list_versions",
    "load_model",
    "log_candidate",
    "model_uri",
    "pip_requirements",
    "promote",
    "read_audit_log",
    "read_model_card",
    "reset_model",
    "set_alias",
    "tracking_uri",
    "validation_metrics",
    "version_by_alias",
    "version_facts",
]
