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
    rows = shifted.valid_rows
    assert str(rows) in sections["data"] or f"{rows:,}" in sections["data"], (
        "the Data section must say how many orders the validation split holds (from the candidate)"
    )
    assert any(math.isclose(number, 0.6173, abs_tol=5e-4) for number in card_metric_values(markdown)), (
        "the Metrics section must show the candidate's own roc_auc (candidate.metrics), not numbers typed in"
    )
    limitations = [line for line in sections["limitations"].splitlines() if line.strip("- ").strip()]
    assert len(limitations) >= 2, f"name at least two limitations (found {len(limitations)})"
    return "the card has intended use, data (with lineage), metrics and limitations, all from the candidate"


def _no_skill(train: Any, valid: Any) -> float:
    """Log loss on ``valid`` of always predicting ``train``'s late rate (the bar of exercise 3)."""
    rate = float(train["is_late"].astype(float).mean())
    late = valid["is_late"].astype(float)
    return float(-(late * math.log(rate) + (1 - late) * math.log(1 - rate)).mean())


@self_check("Exercise 3")
def exercise_3(no_skill_log_loss: Callable[[Any, Any], Any], policy: Any, feature_set: Any) -> str:
    """Is the bar the no-skill forecast's log loss, computed from the data, and does the policy say what the team asked?"""
    from mlops_kit.registry import PromotionPolicy, higher_is_better

    bar = _no_skill(feature_set.train, feature_set.valid)
    mine = no_skill_log_loss(feature_set.train, feature_set.valid)
    if mine is None and policy is None:
        raise NotDone("no_skill_log_loss returns None and PROMOTION_POLICY is None")
    assert mine is not None, "no_skill_log_loss returns None: return the log loss as a float"
    assert math.isclose(float(mine), bar, rel_tol=1e-6), (
        f"no_skill_log_loss gives {float(mine):.4f} on this data, which is not the no-skill forecast's log loss: "
        "the forecast gives every order the training split's late rate; score it on the validation split's labels"
    )
    shifted = feature_set.valid.assign(is_late=feature_set.valid["is_late"].iloc[::-1].to_numpy())
    assert math.isclose(float(no_skill_log_loss(feature_set.train, shifted)), _no_skill(feature_set.train, shifted)), (
        "no_skill_log_loss must compute from the frames it is given, not from numbers of this data"
    )
    if policy is None:
        raise NotDone("the bar is right; now declare PROMOTION_POLICY")
    assert isinstance(policy, PromotionPolicy), (
        f"PROMOTION_POLICY must be a PromotionPolicy, not {type(policy).__name__}"
    )
    assert policy.metric == "log_loss", f"the team ranks by log loss, your policy by {policy.metric!r}"
    bound, other = ("min_value", "max_value") if higher_is_better(policy.metric) else ("max_value", "min_value")
    assert getattr(policy, other) is None, (
        f"{policy.metric} is {'higher' if bound == 'min_value' else 'lower'}-is-better (METRIC_DIRECTIONS): "
        f"a bound on {other} keeps out the good models, not the bad ones"
    )
    value = getattr(policy, bound)
    assert value is not None and math.isclose(value, bar, rel_tol=1e-6), (
        f"the bar of the policy is {value}: it should be the no-skill forecast's log loss on this data, "
        "computed by no_skill_log_loss (not typed in)"
    )
    assert policy.must_beat_champion, "the team wants a new champion to do better than the current one: which field?"
    missing = [tag for tag in LINEAGE_TAGS if tag not in policy.required_tags]
    assert not missing, f"a version without its lineage must not be promoted: {missing} are not required"
    assert policy.require_model_card, "the team asked for a model card before any promotion"
    assert policy.alias == "champion", f"the policy guards the 'champion' alias, not {policy.alias!r}"
    return f"log loss must beat the no-skill bar ({bar:.4f} here) and the champion; lineage and card required"
