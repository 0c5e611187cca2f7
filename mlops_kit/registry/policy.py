"""Promotion policy: the declared rules a version must pass to take an alias (``champion``).

``evaluate_policy`` is a pure function of the policy and the facts about the candidate and
the current champion, so the same decision can be shown (dry run), tested and enforced.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops_kit.registry.errors import RegistryError
from mlops_kit.registry.lineage import CHALLENGER, CHAMPION, LINEAGE_TAGS, VersionFacts
from mlops_kit.registry.metrics import METRIC_DIRECTIONS, higher_is_better, is_better

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "Check",
    "PolicyError",
    "PromotionDecision",
    "PromotionPolicy",
    "evaluate_policy",
]


class PolicyError(RegistryError):
    """A promotion policy that cannot be applied (unknown metric, bad threshold...)."""


@dataclass(frozen=True)
class PromotionPolicy:
    """What a version needs to take ``alias``.

    ``metric`` ranks versions (its direction comes from METRIC_DIRECTIONS); ``min_value`` and
    ``max_value`` bound it; with ``must_beat_champion`` the version must beat the current
    holder of the alias by more than ``min_improvement``; ``required_tags`` must be present
    and non-empty; with ``require_model_card`` the run must hold a complete model card.
    """

    metric: str = "roc_auc"
    min_value: float | None = None
    max_value: float | None = None
    must_beat_champion: bool = True
    min_improvement: float = 0.0
    required_tags: tuple[str, ...] = LINEAGE_TAGS
    require_model_card: bool = True
    alias: str = CHAMPION

    def __post_init__(self) -> None:
        """Normalise ``required_tags`` to a tuple and reject policies that cannot be applied."""
        tags = self.required_tags
        object.__setattr__(self, "required_tags", (tags,) if isinstance(tags, str) else tuple(tags))
        if self.metric not in METRIC_DIRECTIONS:
            raise PolicyError(f"unknown metric {self.metric!r}; a policy can rank by {', '.join(METRIC_DIRECTIONS)}")
        for name in ("min_value", "max_value", "min_improvement"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)
            ):
                raise PolicyError(f"{name} must be a number, got {value!r}")
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise PolicyError(f"min_value {self.min_value} is above max_value {self.max_value}: no version can pass")
        if self.min_improvement < 0:
            raise PolicyError(f"min_improvement must be 0 or more, got {self.min_improvement}")
        if not self.alias or not isinstance(self.alias, str):
            raise PolicyError(f"alias must be a non-empty string, got {self.alias!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (recorded with every decision)."""
        return {**asdict(self), "required_tags": list(self.required_tags)}

    def to_json(self) -> str:
        """Compact, key-sorted JSON (the ``audit.policy`` tag)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromotionPolicy:
        """Rebuild a policy from ``to_dict()`` output."""
        known = {name: value for name, value in data.items() if name in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Check:
    """One rule of the policy applied to one version."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class PromotionDecision:
    """The policy's verdict on one version for one alias, with every check."""

    model_name: str
    version: str
    alias: str
    metric: str
    value: float | None
    champion_version: str | None
    checks: tuple[Check, ...] = field(default=())

    @property
    def approved(self) -> bool:
        """True when every check passed."""
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[str]:
        """Details of the failed checks."""
        return [check.detail for check in self.checks if not check.passed]

    def summary(self) -> str:
        """One line: approved, or refused with every reason."""
        if self.approved:
            return f"version {self.version} may become {self.alias}: " + "; ".join(c.detail for c in self.checks)
        return f"version {self.version} may not become {self.alias}: " + "; ".join(self.failures)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the audit log."""
        return {
            "model_name": self.model_name,
            "version": self.version,
            "alias": self.alias,
            "metric": self.metric,
            "value": self.value,
            "champion_version": self.champion_version,
            "approved": self.approved,
            "checks": [asdict(check) for check in self.checks],
        }


def evaluate_policy(
    policy: PromotionPolicy, candidate: VersionFacts, champion: VersionFacts | None
) -> PromotionDecision:
    """Apply every rule of ``policy`` to ``candidate`` (``champion``: the alias's current holder)."""
    if not isinstance(policy, PromotionPolicy):
        raise PolicyError(f"policy must be a PromotionPolicy, got {type(policy).__name__}")
    metric = policy.metric
    value = candidate.metrics.get(metric)
    checks = [_tags_check(policy, candidate), _metric_check(policy, candidate.version, value)]
    if policy.require_model_card:
        checks.append(_card_check(candidate))
    if policy.must_beat_champion:
        checks.append(_champion_check(policy, candidate, value, champion))
    return PromotionDecision(
        model_name=candidate.name,
        version=candidate.version,
        alias=policy.alias,
        metric=metric,
        value=value,
        champion_version=champion.version if champion else None,
        checks=tuple(checks),
    )


def _tags_check(policy: PromotionPolicy, candidate: VersionFacts) -> Check:
    missing = [tag for tag in policy.required_tags if not str(candidate.tags.get(tag, "")).strip()]
    if missing:
        return Check("required_tags", False, f"tags {', '.join(missing)} missing")
    return Check("required_tags", True, f"tags {', '.join(policy.required_tags) or '(none required)'} present")


def _metric_check(policy: PromotionPolicy, version: str, value: float | None) -> Check:
    metric = policy.metric
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Check("metric", False, f"version {version} has no {metric} metric")
    if policy.min_value is not None and value < policy.min_value:
        return Check("metric", False, f"{metric} {value:.4f} is below the minimum {policy.min_value}")
    if policy.max_value is not None and value > policy.max_value:
        return Check("metric", False, f"{metric} {value:.4f} is above the maximum {policy.max_value}")
    bounds = [
        f"≥ {policy.min_value}" if policy.min_value is not None else "",
        f"≤ {policy.max_value}" if policy.max_value is not None else "",
    ]
    shown = " and ".join(bound for bound in bounds if bound) or "(no bound)"
    return Check("metric", True, f"{metric} {value:.4f} {shown}")


def _card_check(candidate: VersionFacts) -> Check:
    if candidate.card_problems is None:
        return Check("model_card", False, "no model card logged with the run")
    if candidate.card_problems:
        return Check("model_card", False, "model card incomplete: " + ", ".join(candidate.card_problems))
    return Check("model_card", True, "model card complete")


def _champion_check(
    policy: PromotionPolicy, candidate: VersionFacts, value: float | None, champion: VersionFacts | None
) -> Check:
    metric = policy.metric
    if champion is None:
        return Check("beats_champion", True, f"no current {policy.alias} to beat")
    if champion.version == candidate.version:
        return Check("beats_champion", False, f"version {candidate.version} already is the {policy.alias}")
    held = champion.metrics.get(metric)
    if value is None:
        return Check(
            "beats_champion", False, f"cannot compare with {policy.alias} version {champion.version} without {metric}"
        )
    if held is None:
        return Check(
            "beats_champion", False, f"{policy.alias} version {champion.version} has no {metric} to compare with"
        )
    direction = "higher" if higher_is_better(metric) else "lower"
    if is_better(metric, value, held, policy.min_improvement):
        return Check(
            "beats_champion",
            True,
            f"beats {policy.alias} version {champion.version} ({metric} {value:.4f} vs {held:.4f})",
        )
    margin = f" by more than {policy.min_improvement}" if policy.min_improvement else ""
    return Check(
        "beats_champion",
        False,
        f"does not beat {policy.alias} version {champion.version}{margin} ({metric} {value:.4f} vs {held:.4f}, {direction} is better)",
    )
