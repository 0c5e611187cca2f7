"""Module 3's library: tracking, logging, versions and aliases, promotion policy, audit trail.

Every frame and model here is built by hand (no dependency on the shipped data or on module
2's feature pipeline); MLflow runs on a SQLite database in a temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_kit.registry import (
    AUDIT_TAGS,
    CARD_FILE,
    LINEAGE_TAGS,
    AliasNotFound,
    Candidate,
    MissingLineageError,
    ModelCard,
    ModelNotFound,
    PolicyError,
    PromotionPolicy,
    PromotionRefused,
    RegistryError,
    Tracking,
    UntrustedTypesError,
    VersionFacts,
    VersionNotFound,
    aliases,
    best_version,
    card_problems,
    card_sections,
    connect,
    evaluate_policy,
    evaluate_promotion,
    fit_candidate,
    load_model,
    log_candidate,
    pip_requirements,
    promote,
    read_audit_log,
    reset_model,
    set_alias,
    tracking_uri,
    validation_metrics,
    version_by_alias,
    version_facts,
)
from mlops_kit.registry.runs import register_version

pytestmark = [
    pytest.mark.xdist_group("registry"),  # one process builds the MLflow database once
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),  # inside MLflow's SQL store
]

MODEL = "late-delivery"
LINEAGE = {"data_version": "0123456789abcdef", "feature_set_version": "fs-test-1"}
NUMERIC = ["distance_km", "prep_time_min", "basket_size"]
CATEGORIES = ["city_zone", "weather", "vehicle"]
POLICY = PromotionPolicy(metric="roc_auc", min_value=0.6)


def clean_orders(rows: int, seed: int, start: str = "2025-01-01") -> pd.DataFrame:
    """Clean, typed order rows (as module 1 leaves them) whose lateness depends on distance and weather."""
    rng = np.random.default_rng(seed)
    distance = rng.uniform(0.5, 12, rows)
    weather = rng.choice(["clear", "cloudy", "rain", "storm"], rows)
    risk = -2.5 + 0.25 * distance + np.where(np.isin(weather, ["rain", "storm"]), 1.0, 0.0)
    late = (rng.uniform(size=rows) < 1 / (1 + np.exp(-risk))).astype(int)
    frame = pd.DataFrame(
        {
            "order_id": [f"O{seed:02d}{number:05d}" for number in range(rows)],
            "created_at": pd.date_range(start, periods=rows, freq="37min"),
            "city_zone": rng.choice(["center", "north", "south"], rows),
            "distance_km": distance.round(2),
            "prep_time_min": rng.uniform(5, 40, rows).round(1),
            "weather": weather,
            "vehicle": rng.choice(["bike", "car"], rows),
            "basket_size": pd.array(rng.integers(1, 8, rows), dtype="Int64"),
            "is_late": pd.array(late, dtype="Int64"),
        }
    )
    return frame.astype({column: "str" for column in ["order_id", *CATEGORIES]})


def pipeline(estimator):
    """A stand-in for module 2's feature pipeline: scale numbers, one-hot categories, drop ids and times."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = ColumnTransformer(
        [("numbers", StandardScaler(), NUMERIC), ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORIES)]
    )
    return Pipeline([("features", features), ("model", estimator)])


def card_for(candidate: Candidate, lineage: dict[str, str] = LINEAGE) -> ModelCard:
    return ModelCard(
        model_name=MODEL,
        candidate=candidate.name,
        intended_use="Warn customers whose order will probably arrive late.",
        data={**lineage, "training rows": candidate.train_rows},
        metrics=candidate.metrics,
        limitations=["Synthetic test data."],
    )


@pytest.fixture(scope="module")
def splits() -> tuple[pd.DataFrame, pd.DataFrame]:
    return clean_orders(600, seed=1), clean_orders(300, seed=2, start="2025-03-01")


