"""Self-checks for module 3 (model registry & governance)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from grading.selfcheck import NotDone, self_check
from mlops_kit.registry.card import card_metric_values, card_problems, card_sections
from mlops_kit.registry.versions import LINEAGE_TAGS


@self_check("Exercise 1")
def exercise_1(lineage_tags: Callable[[Any], Any], feature_set: Any) -> str:
    """Does the lineage name the feature set's data version and feature-set version?"""
    lineage = lineage_tags(feature_set)
    if not lineage:
        raise NotDone("lineage_tags returns nothing; return a dict of tag → value")
    assert isinstance(lineage, Mapping), f"return a dict of tag → value, not {type(lineage).__name__}"
    missing = [tag for tag in LINEAGE_TAGS if tag not in lineage]
    assert not missing, f"the lineage needs the tags {list(LINEAGE_TAGS)}; missing: {missing}"
    not_text = [tag for tag, value in lineage.items() if not isinstance(value, str)]
    assert not not_text, f"MLflow tags are strings: {not_text} hold {[type(lineage[t]).__name__ for t in not_text]}"
    assert lineage["data_version"] == feature_set.data_version, (
        f"data_version is {lineage['data_version']!r}, but the clean data this feature set was built from has "
        "version fs.data_version: take it from the feature set, don't type it"
    )
    assert lineage["feature_set_version"] == feature_set.feature_set_version, (
        f"feature_set_version is {lineage['feature_set_version']!r}; the feature set says fs.feature_set_version"
    )
    return "every run will record the data version and the feature-set version it was trained on"


@self_check("Exercise 2")
def exercise_2(write_model_card: Callable[[Any, Mapping[str, str]], Any], candidate: Any) -> str:
    """Is the card complete, and does it state this candidate's lineage and metrics (not typed-in numbers)?"""
    lineage = {"data_version": "d1ff3r3nt00data0", "feature_set_version": "f3at0r3s0v3rs10n"}
    shifted = replace(candidate, name="probe", metrics={**candidate.metrics, "roc_auc": 0.6173, "log_loss": 0.5821})
    card = write_model_card(shifted, lineage)
    if card is None:
        raise NotDone("write_model_card returns None; return a ModelCard")
    markdown = card if isinstance(card, str) else card.to_markdown()
    problems = card_problems(markdown)
    assert not problems, f"the card is incomplete: {'; '.join(problems)}"
    sections = card_sections(markdown)
    assert len(sections["intended use"].split()) >= 8, "say in a sentence or two who uses the model, for what decision"
    for tag, value in lineage.items():
        assert value in sections["data"], (
            f"the Data section must name the {tag} of the lineage you are given ({value!r} in this check): "
            "use the lineage argument"
        )
    assert any(math.isclose(number, 0.6173, abs_tol=5e-4) for number in card_metric_values(markdown)), (
        "the Metrics section must show the candidate's own roc_auc (candidate.metrics), not numbers typed in"
    )
    limitations = [line for line in sections["limitations"].splitlines() if line.strip("- ").strip()]
    assert len(limitations) >= 2, f"name at least two limitations (found {len(limitations)})"
    return "the card has intended use, data (with lineage), metrics and limitations, all from the candidate"


@self_check("Exercise 3")
def exercise_3(policy: Any) -> str:
    """Does the declared policy say what the team asked for?"""
    from mlops_kit.registry import PromotionPolicy

    if policy is None:
        raise NotDone("PROMOTION_POLICY is None; declare a PromotionPolicy")
    assert isinstance(policy, PromotionPolicy), (
        f"PROMOTION_POLICY must be a PromotionPolicy, not {type(policy).__name__}"
    )
    assert policy.metric == "roc_auc", f"rank by ROC AUC (metric='roc_auc'), not {policy.metric!r}"
    assert policy.min_value is not None and math.isclose(policy.min_value, 0.6), (
        f"a champion needs ROC AUC of at least 0.60: min_value=0.6 (got {policy.min_value})"
    )
    assert policy.max_value is None, "the team set no upper bound: leave max_value as None"
    assert policy.must_beat_champion, "a new champion must beat the current one: must_beat_champion=True"
    missing = [tag for tag in LINEAGE_TAGS if tag not in policy.required_tags]
    assert not missing, f"require the lineage tags: required_tags must include {missing}"
    assert policy.require_model_card, "no model card, no promotion: require_model_card=True"
    assert policy.alias == "champion", f"the policy guards the 'champion' alias, not {policy.alias!r}"
    return "ROC AUC ≥ 0.6, beat the champion, lineage tags and a model card required"
