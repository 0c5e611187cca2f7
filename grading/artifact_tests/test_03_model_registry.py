"""Artifact checks for module 3 (model registry & governance).

The MLflow database is read with MLflow's own client, never by parsing its files. Expected
lineage is recomputed from the graded variant's data: the data version by validating its
reference file with the reference rules, the feature-set version from the shipped feature
dictionary. Integrity (manifest, variant, a database with registered versions) is a
precondition of every check, not a source of points: points come from the exercises.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from grading.artifact_tests.shared import fail, require_manifest
from mlops_kit.course import module_id
from mlops_kit.registry.audit import AUDIT_LOG_FILE, read_audit_log
from mlops_kit.registry.card import (
    CARD_FILE,
    REQUIRED_SECTIONS,
    card_metric_values,
    card_problems,
    card_sections,
)
from mlops_kit.registry.policy import CHAMPION
from mlops_kit.registry.tracking import DEFAULT_MODEL_NAME
from mlops_kit.registry.versions import LINEAGE_TAGS

MODULE = module_id(3)
REQUIRED_FILES = ("candidates.json", "alias_state.json", "policy.json", AUDIT_LOG_FILE)


@dataclass(frozen=True)
class Version:
    """One registered version as MLflow's client reports it, with its run's metrics and card."""

    version: str
    run_id: str | None
    tags: dict[str, str]
    run_tags: dict[str, str]
    metrics: dict[str, float]
    card: str | None

    @property
    def label(self) -> str:
        return f"version {self.version} ({self.tags.get('candidate', 'unnamed')})"


@dataclass(frozen=True)
class Registry:
    """What the notebook left in the MLflow database and the module folder."""

    versions: list[Version]
    aliases: dict[str, str]
    folder: Path
    tracking_uri: str

    def by_alias(self, alias: str) -> Version | None:
        number = self.aliases.get(alias)
        return next((version for version in self.versions if version.version == number), None)


@pytest.fixture(scope="session")
def expected_lineage(data_dir: Path) -> dict[str, str]:
    """The graded variant's data version and the shipped feature dictionary's feature-set version."""
    from mlops_kit.data import file_period, load_orders
    from mlops_kit.features import feature_set_version, load_feature_dictionary
    from mlops_kit.validation import reference_rules, validate

    _, cutoff = file_period(data_dir, "reference")
    data_version = validate(
        load_orders(data_dir, "reference"), reference_rules(cutoff), source="reference.csv"
    ).data_version
    return {"data_version": data_version, "feature_set_version": feature_set_version(load_feature_dictionary())}


@pytest.fixture(scope="session")
def registry(artifacts_dir: Path, variant: int) -> Registry:
    """Load the registry state; fail every check with one clear message if it is incomplete."""
    require_manifest(artifacts_dir, MODULE, variant, REQUIRED_FILES)
    database = artifacts_dir / "mlflow.db"
    if not database.is_file():
        fail("no MLflow database at ARTIFACTS_DIR/mlflow.db: the notebook must track to the default store")

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = f"sqlite:///{database.resolve().as_posix()}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        model = client.get_registered_model(DEFAULT_MODEL_NAME)
    except MlflowException:
        fail(f"no registered model {DEFAULT_MODEL_NAME!r} in mlflow.db; register the candidates")
    found = sorted(client.search_model_versions(f"name = '{DEFAULT_MODEL_NAME}'"), key=lambda v: int(v.version))
    if len(found) < 2:
        fail(f"{DEFAULT_MODEL_NAME!r} has {len(found)} registered version(s); register at least two candidates")
    versions = []
    with tempfile.TemporaryDirectory(prefix="grading-cards-") as scratch:
        for number, model_version in enumerate(found):
            run = client.get_run(model_version.run_id) if model_version.run_id else None
            card = None
            if run is not None and CARD_FILE in {item.path for item in client.list_artifacts(run.info.run_id)}:
                path = client.download_artifacts(run.info.run_id, CARD_FILE, os.path.join(scratch, str(number)))
                card = Path(path).read_text(encoding="utf-8")
            versions.append(
                Version(
                    version=str(model_version.version),
                    run_id=model_version.run_id,
                    tags=dict(model_version.tags),
                    run_tags=dict(run.data.tags) if run else {},
                    metrics=dict(run.data.metrics) if run else {},
                    card=card,
                )
            )
    aliases = {alias: str(version) for alias, version in model.aliases.items()}
    return Registry(versions, aliases, artifacts_dir / MODULE, uri)


def _audit_log(registry: Registry) -> list[dict[str, Any]]:
    """The records of audit_log.jsonl, oldest first."""
    try:
        return read_audit_log(registry.folder / AUDIT_LOG_FILE)
    except ValueError as error:
        fail(f"{AUDIT_LOG_FILE} is not JSON lines: {error}")


def _champion(registry: Registry) -> Version:
    """The champion; if there is none, say why (the last refusal in the audit log, or no attempt)."""
    champion = registry.by_alias(CHAMPION)
    if champion is not None:
        return champion
    refusals = [entry for entry in _audit_log(registry) if entry.get("decision") == "refused"]
    if refusals:
        last = refusals[-1]
        reasons = "; ".join(check["detail"] for check in last.get("checks", []) if not check.get("passed"))
        why = f"the last promotion attempt (version {last.get('version')}) was refused: {reasons}"
    else:
        why = "no promotion was attempted"
    fail(f"no version holds the alias {CHAMPION!r} (aliases: {registry.aliases or 'none'}); {why}")


def _policy(registry: Registry) -> dict[str, Any]:
    """The policy the champion was promoted under (its ``audit.policy`` tag)."""
    champion = _champion(registry)
    text = champion.tags.get("audit.policy")
    assert text, (
        f"champion {champion.label} has no audit.policy tag: promote it with promote(), not by setting the alias"
    )
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        fail(f"champion {champion.label}'s audit.policy tag is not JSON: {text[:80]!r}")


@pytest.mark.points(2)
def test_versions_carry_lineage(registry: Registry, expected_lineage: dict[str, str]) -> None:
    """Exercise 1: every registered version and its run record the graded data's version and feature-set version."""
    for version in registry.versions:
        for tag, expected in expected_lineage.items():
            got = version.tags.get(tag)
            assert got == expected, f"{version.label} has {tag} tag {got!r}, the graded data's {tag} is {expected!r}"
            assert version.run_tags.get(tag) == expected, (
                f"the training run of {version.label} has {tag} tag {version.run_tags.get(tag)!r}, expected {expected!r}"
            )