@pytest.fixture(scope="module")
def candidate(splits) -> Candidate:
    from sklearn.linear_model import LogisticRegression

    train, valid = splits
    return fit_candidate("logreg", pipeline(LogisticRegression(max_iter=300)), train, valid)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("registry") / "artifacts"


@pytest.fixture(scope="module")
def store(artifacts: Path) -> Tracking:
    previous = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        yield connect(artifacts)
    finally:
        if previous is not None:
            os.environ["MLFLOW_TRACKING_URI"] = previous


@pytest.fixture(scope="module")
def logged(store: Tracking, candidate: Candidate, splits):
    """One fully logged and registered version (the real model every other version reuses)."""
    _, valid = splits
    return log_candidate(
        store,
        candidate,
        model_name=MODEL,
        lineage=LINEAGE,
        card=card_for(candidate),
        input_example=valid.drop(columns="is_late"),
    )


class Versions:
    """Registers cheap versions (a metrics-only run plus the logged model as source) under a fresh model name."""

    def __init__(self, store: Tracking, logged, name: str) -> None:
        self.store, self.name = store, name
        source = store.client().get_model_version(MODEL, logged.version)
        self.source, self.model_id = source.source, source.model_id

    def add(
        self, roc_auc: float | None, lineage: dict[str, str] | None = LINEAGE, card: str | None = "complete"
    ) -> str:
        client = self.store.client()
        run = client.create_run(self.store.experiment_id, tags={**(lineage or {}), "registered_model": self.name})
        if roc_auc is not None:
            client.log_metric(run.info.run_id, "roc_auc", roc_auc)
            client.log_metric(run.info.run_id, "log_loss", 1 - roc_auc)
        if card == "complete":
            markdown = "# Card\n\n## Intended use\nx\n\n## Data\nx\n\n## Metrics\nx\n\n## Limitations\nx\n"
            client.log_text(run.info.run_id, markdown, CARD_FILE)
        elif card == "partial":
            client.log_text(run.info.run_id, "# Card\n\n## Intended use\nx\n\n## Metrics\n\n", CARD_FILE)
        client.set_terminated(run.info.run_id)
        return register_version(self.store, self.name, self.source, run.info.run_id, self.model_id, dict(lineage or {}))


@pytest.fixture
def versions(store: Tracking, logged, request) -> Versions:
    return Versions(store, logged, f"model-{request.node.name.replace('[', '-').replace(']', '')}")


def facts(
    version: str, roc_auc: float | None = 0.7, tags: dict[str, str] | None = None, card: tuple[str, ...] | None = ()
) -> VersionFacts:
    metrics = {} if roc_auc is None else {"roc_auc": roc_auc, "log_loss": 1 - roc_auc}
    return VersionFacts(MODEL, version, f"run{version}", dict(LINEAGE if tags is None else tags), metrics, (), card)


# --- tracking ----------------------------------------------------------------------------


def test_tracking_uri_defaults_to_sqlite_in_the_artifacts_dir_and_env_overrides(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(tmp_path / "a") == f"sqlite:///{(tmp_path / 'a' / 'mlflow.db').resolve().as_posix()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://mlflow@db/mlflow")
    assert tracking_uri(tmp_path / "a") == "postgresql://mlflow@db/mlflow"


