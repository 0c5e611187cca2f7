"""Log a candidate as an MLflow run and register it as a version of the model.

Every run records: the estimator's parameters, the validation metrics, the lineage tags (data
and feature-set version), Python and package versions, the model (the whole pipeline, with a
signature, an input example, explicit pip requirements and its reviewed skops types) and the
model card. The registered version carries the lineage and environment tags too.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mlops_kit.registry.candidates import Candidate
from mlops_kit.registry.card import CARD_FILE, ModelCard
from mlops_kit.registry.environment import environment_tags, pip_requirements
from mlops_kit.registry.errors import RegistryError
from mlops_kit.registry.lineage import LINEAGE_TAGS
from mlops_kit.registry.trust import SKOPS_FORMAT, check_model_types
from mlops_kit.registry.trust import allowed_types as course_allowed_types

if TYPE_CHECKING:
    from mlops_kit.registry.tracking import Tracking

MODEL_ARTIFACT = "model"
CANDIDATE_TAG = "candidate"
REGISTERED_MODEL_TAG = "registered_model"
ESTIMATOR_TAG = "estimator"
INPUT_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class RegisteredVersion:
    """A logged run and the model version registered from it."""

    model_name: str
    version: str
    run_id: str
    candidate: str
    metrics: Mapping[str, float]
    lineage: Mapping[str, str]
    has_card: bool

    @property
    def uri(self) -> str:
        """``models:/<name>/<version>``."""
        return f"models:/{self.model_name}/{self.version}"


def log_candidate(
    tracking: Tracking,
    candidate: Candidate,
    *,
    model_name: str,
    lineage: Mapping[str, str],
    card: ModelCard | str | None,
    input_example: pd.DataFrame,
    allowed_types: Sequence[str] | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> RegisteredVersion:
    """Log ``candidate`` as one run of the tracking experiment and register it under ``model_name``.

    ``lineage`` must map each of LINEAGE_TAGS to a version string; a run without them is still
    logged (and warned about), but the promotion policy will refuse it. ``allowed_types`` is the
    skops allow-list (default: :func:`~mlops_kit.registry.trust.allowed_types`); a model holding
    another type raises UntrustedTypesError and is not registered.
    """
    import mlflow
    from mlflow.models import infer_signature

    lineage_tags = _lineage_tags(lineage)
    card_text = card.to_markdown() if isinstance(card, ModelCard) else card
    if card_text is not None and not isinstance(card_text, str):
        raise RegistryError(f"card must be a ModelCard, markdown text or None, got {type(card).__name__}")
    example = input_example.head(INPUT_EXAMPLE_ROWS)
    trusted = list(course_allowed_types() if allowed_types is None else allowed_types)
    # Checked here, before any run exists, rather than by parsing MLflow's error text after it fails.
    check_model_types(candidate.model, trusted, what=f"candidate {candidate.name!r}")
    tags = {
        **lineage_tags,
        **environment_tags(),
        CANDIDATE_TAG: candidate.name,
        ESTIMATOR_TAG: candidate.estimator_name,
        REGISTERED_MODEL_TAG: model_name,
        **dict(extra_tags or {}),
    }
    tracking.activate()
    skip_mlflow_module_scan()
    with warnings.catch_warnings():
        # MLflow hints that integer columns cannot hold missing values: clean rows have none.
        warnings.filterwarnings("ignore", message=".*[Ii]nteger column", category=UserWarning)
        signature = infer_signature(example, candidate.model.predict_proba(example))
        with mlflow.start_run(experiment_id=tracking.experiment_id, run_name=candidate.name) as run:
            mlflow.log_params(dict(candidate.params))
            mlflow.log_metrics(dict(candidate.metrics))
            mlflow.set_tags(tags)
            info = mlflow.sklearn.log_model(
                candidate.model,
                name=MODEL_ARTIFACT,
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements(),
                skops_trusted_types=trusted or None,
                serialization_format=SKOPS_FORMAT,
                pyfunc_predict_fn="predict_proba",
            )
            if card_text is not None:
                mlflow.log_text(card_text, CARD_FILE)
    version = register_version(tracking, model_name, info.model_uri, run.info.run_id, info.model_id, tags, card_text)
    return RegisteredVersion(
        model_name=model_name,
        version=version,
        run_id=run.info.run_id,
        candidate=candidate.name,
        metrics=dict(candidate.metrics),
        lineage=lineage_tags,
        has_card=card_text is not None,
    )


def skip_mlflow_module_scan() -> None:
    """Spare MLflow its scan of every installed distribution's files before the first ``log_model``.

    MLflow checks explicit pip requirements against the installed versions (a warning on mismatch),
    and first maps every installed distribution to its top-level modules
    (``importlib.metadata.packages_distributions``: 1.5 s on this course's environment, 3 s on a busy
    machine, once per process). The version itself comes from the distribution's metadata; the map is
    only a fallback for packages whose metadata is missing, which never holds for the course's
    requirements (``environment.pip_requirements`` pins what is installed). An empty map keeps the
    check and its verdict (``tests/test_registry.py`` proves it on the installed MLflow). If a later
    MLflow has no such map, nothing is changed.
    """
    from mlflow.utils import requirements_utils

    if getattr(requirements_utils, "_MODULES_TO_PACKAGES", False) is None:
        requirements_utils._MODULES_TO_PACKAGES = {}


def register_version(
    tracking: Tracking,
    model_name: str,
    source: str,
    run_id: str,
    model_id: str | None,
    tags: Mapping[str, str],
    card_text: str | None = None,
) -> str:
    """Create the registered model if needed and a new version of it; return the version number."""
    from mlflow.exceptions import MlflowException

    client = tracking.client()
    try:
        client.create_registered_model(model_name, description="Probability that a food-delivery order arrives late.")
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise RegistryError(f"cannot create registered model {model_name!r}: {error.message}") from error
    created = client.create_model_version(
        model_name,
        source=source,
        run_id=run_id,
        tags=dict(tags),
        description=_first_line(card_text),
        model_id=model_id,
    )
    return str(created.version)


def _lineage_tags(lineage: Mapping[str, str] | None) -> dict[str, str]:
    """The lineage as string tags; warn when a lineage tag is missing."""
    if lineage is None:
        lineage = {}
    if not isinstance(lineage, Mapping):
        raise RegistryError(f"lineage must be a mapping of tag → value, got {type(lineage).__name__}")
    tags = {str(key): str(value) for key, value in lineage.items() if value is not None and str(value).strip()}
    missing = [tag for tag in LINEAGE_TAGS if tag not in tags]
    if missing:
        warnings.warn(
            f"logging a run without lineage tags {', '.join(missing)}: it cannot be promoted",
            UserWarning,
            stacklevel=3,
        )
    return tags


def _first_line(card_text: str | None) -> str | None:
    """The card's title line without '#', as the version's description."""
    if not card_text:
        return None
    return card_text.strip().splitlines()[0].lstrip("# ").strip() or None


def reset_model(tracking: Tracking, model_name: str, audit_log: str | Path | None = None) -> int:
    """Start ``model_name`` afresh: delete it (versions, aliases), its runs and its audit log.

    For course notebooks that must give the same result on every run; a real registry keeps
    its history. Returns how many runs were deleted (they stay in the database, marked deleted).
    """
    from mlflow.exceptions import MlflowException

    client = tracking.client()
    try:
        client.delete_registered_model(model_name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise RegistryError(f"cannot delete registered model {model_name!r}: {error.message}") from error
    runs = client.search_runs(
        [tracking.experiment_id], filter_string=f"tags.{REGISTERED_MODEL_TAG} = '{model_name}'", max_results=10_000
    )
    for run in runs:
        client.delete_run(run.info.run_id)
    if audit_log is not None:
        Path(audit_log).unlink(missing_ok=True)
    return len(runs)
