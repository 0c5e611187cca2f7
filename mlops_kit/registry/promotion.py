"""Promote a version to an alias by policy, leaving an audit trail; or refuse, also on record.

    decision = promote(tracking, "late-delivery", "2", POLICY, reason="best ROC AUC this month",
                       audit_log=out / "audit_log.jsonl")

A version without lineage tags is refused with MissingLineageError whatever the policy says;
any failed check raises PromotionRefused (``raise_on_refusal=False`` returns the decision
instead). Both outcomes are recorded as ``audit.*`` tags and in the audit log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_kit.registry.audit import append_audit_log, audit_entry, audit_tags, current_actor
from mlops_kit.registry.errors import AliasNotFound, MissingLineageError, PromotionRefused, RegistryError
from mlops_kit.registry.metrics import higher_is_better
from mlops_kit.registry.policy import PolicyError, PromotionDecision, PromotionPolicy, evaluate_policy
from mlops_kit.registry.versions import LINEAGE_TAGS, VersionFacts, version_by_alias, version_facts

if TYPE_CHECKING:
    from mlops_kit.registry.tracking import Tracking


def enforced_policy(policy: PromotionPolicy) -> PromotionPolicy:
    """``policy`` with the lineage tags always required (no version reaches an alias without them)."""
    if not isinstance(policy, PromotionPolicy):
        raise PolicyError(f"policy must be a PromotionPolicy, got {type(policy).__name__}")
    required = tuple(dict.fromkeys((*LINEAGE_TAGS, *policy.required_tags)))
    return dataclasses.replace(policy, required_tags=required)


def current_holder(tracking: Tracking, name: str, alias: str) -> VersionFacts | None:
    """Facts about the version ``alias`` points to, or None when the alias is not set."""
    try:
        found = version_by_alias(tracking, name, alias)
    except AliasNotFound:
        return None
    return version_facts(tracking, name, found.version)


def evaluate_promotion(tracking: Tracking, name: str, version: str | int, policy: PromotionPolicy) -> PromotionDecision:
    """What ``promote`` would decide, without moving anything or writing the audit trail."""
    policy = enforced_policy(policy)
    return evaluate_policy(policy, version_facts(tracking, name, version), current_holder(tracking, name, policy.alias))


def promote(
    tracking: Tracking,
    name: str,
    version: str | int,
    policy: PromotionPolicy,
    *,
    reason: str,
    actor: str | None = None,
    audit_log: str | Path | None = None,
    raise_on_refusal: bool = True,
) -> PromotionDecision:
    """Check ``version`` against ``policy``; if it passes, point ``policy.alias`` at it.

    Who (``actor``, default :func:`current_actor`), when, why (``reason``), the policy and every
    check are recorded as ``audit.*`` tags on the version and appended to ``audit_log``.
    A refusal raises PromotionRefused unless ``raise_on_refusal=False``; a version without
    lineage tags always raises MissingLineageError (after the refusal is recorded).
    """
    if not isinstance(reason, str) or not reason.strip():
        raise RegistryError("say why you promote this version: reason must be a non-empty string")
    enforced = enforced_policy(policy)
    candidate = version_facts(tracking, name, version)
    champion = current_holder(tracking, name, enforced.alias)
    decision = evaluate_policy(enforced, candidate, champion)
    entry = audit_entry(
        decision.to_dict(), actor=actor or current_actor(), reason=reason.strip(), policy=enforced.to_dict()
    )
    client = tracking.client()
    if decision.approved:
        client.set_registered_model_alias(name, enforced.alias, candidate.version)
    for key, value in audit_tags(entry).items():
        client.set_model_version_tag(name, candidate.version, key, value)
    if audit_log is not None:
        append_audit_log(audit_log, entry)
    if candidate.missing_lineage:
        raise MissingLineageError(
            f"version {candidate.version} of {name!r} has no lineage tags {', '.join(candidate.missing_lineage)}: "
            f"log the data version and feature-set version with the training run, then register it again",
            decision,
        )
    if not decision.approved and raise_on_refusal:
        raise PromotionRefused(f"{name!r} {decision.summary()}", decision)
    return decision


def best_version(versions: Sequence[VersionFacts], metric: str) -> VersionFacts:
    """The version with the best ``metric`` (first registered wins a tie); RegistryError if none has it."""
    scored = [facts for facts in versions if facts.metrics.get(metric) is not None]
    if not scored:
        raise RegistryError(f"no version has a {metric} metric")
    sign = 1 if higher_is_better(metric) else -1
    return max(scored, key=lambda facts: (sign * facts.metrics[metric], -int(facts.version)))