def test_everything_stays_in_the_artifacts_dir(store: Tracking, logged, artifacts: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert (artifacts / "mlflow.db").is_file()
    experiment = store.client().get_experiment(store.experiment_id)
    assert Path(experiment.artifact_location) == (artifacts / "mlruns").resolve()
    run = store.client().get_run(logged.run_id)
    assert str((artifacts / "mlruns").resolve()) in run.info.artifact_uri
    assert not (tmp_path / "mlruns").exists() and not Path("mlruns").exists()


# --- logging -----------------------------------------------------------------------------


def test_a_logged_run_records_params_metrics_lineage_environment_model_and_card(
    store: Tracking, logged, candidate
) -> None:
    import mlflow

    run = store.client().get_run(logged.run_id)
    assert run.data.params["estimator"] == "LogisticRegression" and run.data.params["max_iter"] == "300"
    assert set(run.data.metrics) == {"roc_auc", "average_precision", "accuracy", "f1", "log_loss", "brier"}
    assert run.data.metrics["roc_auc"] == pytest.approx(candidate.metrics["roc_auc"])
    for tags in (run.data.tags, store.client().get_model_version(MODEL, logged.version).tags):
        assert {key: tags[key] for key in LINEAGE_TAGS} == LINEAGE
        assert tags["env.python"].startswith("3.") and tags["env.scikit-learn"] and tags["env.mlflow"]
    card = store.client().download_artifacts(logged.run_id, CARD_FILE, str(Path(store.uri[len("sqlite:///") :]).parent))
    assert not card_problems(Path(card).read_text(encoding="utf-8"))
    info = mlflow.models.get_model_info(f"models:/{MODEL}/{logged.version}")
    assert [column["name"] for column in info.signature.inputs.to_dict()] == [
        "order_id",
        "created_at",
        "city_zone",
        "distance_km",
        "prep_time_min",
        "weather",
        "vehicle",
        "basket_size",
    ]
    assert info.flavors["python_function"]["predict_fn"] == "predict_proba"
    assert info.saved_input_example_info is not None
    requirements = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/{logged.version}/requirements.txt"))
    assert requirements.read_text().split() == pip_requirements()


def test_logging_without_lineage_warns_and_the_version_cannot_be_promoted(store: Tracking, candidate, splits) -> None:
    _, valid = splits
    with pytest.warns(UserWarning, match="without lineage tags data_version, feature_set_version"):
        version = log_candidate(
            store,
            candidate,
            model_name="no-lineage",
            lineage={},
            card=None,
            input_example=valid.drop(columns="is_late"),
        )
    with pytest.raises(
        MissingLineageError, match=r"version 1 of 'no-lineage' has no lineage tags data_version, feature_set_version"
    ):
        promote(store, "no-lineage", version.version, POLICY, reason="try")
    assert "champion" not in aliases(store, "no-lineage")


def test_a_model_with_unreviewed_types_is_refused(store: Tracking, splits) -> None:
    from sklearn.ensemble import RandomForestClassifier

    train, valid = splits
    forest = fit_candidate(
        "forest", pipeline(RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0)), train, valid
    )
    with pytest.raises(UntrustedTypesError, match=r"sklearn\.tree\._tree\.Tree"):
        log_candidate(
            store, forest, model_name="unreviewed", lineage=LINEAGE, card=None, input_example=valid, allowed_types=()
        )
    with pytest.raises(ModelNotFound):
        aliases(store, "unreviewed")


# --- versions and aliases ----------------------------------------------------------------


def test_alias_on_a_missing_version_fails_clearly(store: Tracking, versions: Versions) -> None:
    versions.add(0.7)
    with pytest.raises(VersionNotFound, match=rf"model '{versions.name}' has no version '7'; versions: 1"):
        set_alias(store, versions.name, "challenger", 7)
    with pytest.raises(VersionNotFound, match="has no version '7'"):
        promote(store, versions.name, "7", POLICY, reason="try")
    with pytest.raises(ModelNotFound, match="no registered model 'nobody'"):
        set_alias(store, "nobody", "challenger", 1)
    assert aliases(store, versions.name) == {}


def test_unknown_alias_fails_clearly(store: Tracking, versions: Versions) -> None:
    versions.add(0.7)
    set_alias(store, versions.name, "challenger", 1)
    with pytest.raises(AliasNotFound, match=r"has no alias 'champion'; aliases: challenger → version 1"):
        load_model(store, versions.name, "champion")
    with pytest.raises(AliasNotFound, match="no alias 'staging'"):
        version_by_alias(store, versions.name, "staging")