@pytest.mark.points(2)
def test_model_cards_complete(registry: Registry) -> None:
    """Exercise 2: every version's training run holds a model card with intended use, data, metrics and limitations."""
    for version in registry.versions:
        assert version.card is not None, f"the run of {version.label} has no {CARD_FILE} artifact"
        problems = card_problems(version.card, REQUIRED_SECTIONS)
        assert not problems, f"the model card of {version.label}: {'; '.join(problems)}"


@pytest.mark.points(2)
def test_model_cards_state_lineage_and_metrics(registry: Registry, expected_lineage: dict[str, str]) -> None:
    """Exercise 2: each model card names the graded data and feature-set versions and its run's own ROC AUC."""
    for version in registry.versions:
        assert version.card is not None, f"the run of {version.label} has no {CARD_FILE} artifact"
        sections = card_sections(version.card)
        data = sections.get("data", "")
        for tag, expected in expected_lineage.items():
            assert expected in data, (
                f"the Data section of {version.label}'s card does not name its {tag} {expected!r} "
                "(write_model_card takes it from the lineage of exercise 1)"
            )
        auc = version.metrics.get("roc_auc")
        assert auc is not None, f"the run of {version.label} has no roc_auc metric"
        assert any(math.isclose(number, auc, abs_tol=5e-4) for number in card_metric_values(version.card)), (
            f"the Metrics section of {version.label}'s card does not show its validation roc_auc ({auc:.4f})"
        )


@pytest.mark.points(1)
def test_policy_as_declared(registry: Registry) -> None:
    """Exercise 3: the declared policy is the team's: ROC AUC ≥ 0.6, beat the champion, lineage tags and a model card."""
    policy = json.loads((registry.folder / "policy.json").read_text(encoding="utf-8"))
    assert isinstance(policy, dict), "policy.json holds no policy: declare PROMOTION_POLICY"
    assert policy.get("metric") == "roc_auc", (
        f"the policy ranks by {policy.get('metric')!r}, the team asked for roc_auc"
    )
    assert policy.get("min_value") is not None and math.isclose(policy["min_value"], 0.6), (
        f"the policy's min_value is {policy.get('min_value')}, the team asked for 0.6"
    )
    assert policy.get("must_beat_champion") is True, "the policy does not require beating the current champion"
    assert set(LINEAGE_TAGS) <= set(policy.get("required_tags", [])), "the policy does not require the lineage tags"
    assert policy.get("require_model_card") is True, "the policy does not require a model card"
    champion = registry.by_alias(CHAMPION)
    if champion is not None and champion.tags.get("audit.policy"):
        recorded = json.loads(champion.tags["audit.policy"])
        same = {**recorded, "required_tags": sorted(recorded.get("required_tags", []))} == {
            **policy,
            "required_tags": sorted(policy.get("required_tags", [])),
        }
        assert same, f"policy.json differs from the policy champion {champion.label} was promoted under"


