"""Artifact checks for module 3 (model registry & governance).

The MLflow database is read with MLflow's own client, never by parsing its files. Expected
values come from the graded variant's raw data and defect ledger, recomputed here without
mlops_kit.validation: the data version (the clean rows' canonical CSV hash), the validation
split, the no-skill bar of the policy; the feature-set version is the shipped dictionary's.
Every check depends on the graded data: the champion's recorded metrics must be what its model
scores on the graded validation split, so a registry copied from a run on other data fails.
Integrity (manifest, variant, a database with registered versions) is a precondition of every
check, not a source of points: points come from the exercises.
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

import numpy as np
import pandas as pd
import pytest

from grading.artifact_tests.shared import expected_clean_text, expected_data_version, fail, require_manifest
from mlops_kit.course import module_id
from mlops_kit.data import file_period, load_orders
from mlops_kit.datagen import read_defect_ledger
from mlops_kit.domain import TIMESTAMP_FORMAT
from mlops_kit.pipeline import DEFAULT_VALID_MONTHS
from mlops_kit.registry.audit import AUDIT_LOG_FILE, read_audit_log
from mlops_kit.registry.card import (
    CARD_FILE,
    REQUIRED_SECTIONS,
    card_metric_values,
    card_problems,
    card_sections,
)
from mlops_kit.registry.metrics import METRIC_DIRECTIONS
from mlops_kit.registry.policy import CHAMPION
from mlops_kit.registry.tracking import DEFAULT_MODEL_NAME
from mlops_kit.registry.versions import LINEAGE_TAGS

MODULE = module_id(3)
REQUIRED_FILES = ("candidates.json", "alias_state.json", "policy.json", AUDIT_LOG_FILE)
SOURCE_FILE = "reference.csv"
TOLERANCE = 1e-6


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


@dataclass(frozen=True)
class Graded:
    """What the graded variant's raw data and ledger say: lineage, validation split, the no-skill bar."""

    lineage: dict[str, str]
    valid_rows: list[int]
    valid_late: pd.Series
    no_skill_log_loss: float


@pytest.fixture(scope="session")
def graded(data_dir: Path, variant_dir: Path) -> Graded:
    from mlops_kit.features import feature_set_version, load_feature_dictionary

    raw = load_orders(data_dir, SOURCE_FILE.removesuffix(".csv"))
    defects = read_defect_ledger(variant_dir)
    defects = defects[defects["file"] == SOURCE_FILE]
    clean = expected_clean_text(raw, defects)
    start, end = file_period(data_dir, "reference")
    valid_months = pd.period_range(start, end - pd.Timedelta(seconds=1), freq="M")[-DEFAULT_VALID_MONTHS:]
    in_valid = pd.to_datetime(clean["created_at"], format=TIMESTAMP_FORMAT).dt.to_period("M").isin(valid_months)
    late = clean["is_late"].astype(int)
    rate = float(late[~in_valid].mean())
    valid_late = late[in_valid]
    no_skill = float(-(valid_late * np.log(rate) + (1 - valid_late) * np.log(1 - rate)).mean())
    lineage = {
        "data_version": expected_data_version(raw, defects),
        "feature_set_version": feature_set_version(load_feature_dictionary()),
    }
    return Graded(lineage, [int(row) for row in valid_late.index], valid_late, no_skill)


@pytest.fixture(scope="session")
def expected_lineage(graded: Graded) -> dict[str, str]:
    """The graded variant's data version and the shipped feature dictionary's feature-set version."""
    return graded.lineage


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
def test_model_cards_complete(registry: Registry, graded: Graded) -> None:
    """Exercise 2: every version's model card has intended use, data (the graded validation split), metrics, limitations."""
    rows = len(graded.valid_rows)
    for version in registry.versions:
        assert version.card is not None, f"the run of {version.label} has no {CARD_FILE} artifact"
        problems = card_problems(version.card, REQUIRED_SECTIONS)
        assert not problems, f"the model card of {version.label}: {'; '.join(problems)}"
        data = card_sections(version.card).get("data", "")
        assert str(rows) in data or f"{rows:,}" in data, (
            f"the Data section of {version.label}'s card does not give the size of the validation split it was "
            f"scored on ({rows} orders in the graded data): take it from the candidate, not from a number you saw"
        )


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


@dataclass(frozen=True)
class GradedChampion:
    """The champion, loaded by alias, and what it scores on the graded validation split."""

    version: Version
    uri: str
    probabilities: np.ndarray
    metrics: dict[str, float]