def test_champion_moves_only_through_promotion(store: Tracking, versions: Versions) -> None:
    versions.add(0.7)
    with pytest.raises(RegistryError, match="moves only through promote"):
        set_alias(store, versions.name, "champion", 1)
    with pytest.raises(RegistryError, match="an alias is a name"):
        set_alias(store, versions.name, "2", 1)
    with pytest.raises(RegistryError, match="cannot set alias 'latest' on version 1"):
        set_alias(store, versions.name, "latest", 1)  # reserved by MLflow


# --- policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate_facts", "champion", "approved", "reason"),
    [
        (facts("2", 0.72), facts("1", 0.70), True, "beats champion version 1 (roc_auc 0.7200 vs 0.7000"),
        (facts("1", 0.65), None, True, "no current champion to beat"),
        (facts("2", 0.70), facts("1", 0.70), False, "does not beat champion version 1"),
        (facts("2", 0.55), None, False, "roc_auc 0.5500 is below the minimum 0.6"),
        (facts("2", None), None, False, "version 2 has no roc_auc metric"),
        (facts("2", 0.8, tags={"data_version": "x"}), None, False, "tags feature_set_version missing"),
        (facts("2", 0.8, card=None), None, False, "no model card logged with the run"),
        (facts("2", 0.8, card=("section '## Limitations' is missing",)), None, False, "model card incomplete"),
        (facts("1", 0.8), facts("1", 0.8), False, "version 1 already is the champion"),
    ],
)
def test_policy_decisions(
    candidate_facts: VersionFacts, champion: VersionFacts | None, approved: bool, reason: str
) -> None:
    decision = evaluate_policy(POLICY, candidate_facts, champion)
    assert decision.approved is approved
    assert reason in decision.summary()


def test_policy_ranks_lower_is_better_metrics_the_right_way() -> None:
    policy = PromotionPolicy(metric="log_loss", max_value=0.5)
    assert evaluate_policy(policy, facts("2", 0.6), facts("1", 0.55)).approved  # log loss 0.40 vs 0.45
    assert not evaluate_policy(policy, facts("2", 0.55), facts("1", 0.6)).approved
    assert "above the maximum 0.5" in evaluate_policy(policy, facts("2", 0.4), None).summary()
    margin = PromotionPolicy(metric="roc_auc", min_improvement=0.05)
    assert "by more than 0.05" in evaluate_policy(margin, facts("2", 0.72), facts("1", 0.70)).summary()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "auc"}, "unknown metric 'auc'"),
        ({"min_value": 0.9, "max_value": 0.8}, "no version can pass"),
        ({"min_value": "0.6"}, "min_value must be a number"),
        ({"min_improvement": -1.0}, "min_improvement must be 0 or more"),
        ({"alias": ""}, "alias must be a non-empty string"),
    ],
)
def test_bad_policies_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        PromotionPolicy(**kwargs)


def test_policy_round_trips_through_json() -> None:
    policy = PromotionPolicy(metric="roc_auc", min_value=0.6, required_tags=["data_version", "owner"])
    assert policy.required_tags == ("data_version", "owner")
    assert PromotionPolicy.from_dict(json.loads(policy.to_json())) == policy


def test_best_version_follows_the_metric_direction_and_prefers_the_older_on_ties() -> None:
    found = [facts("1", 0.70), facts("2", 0.75), facts("3", 0.75), facts("4", None)]
    assert best_version(found, "roc_auc").version == "2"
    assert best_version(found, "log_loss").version == "2"
    with pytest.raises(RegistryError, match="no version has a f1 metric"):
        best_version(found, "f1")


# --- promotion and audit trail -----------------------------------------------------------


