"""Alert rules, declared in YAML and validated by pydantic (a bad rule is refused, rule and field named).

    rules:
      - name: KeyFeatureDrift
        signal: column_drift          # one alert per column over the threshold
        columns: [weather, vehicle]   # optional: which columns (default: every watched input)
        condition: above
        threshold: 0.1
        for_windows: 1                # consecutive windows before pending becomes firing
        severity: warning
        runbook: "What to check, who to call."

Signals (``SIGNALS``): per window, from the drift reports, the service's metrics and, once they
arrive, the labels. ``column_drift`` is a vector (one value per column); the others are scalars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops_kit.gates.spec import describe_validation_error

SIGNALS: dict[str, str] = {
    "drift_share": "share of the watched inputs that drifted in the window",
    "column_drift": "drift score of each watched input (Evidently, pinned method)",
    "prediction_drift": "drift score of the predicted probabilities against the reference period",
    "prediction_mean_shift": "absolute change of the mean predicted probability against the reference period",
    "latency_p95_ms": "95th percentile of /predict latency in the window (from /metrics)",
    "error_rate": "share of /predict requests that failed in the window (from /metrics)",
    "performance_drop": "reference ROC AUC minus the window's, once labels arrive",
}


class RulesError(ValueError):
    """An alert-rules file or list that cannot be read or does not validate; the message names rule and field."""


class AlertRule(BaseModel):
    """One alert rule: when ``signal`` is ``condition`` ``threshold`` for ``for_windows`` windows in a row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    signal: Literal[tuple(SIGNALS)]  # type: ignore[valid-type]
    columns: tuple[str, ...] | None = None
    condition: Literal["above", "below"] = "above"
    threshold: float
    for_windows: int = Field(1, ge=1, le=12)
    severity: Literal["info", "warning", "critical"] = "warning"
    runbook: str = Field(min_length=10)
    summary: str = ""

    @model_validator(mode="after")
    def _columns_only_for_vectors(self) -> AlertRule:
        if self.columns is not None and self.signal != "column_drift":
            raise ValueError(f"columns only apply to the column_drift signal, not to {self.signal}")
        if self.columns is not None and not self.columns:
            raise ValueError("columns is empty: leave it out to watch every input")
        return self

    def breached(self, value: float) -> bool:
        """True when ``value`` meets the rule's condition."""
        return value > self.threshold if self.condition == "above" else value < self.threshold


def load_rules(source: str | Path | list[dict[str, Any]] | dict[str, Any]) -> list[AlertRule]:
    """Validate rules from a YAML file, a ``{"rules": [...]}`` mapping or a list; RulesError names rule and field."""
    where = "alert rules"
    if isinstance(source, (str, Path)):
        import yaml

        path = Path(source)
        where = str(path)
        try:
            source = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as problem:
            raise RulesError(f"cannot read the alert rules {path}: {problem}") from problem
    if isinstance(source, dict):
        source = source.get("rules")
    if not isinstance(source, list) or not source:
        raise RulesError(f"{where}: expected a non-empty list of rules under 'rules'")
    rules, seen = [], set()
    for number, item in enumerate(source, start=1):
        label = f"rule {number}" + (f" ({item.get('name')!r})" if isinstance(item, dict) and item.get("name") else "")
        if not isinstance(item, dict):
            raise RulesError(f"{where}: {label} is not a mapping of field -> value")
        try:
            rule = AlertRule.model_validate(item)
        except ValidationError as problem:
            raise RulesError(f"{where}: {label}: {describe_validation_error(problem)}") from None
        if rule.name in seen:
            raise RulesError(f"{where}: {label}: field 'name': another rule is already called {rule.name!r}")
        seen.add(rule.name)
        rules.append(rule)
    return rules


def rules_yaml(rules: list[AlertRule]) -> str:
    """The rules as a YAML document (what ``load_rules`` reads back)."""
    import yaml

    payload = {"rules": [rule.model_dump(mode="json", exclude_none=True) for rule in rules]}
    return yaml.safe_dump(payload, sort_keys=False, allow_unicode=True)