@pytest.fixture(scope="session")
def champion_on_graded_data(registry: Registry, graded: Graded, data_dir: Path) -> GradedChampion:
    """Load the champion by alias and score it on the graded validation split (sklearn, not the course's code).

    Fails when the recorded metrics are not what the model scores on this data: a registry
    trained or scored on other data earns nothing for the checks that use it.
    """
    from sklearn.metrics import log_loss, roc_auc_score

    from mlops_kit.registry import Tracking, load_model
    from mlops_kit.validation import reference_rules, validate

    champion = _champion(registry)
    uri = f"models:/{DEFAULT_MODEL_NAME}@{CHAMPION}"
    model = load_model(Tracking.reader(registry.tracking_uri), DEFAULT_MODEL_NAME, CHAMPION)
    _, cutoff = file_period(data_dir, "reference")
    typed = validate(load_orders(data_dir, "reference"), reference_rules(cutoff)).clean  # model inputs only
    missing = sorted(set(graded.valid_rows) - set(typed.index))
    if missing:
        fail(f"cannot score the champion: validation rows {missing[:5]} are not clean orders")
    probabilities = np.asarray(model.predict_proba(typed.loc[graded.valid_rows].drop(columns=["is_late"])))
    if probabilities.shape != (len(graded.valid_rows), 2):
        fail(f"{uri}: predict_proba returned shape {probabilities.shape} for {len(graded.valid_rows)} orders")
    late = graded.valid_late.to_numpy()
    scored = {"roc_auc": float(roc_auc_score(late, probabilities[:, 1]))}
    scored["log_loss"] = float(log_loss(late, np.clip(probabilities[:, 1], 0, 1), labels=[0, 1]))
    for metric, value in scored.items():
        recorded = champion.metrics.get(metric)
        if recorded is None or not math.isclose(recorded, value, abs_tol=TOLERANCE):
            fail(
                f"champion {champion.label} records {metric} {recorded}, but on the graded data's validation split "
                f"({len(late)} orders) it scores {value:.4f}: it was not trained and scored on this data"
            )
    return GradedChampion(champion, uri, probabilities, scored)


@pytest.mark.points(2)
def test_policy_as_declared(registry: Registry, graded: Graded) -> None:
    """Exercise 3: the policy is the team's: log loss below the no-skill bar of the graded data, beat the champion, lineage and card."""
    policy = json.loads((registry.folder / "policy.json").read_text(encoding="utf-8"))
    assert isinstance(policy, dict), "policy.json holds no policy: declare PROMOTION_POLICY"
    assert policy.get("metric") == "log_loss", (
        f"the policy ranks by {policy.get('metric')!r}; the team ranks by log loss"
    )
    bound = "min_value" if METRIC_DIRECTIONS["log_loss"] else "max_value"
    value = policy.get(bound)
    assert value is not None and math.isclose(value, graded.no_skill_log_loss, abs_tol=TOLERANCE), (
        f"the policy's {bound} is {value}; on the graded data the no-skill forecast's log loss is "
        f"{graded.no_skill_log_loss:.4f}: compute the bar from the data the notebook runs on"
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
def test_champion_is_best_by_policy_metric(registry: Registry, champion_on_graded_data: GradedChampion) -> None:
    """Exercise 3: the champion is the best registered version by the policy's metric, within its bounds, on the graded data."""
    policy = _policy(registry)
    metric = policy["metric"]
    champion = champion_on_graded_data.version
    scored = [version for version in registry.versions if version.metrics.get(metric) is not None]
    assert champion in scored, f"champion {champion.label} has no {metric} metric"
    sign = 1 if METRIC_DIRECTIONS[metric] else -1
    best = max(scored, key=lambda v: sign * v.metrics[metric])
    value, top = champion.metrics[metric], best.metrics[metric]
    assert math.isclose(value, top, abs_tol=1e-12), (
        f"champion is {champion.label} with {metric} {value:.4f}, but {best.label} has {top:.4f}"
    )
    if policy.get("min_value") is not None:
        assert value >= policy["min_value"], f"champion's {metric} {value:.4f} is below the policy's minimum"
    if policy.get("max_value") is not None:
        assert value <= policy["max_value"], f"champion's {metric} {value:.4f} is above the policy's maximum"
    for tag in LINEAGE_TAGS:
        assert champion.tags.get(tag), f"champion {champion.label} has no {tag} tag"


@pytest.mark.points(2)
def test_audit_trail(registry: Registry, champion_on_graded_data: GradedChampion) -> None:
    """Exercise 3: the champion's promotion is on record, on the version and in audit_log.jsonl: who, when, why."""
    _policy(registry)
    champion = champion_on_graded_data.version
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
def test_champion_loads_by_alias(registry: Registry, champion_on_graded_data: GradedChampion) -> None:
    """Exercise 3: models:/late-delivery@champion loads in a fresh process and predicts P(late) for the graded orders."""
    _policy(registry)
    probabilities = champion_on_graded_data.probabilities
    assert ((probabilities >= 0) & (probabilities <= 1)).all(), "the champion's probabilities leave [0, 1]"
    assert np.allclose(probabilities.sum(axis=1), 1.0), "the champion's class probabilities do not add up to 1"