@pytest.mark.points(3)
def test_champion_is_best_by_policy_metric(registry: Registry) -> None:
    """Exercise 3: the champion alias points to the best registered version by the policy's metric, above its minimum."""
    policy = _policy(registry)
    metric = policy["metric"]
    higher = metric not in ("log_loss", "brier")
    champion = _champion(registry)
    scored = [version for version in registry.versions if version.metrics.get(metric) is not None]
    assert champion in scored, f"champion {champion.label} has no {metric} metric"
    best = max(scored, key=lambda v: v.metrics[metric]) if higher else min(scored, key=lambda v: v.metrics[metric])
    value, top = champion.metrics[metric], best.metrics[metric]
    assert math.isclose(value, top, abs_tol=1e-12), (
        f"champion is {champion.label} with {metric} {value:.4f}, but {best.label} has {top:.4f}"
    )
    if policy.get("min_value") is not None:
        assert value >= policy["min_value"], (
            f"champion's {metric} {value:.4f} is below the policy's minimum {policy['min_value']}"
        )
    for tag in LINEAGE_TAGS:
        assert champion.tags.get(tag), f"champion {champion.label} has no {tag} tag"


@pytest.mark.points(2)
def test_audit_trail(registry: Registry) -> None:
    """Exercise 3: the champion's promotion is on record, on the version and in audit_log.jsonl: who, when, why."""
    _policy(registry)
    champion = _champion(registry)
    tags = champion.tags
    assert tags.get("audit.decision") == "approved", (
        f"champion {champion.label} has audit.decision {tags.get('audit.decision')!r}"
    )
    assert tags.get("audit.alias") == CHAMPION, f"champion {champion.label} has audit.alias {tags.get('audit.alias')!r}"
    for key in ("audit.by", "audit.why", "audit.checks"):
        assert (tags.get(key) or "").strip(), f"champion {champion.label} has no {key} tag"
    try:
        when = dt.datetime.fromisoformat(tags.get("audit.at", "").replace("Z", "+00:00"))
    except ValueError:
        fail(f"champion {champion.label}'s audit.at {tags.get('audit.at')!r} is not an ISO 8601 time")
    assert when.tzinfo is not None, f"audit.at {tags['audit.at']!r} has no time zone; record UTC"
    approved = [e for e in _audit_log(registry) if e.get("decision") == "approved" and e.get("alias") == CHAMPION]
    assert approved, "audit_log.jsonl records no approved promotion to champion"
    last = approved[-1]
    assert str(last.get("version")) == champion.version, (
        f"the last approved promotion in audit_log.jsonl is version {last.get('version')}, but champion is {champion.version}"
    )
    assert last.get("at") == tags["audit.at"] and last.get("by") == tags["audit.by"], (
        "audit_log.jsonl and the champion's audit tags disagree on who promoted it and when"
    )


@pytest.mark.points(1)
def test_champion_loads_by_alias(registry: Registry, data_dir: Path) -> None:
    """Exercise 3: models:/late-delivery@champion loads in a fresh process and predicts P(late) for clean orders."""
    import mlflow

    from mlops_kit.data import file_period, load_orders
    from mlops_kit.registry.trust import (
        allowed_types,
        check_allowed,
        deserialization_allowed,
    )
    from mlops_kit.validation import reference_rules, validate

    _policy(registry)
    mlflow.set_tracking_uri(registry.tracking_uri)
    mlflow.set_registry_uri(registry.tracking_uri)
    uri = f"models:/{DEFAULT_MODEL_NAME}@{CHAMPION}"
    flavor = mlflow.models.get_model_info(uri).flavors.get("sklearn")
    assert flavor is not None, f"{uri} is not a scikit-learn model"
    check_allowed(flavor.get("skops_trusted_types") or [], allowed_types(), what=uri)
    with deserialization_allowed():
        model = mlflow.sklearn.load_model(uri)
    _, cutoff = file_period(data_dir, "reference")
    clean = validate(load_orders(data_dir, "reference"), reference_rules(cutoff)).clean
    rows = clean.drop(columns=["is_late"]).tail(50)
    probabilities = model.predict_proba(rows)
    assert probabilities.shape == (len(rows), 2), (
        f"predict_proba returned shape {probabilities.shape} for {len(rows)} orders"
    )
    assert ((probabilities >= 0) & (probabilities <= 1)).all(), "the champion's probabilities leave [0, 1]"
