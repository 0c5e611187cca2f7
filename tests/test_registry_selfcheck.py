"""Module 3's self-checks: a stub is "not done", a wrong answer says what is wrong, a right one passes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from grading.selfcheck import module03
from mlops_kit.registry import LINEAGE_TAGS, Candidate, ModelCard, PromotionPolicy

FEATURE_SET = SimpleNamespace(data_version="72a110e99c4077a5", feature_set_version="43b40026cf023576")
CANDIDATE = Candidate(
    name="logreg",
    model=None,
    params={},
    metrics={"roc_auc": 0.6883, "log_loss": 0.57},
    train_rows=5979,
    valid_rows=2868,
    train_period=("2025-01-01", "2025-04-30"),
    valid_period=("2025-05-01", "2025-06-30"),
)


def good_card(candidate: Candidate, lineage: dict[str, str]) -> ModelCard:
    return ModelCard(
        model_name="late-delivery",
        candidate=candidate.name,
        intended_use="Warn customers in the app when their order will probably arrive late.",
        data={**lineage, "training rows": candidate.train_rows},
        metrics=candidate.metrics,
        limitations=["One reference period only.", "New zones were never seen."],
    )


def typed_in_card(candidate: Candidate, lineage: dict[str, str]) -> ModelCard:
    card = good_card(candidate, lineage)
    return ModelCard(**{**card.__dict__, "metrics": {"roc_auc": 0.6883}})


@pytest.mark.parametrize(
    ("exercise", "args", "outcome", "says"),
    [
        (module03.exercise_1, (lambda fs: {}, FEATURE_SET), None, "not done yet"),
        (
            module03.exercise_1,
            (lambda fs: {"data_version": fs.data_version}, FEATURE_SET),
            False,
            "missing: ['feature_set_version']",
        ),
        (
            module03.exercise_1,
            (lambda fs: {"data_version": "72a110e99c4077a5", "feature_set_version": 7}, FEATURE_SET),
            False,
            "MLflow tags are strings",
        ),
        (
            module03.exercise_1,
            (lambda fs: {t: getattr(fs, t) for t in LINEAGE_TAGS}, FEATURE_SET),
            True,
            "data version and the feature-set version",
        ),
        (module03.exercise_2, (lambda c, lineage: None, CANDIDATE), None, "not done yet"),
        (module03.exercise_2, (typed_in_card, CANDIDATE), False, "not numbers typed in"),
        (
            module03.exercise_2,
            (lambda c, lineage: "# Card\n\n## Intended use\nsomething\n", CANDIDATE),
            False,
            "section '## Data' is missing",
        ),
        (module03.exercise_2, (good_card, CANDIDATE), True, "all from the candidate"),
        (module03.exercise_3, (None,), None, "not done yet"),
        (module03.exercise_3, (PromotionPolicy(metric="accuracy", min_value=0.6),), False, "rank by ROC AUC"),
        (
            module03.exercise_3,
            (PromotionPolicy(metric="roc_auc", min_value=0.6, require_model_card=False),),
            False,
            "no model card, no promotion",
        ),
        (module03.exercise_3, (PromotionPolicy(metric="roc_auc", min_value=0.6),), True, "ROC AUC ≥ 0.6"),
    ],
)
def test_self_checks(exercise, args, outcome, says, capsys) -> None:
    assert exercise(*args).status == {True: "pass", False: "fail", None: "todo"}[outcome]
    assert says in capsys.readouterr().out
