"""A planted training/serving skew (module 6): the service computes one feature differently from training.

The course plants the classic bugs on purpose, so the consistency check has something real to
catch. ``SkewSpec.from_scenario(read_scenarios(variant_dir)["skew"])`` turns the variant's ledger
entry into the serving-side declaration; ``skew_features`` applies it to the feature vectors
the service computed with module 2's shared transformation. ``planted_skew(data_dir)`` reads the
skew the generator shipped with the variant's data (the notebook never sees the ledger). Off by default: a service without
``ServiceConfig.skew`` computes exactly what training computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlops_kit.scenarios import CATEGORY_REMAPS, SKEW_FIXTURE, SKEW_KINDS, decode_skew

SkewBug = Literal["unit", "timezone", "category_default", "stale_encoding"]


class SkewSpec(BaseModel):
    """Which feature the service computes wrongly, and how.

    - ``unit``: the feature is multiplied by ``factor`` (a unit never converted);
    - ``timezone``: ``offset_hours`` is added to the hour of day (modulo 24);
    - ``category_default`` / ``stale_encoding``: values are mapped by ``remap`` (a default for a
      category the service's copy lacks, a stale copy of an encoding).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str = Field(min_length=1)
    bug: SkewBug
    factor: float | None = None
    offset_hours: int | None = None
    remap: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _parameters(self) -> SkewSpec:
        if self.bug == "unit" and (self.factor is None or self.factor == 1.0):
            raise ValueError("a unit skew needs a factor other than 1")
        if self.bug == "timezone" and (self.offset_hours is None or self.offset_hours % 24 == 0):
            raise ValueError("a timezone skew needs offset_hours that is not a multiple of 24")
        if self.bug in ("category_default", "stale_encoding") and not self.remap:
            raise ValueError(f"a {self.bug} skew needs a remap of at least one category")
        return self

    @classmethod
    def from_scenario(cls, entry: Mapping[str, Any]) -> SkewSpec:
        """The skew a variant's ledger declares (``read_scenarios(variant_dir)["skew"]``)."""
        feature, bug = entry.get("feature"), entry.get("bug")
        if not any(kind.feature == feature and kind.bug == bug for kind in SKEW_KINDS):
            raise ValueError(f"the ledger's skew {feature!r}/{bug!r} is none of mlops_kit.scenarios.SKEW_KINDS")
        return cls(
            feature=feature,
            bug=bug,
            factor=entry.get("factor"),
            offset_hours=entry.get("offset_hours"),
            remap=dict(CATEGORY_REMAPS.get(feature, {})) if bug in ("category_default", "stale_encoding") else {},
        )


def skew_features(features: pd.DataFrame, skew: SkewSpec) -> pd.DataFrame:
    """``features`` with ``skew.feature`` computed the skewed way (a new frame; the input is untouched)."""
    if skew.feature not in features.columns:
        raise ValueError(f"the skewed feature {skew.feature!r} is not among the computed features {list(features)}")
    values = features[skew.feature]
    if skew.bug == "unit":
        skewed = values * skew.factor
    elif skew.bug == "timezone":
        skewed = (values + skew.offset_hours) % 24
    else:
        skewed = values.map(lambda value: skew.remap.get(value, value)).astype(values.dtype)
    return features.assign(**{skew.feature: skewed.astype(values.dtype)})


def planted_skew(data_dir: str | Path) -> SkewSpec:
    """The skew planted for this data variant (the generator's fixture next to the orders)."""
    path = Path(data_dir) / SKEW_FIXTURE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: regenerate the variant's data (python -m mlops_kit.datagen)")
    try:
        return SkewSpec.from_scenario(decode_skew(path.read_text(encoding="ascii")))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