def test_promotion_moves_the_alias_and_leaves_an_audit_trail(
    store: Tracking, versions: Versions, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MLOPS_ACTOR", "ci-bot")
    log = tmp_path / "audit_log.jsonl"
    first, better, worse = versions.add(0.70), versions.add(0.75), versions.add(0.72)

    decision = promote(store, versions.name, first, POLICY, reason="first model", audit_log=log)
    assert decision.approved and aliases(store, versions.name) == {"champion": first}
    decision = promote(store, versions.name, better, POLICY, reason="better ROC AUC", audit_log=log)
    assert decision.approved and aliases(store, versions.name) == {"champion": better}

    tags = store.client().get_model_version(versions.name, better).tags
    assert set(AUDIT_TAGS) <= set(tags)
    assert (
        tags["audit.decision"] == "approved" and tags["audit.by"] == "ci-bot" and tags["audit.why"] == "better ROC AUC"
    )
    assert tags["audit.replaced"] == first and tags["audit.alias"] == "champion"
    assert pd.Timestamp(tags["audit.at"]).tzinfo is not None
    assert json.loads(tags["audit.policy"])["metric"] == "roc_auc"
    assert "pass: beats champion version 1" in tags["audit.checks"]

    with pytest.raises(PromotionRefused, match="does not beat champion version 2") as refused:
        promote(store, versions.name, worse, POLICY, reason="try the other one", audit_log=log)
    assert not refused.value.decision.approved
    assert aliases(store, versions.name) == {"champion": better}
    assert store.client().get_model_version(versions.name, worse).tags["audit.decision"] == "refused"

    history = read_audit_log(log)
    assert [(entry["version"], entry["decision"], entry["replaced"]) for entry in history] == [
        (first, "approved", None),
        (better, "approved", first),
        (worse, "refused", None),
    ]
    assert all(entry["by"] == "ci-bot" and entry["policy"]["min_value"] == 0.6 for entry in history)


def test_a_refusal_can_be_returned_instead_of_raised(store: Tracking, versions: Versions) -> None:
    version = versions.add(0.5)
    decision = promote(store, versions.name, version, POLICY, reason="try", raise_on_refusal=False)
    assert not decision.approved and decision.failures == ["roc_auc 0.5000 is below the minimum 0.6"]
    assert aliases(store, versions.name) == {}


def test_the_policy_cannot_drop_the_lineage_requirement(store: Tracking, versions: Versions) -> None:
    version = versions.add(0.8, lineage={"data_version": "abc"})
    lax = PromotionPolicy(metric="roc_auc", required_tags=(), require_model_card=False)
    assert not evaluate_promotion(store, versions.name, version, lax).approved
    with pytest.raises(MissingLineageError, match="has no lineage tags feature_set_version"):
        promote(store, versions.name, version, lax, reason="skip the checks")
    assert store.client().get_model_version(versions.name, version).tags["audit.decision"] == "refused"


def test_promotion_checks_the_logged_model_card(store: Tracking, versions: Versions) -> None:
    no_card, partial = versions.add(0.8, card=None), versions.add(0.8, card="partial")
    assert evaluate_promotion(store, versions.name, no_card, POLICY).failures == ["no model card logged with the run"]
    assert evaluate_promotion(store, versions.name, partial, POLICY).failures == [
        "model card incomplete: section '## Data' is missing, section '## Metrics' is empty, section '## Limitations' is missing"
    ]
    assert version_facts(store, versions.name, partial).card_problems is not None


def test_a_reason_is_required(store: Tracking, versions: Versions) -> None:
    version = versions.add(0.8)
    with pytest.raises(RegistryError, match="say why"):
        promote(store, versions.name, version, POLICY, reason="  ")


def test_reset_model_deletes_versions_runs_and_audit_log(store: Tracking, versions: Versions, tmp_path) -> None:
    log = tmp_path / "audit_log.jsonl"
    promote(store, versions.name, versions.add(0.8), POLICY, reason="first", audit_log=log)
    assert reset_model(store, versions.name, audit_log=log) == 1
    assert not log.exists()
    with pytest.raises(ModelNotFound):
        aliases(store, versions.name)
    assert versions.add(0.8) == "1"  # version numbers start again


# --- loading by alias --------------------------------------------------------------------


def test_load_by_alias_works_in_a_fresh_process(store: Tracking, logged, artifacts: Path, splits) -> None:
    promote(store, MODEL, logged.version, POLICY, reason="only candidate")
    _, valid = splits
    rows = valid.drop(columns="is_late").head(4)
    expected = load_model(store, MODEL, "champion").predict_proba(rows)[:, 1]
    rows_path = artifacts.parent / "rows.pkl"
    rows.to_pickle(rows_path)
    script = textwrap.dedent(
        f"""
        import json, os, pandas as pd, mlflow
        from mlops_kit.registry import connect, load_model
        rows = pd.read_pickle({str(rows_path)!r})
        ours = load_model(connect({str(artifacts)!r}), {MODEL!r}, "champion").predict_proba(rows)[:, 1]
        os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
        plain = mlflow.sklearn.load_model("models:/{MODEL}@champion").predict_proba(rows)[:, 1]
        print(json.dumps([list(ours), list(plain)]))
        """
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = store.uri  # the plain MLflow call finds the store the usual way
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    ours, plain = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(ours, expected)
    np.testing.assert_allclose(plain, expected)


def test_load_model_reads_only_the_store_it_is_given(store: Tracking, logged, splits, tmp_path: Path) -> None:
    """No global tracking URI set (as in a grader's process): the model comes from ``store``, nothing else is touched."""
    _, valid = splits
    rows = valid.drop(columns="is_late").head(4)
    expected = load_model(store, MODEL, version=logged.version).predict_proba(rows)[:, 1]
    rows_path = tmp_path / "rows.pkl"
    rows.to_pickle(rows_path)
    script = textwrap.dedent(
        f"""
        import json, pandas as pd
        from mlops_kit.registry import Tracking, load_model
        rows = pd.read_pickle({str(rows_path)!r})
        model = load_model(Tracking.reader({store.uri!r}), {MODEL!r}, version={str(logged.version)!r})
        print(json.dumps(list(model.predict_proba(rows)[:, 1])))
        """
    )
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(json.loads(done.stdout.strip().splitlines()[-1]), expected)
    assert list(cwd.iterdir()) == [], "loading created files in the working folder (a default MLflow store?)"


def test_loading_refuses_types_outside_the_allow_list(store: Tracking, splits) -> None:
    """The types in the model file are checked against our list, not the list the model declares."""
    from sklearn.ensemble import RandomForestClassifier

    train, valid = splits
    forest = fit_candidate(
        "forest", pipeline(RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0)), train, valid
    )
    registered = log_candidate(
        store, forest, model_name="forest-load", lineage=LINEAGE, card=None, input_example=valid.drop(columns="is_late")
    )
    set_alias(store, "forest-load", "challenger", registered.version)
    with pytest.raises(UntrustedTypesError, match=r"holds types nobody reviewed: .*sklearn\.tree\._tree\.Tree"):
        load_model(store, "forest-load", "challenger", allowed=())
    assert load_model(store, "forest-load", "challenger").predict_proba(
        valid.drop(columns="is_late").head(2)
    ).shape == (
        2,
        2,
    )


def test_load_model_changes_no_process_state_and_runs_on_threads(store: Tracking, logged, splits) -> None:
    """Loading sets no environment variable (MLflow's pickle switch), so a service may load on several threads."""
    from concurrent.futures import ThreadPoolExecutor

    set_alias(store, MODEL, "challenger", logged.version)
    before = dict(os.environ)
    rows = splits[1].drop(columns="is_late").head(3)
    with ThreadPoolExecutor(max_workers=2) as pool:
        models = list(pool.map(lambda _: load_model(store, MODEL, "challenger"), range(2)))
    assert dict(os.environ) == before
    assert "MLFLOW_ALLOW_PICKLE_DESERIALIZATION" not in os.environ
    np.testing.assert_allclose(models[0].predict_proba(rows), models[1].predict_proba(rows))


def test_a_pickled_model_is_never_loaded(store: Tracking, candidate, tmp_path: Path) -> None:
    """Only skops files load: a model saved with pickle is refused before it is read."""
    import mlflow

    from mlops_kit.registry.trust import allowed_types, load_skops_model

    folder = tmp_path / "pickled"
    mlflow.sklearn.save_model(candidate.model, folder, serialization_format="pickle", pip_requirements=[])
    with pytest.raises(UntrustedTypesError, match="saved as 'pickle'; only 'skops' models are loaded"):
        load_skops_model(folder, allowed_types(), what="pickled model")


# --- cards, metrics, import weight -------------------------------------------------------


def test_model_card_renders_the_required_sections(candidate) -> None:
    markdown = card_for(candidate).to_markdown()
    sections = card_sections(markdown)
    assert list(sections) == ["intended use", "data", "metrics", "limitations"]
    assert "- data_version: 0123456789abcdef" in sections["data"]
    assert f"| roc_auc | {candidate.metrics['roc_auc']:.4f} |" in sections["metrics"]
    assert card_problems(markdown) == []
    assert card_problems(None) == ["no model card"]
    assert card_problems("# Card\n\n## Intended use\n\n## Data\n- x\n") == [
        "section '## Intended use' is empty",
        "section '## Metrics' is missing",
        "section '## Limitations' is missing",
    ]


def test_validation_metrics() -> None:
    metrics = validation_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    assert metrics["roc_auc"] == pytest.approx(0.75) and metrics["accuracy"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="single class"):
        validation_metrics([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="one probability per label"):
        validation_metrics([0, 1], [0.2])


def test_fit_candidate_needs_labels(splits) -> None:
    from sklearn.linear_model import LogisticRegression

    train, valid = splits
    with pytest.raises(ValueError, match="no 'is_late' column"):
        fit_candidate("logreg", pipeline(LogisticRegression()), train.drop(columns="is_late"), valid)
    with pytest.raises(ValueError, match="short identifier"):
        fit_candidate("log reg!", pipeline(LogisticRegression()), train, valid)


def test_importing_the_registry_does_not_import_mlflow() -> None:
    code = "import sys, mlops_kit.registry; print(sorted(m for m in ('mlflow', 'sklearn', 'matplotlib') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_mlflow_checks_pinned_requirements_without_scanning_every_distribution() -> None:
    """``skip_mlflow_module_scan`` keeps MLflow's verdict on requirements (a wrong pin is still reported)
    while the scan of every installed distribution never runs: checked in a fresh process, on this MLflow."""
    script = textwrap.dedent(
        """
        import sys
        import importlib_metadata
        from mlflow.utils import requirements_utils
        from mlops_kit.registry.environment import pip_requirements
        from mlops_kit.registry.runs import skip_mlflow_module_scan

        def scan(*args, **kwargs):
            raise AssertionError("packages_distributions ran")

        importlib_metadata.packages_distributions = scan  # the module MLflow's requirements_utils calls
        skip_mlflow_module_scan()
        requirements_utils.warn_dependency_requirement_mismatches(pip_requirements())
        print("--- pinned as installed: no warning above", file=sys.stderr, flush=True)
        requirements_utils.warn_dependency_requirement_mismatches(["scikit-learn==0.0.1", *pip_requirements()[2:]])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "unexpected error" not in done.stdout and "packages_distributions ran" not in done.stdout, done.stdout
    before, _, after = done.stdout.partition("--- pinned as installed: no warning above")
    assert "mismatch" not in before, before
    assert "scikit-learn (current: " in after and "required: scikit-learn==0.0.1" in after, after
    assert after.count(" - ") == 1, after
