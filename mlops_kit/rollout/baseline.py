"""The rule-based baseline the router answers with when both models fail (light: no model, no sklearn)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class BaselineRule(BaseModel):
    """Late (``late_probability``) when the order's ``feature`` is above ``above``, else ``on_time_probability``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str = Field(min_length=1)
    above: float
    late_probability: float = Field(default=0.7, ge=0, le=1)
    on_time_probability: float = Field(default=0.2, ge=0, le=1)

    def probability(self, order: dict[str, Any]) -> float:
        """The baseline's late probability for one raw order (a missing or non-numeric value is not above)."""
        value = order.get(self.feature)
        above = isinstance(value, (int, float)) and not isinstance(value, bool) and value > self.above
        return self.late_probability if above else self.on_time_probability
