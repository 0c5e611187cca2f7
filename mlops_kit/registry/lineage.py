"""Lineage of a registered version: the tags it must carry and the facts the policy reads.

Plain data, no MLflow: the promotion policy, the reference solution and the grader share these
types without importing the registry client (``versions`` fills them from MLflow).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

CHAMPION = "champion"
"""The alias of the version in production; it moves only through ``promote``."""
CHALLENGER = "challenger"
"""The alias of the version proposed to replace the champion."""

LINEAGE_TAGS: tuple[str, ...] = ("data_version", "feature_set_version")
"""Tags every registered version carries: what data and which feature set trained it."""


@dataclass(frozen=True)
class VersionFacts:
    """What the policy and the grader need to know about one registered version.

    ``card_problems`` is None when the run has no model card, else the card's problems
    (empty: complete).
    """

    name: str
    version: str
    run_id: str | None
    tags: Mapping[str, str]
    metrics: Mapping[str, float]
    aliases: tuple[str, ...] = field(default=())
    card_problems: tuple[str, ...] | None = None

    @property
    def lineage(self) -> dict[str, str]:
        """The lineage tags the version carries (possibly fewer than LINEAGE_TAGS)."""
        return {tag: self.tags[tag] for tag in LINEAGE_TAGS if self.tags.get(tag)}

    @property
    def missing_lineage(self) -> list[str]:
        """Lineage tags the version lacks or holds empty."""
        return [tag for tag in LINEAGE_TAGS if not str(self.tags.get(tag, "")).strip()]
