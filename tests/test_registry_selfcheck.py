"""Module 3's self-checks: a stub is "not done", a wrong answer says what is wrong, a right one passes."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
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


SPLITS = SimpleNamespace(
    train=pd.DataFrame({"is_late": [0, 0, 0, 1]}), valid=pd.DataFrame({"is_late": [1, 0, 0, 1, 0]})
)
NO_SKILL = -(2 * math.log(0.25) + 3 * math.log(0.75)) / 5  # rate 1/4 from train; 2 late of 5 in valid


def no_skill(train: pd.DataFrame, valid: pd.DataFrame) -> float:
    rate = train["is_late"].mean()
    return float(-(valid["is_late"] * math.log(rate) + (1 - valid["is_late"]) * math.log(1 - rate)).mean())


def good_card(candidate: Candidate, lineage: dict[str, str]) -> ModelCard:
    return ModelCard(
        model_name="late-delivery",
        candidate=candidate.name,
        intended_use="Warn customers in the app when their order will probably arrive late.",
        data={**lineage, "training rows": candidate.train_rows, "validation rows": candidate.valid_rows},
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
        (module03.exercise_3, (lambda train, valid: None, None, SPLITS), None, "not done yet"),
        (module03.exercise_3, (lambda train, valid: 0.6, None, SPLITS), False, "not the no-skill"),
        (module03.exercise_3, (no_skill, None, SPLITS), None, "now declare PROMOTION_POLICY"),
        (module03.exercise_3, (no_skill, PromotionPolicy(min_value=0.6), SPLITS), False, "ranks by log loss"),
        (
            module03.exercise_3,
            (no_skill, PromotionPolicy(metric="log_loss", min_value=0.5), SPLITS),
            False,
            "lower-is-better",
        ),
        (module03.exercise_3, (no_skill, PromotionPolicy(metric="log_loss", max_value=0.6), SPLITS), False, "bar"),
        (
            module03.exercise_3,
            (no_skill, PromotionPolicy(metric="log_loss", max_value=NO_SKILL, require_model_card=False), SPLITS),
            False,
            "model card",
        ),
        (module03.exercise_3, (no_skill, PromotionPolicy(metric="log_loss", max_value=NO_SKILL), SPLITS), True, "beat"),
    ],
)
def test_self_checks(exercise, args, outcome, says, capsys) -> None:
    assert exercise(*args).status == {True: "pass", False: "fail", None: "todo"}[outcome]
    assert says in capsys.readouterr().out
