"""The gate's verdict: every check with its value, threshold and message, as JSON and JUnit XML.

JUnit XML is what CI systems (GitHub Actions reporters, GitLab, Jenkins) display natively:
one ``testcase`` per check, a ``failure`` for a failed check, ``skipped`` for one that could
not run (it still fails the gate: a check that did not run proved nothing).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_kit.io import atomic_write_bytes, atomic_write_json

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


@dataclass(frozen=True)
class CheckResult:
    """One check applied to the challenger.

    ``value`` is what was measured, ``threshold`` what the spec asks (a number, or text such as
    ``">= 0.95 of 200 cases"``), ``message`` says why it passed or failed in one sentence;
    ``details`` holds evidence (failing cases, measurements) for the JSON record.
    """

    name: str
    family: str
    passed: bool
    value: float | str | None
    threshold: float | str | None
    message: str
    status: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", PASS if self.passed else FAIL)
        if self.status == SKIPPED and self.passed:
            raise ValueError(f"check {self.name!r}: a skipped check cannot pass")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes None)."""
        return {
            "name": self.name,
            "family": self.family,
            "passed": self.passed,
            "status": self.status,
            "value": _json_number(self.value),
            "threshold": _json_number(self.threshold),
            "message": self.message,
            "details": self.details,
        }


def skipped(name: str, family: str, threshold: float | str | None, why: str) -> CheckResult:
    """A check that could not run: it fails the gate, and says why."""
    return CheckResult(name, family, False, None, threshold, f"not run: {why}", status=SKIPPED)


@dataclass(frozen=True)
class GateDecision:
    """Pass or fail for one challenger against the champion, with every check."""

    model_name: str
    challenger: str
    champion: str | None
    checks: tuple[CheckResult, ...]
    spec: dict[str, Any]
    evaluation: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when there is at least one check and every check passed."""
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def verdict(self) -> str:
        """``pass`` or ``fail``."""
        return PASS if self.passed else FAIL

    @property
    def failed(self) -> list[CheckResult]:
        """The checks that failed or could not run."""
        return [check for check in self.checks if not check.passed]

    def check(self, name: str) -> CheckResult:
        """The check called ``name``; KeyError listing the checks otherwise."""
        for found in self.checks:
            if found.name == name:
                return found
        raise KeyError(f"no check {name!r} in this decision; checks: {', '.join(c.name for c in self.checks)}")

    def summary(self) -> str:
        """One line: the verdict and, on a failure, which checks blocked the challenger."""
        head = f"gate {self.verdict}: {self.model_name} version {self.challenger}"
        head += f" vs champion version {self.champion}" if self.champion else " (no champion)"
        if self.passed:
            return f"{head}: {len(self.checks)} checks passed"
        return f"{head}: blocked by {', '.join(check.name for check in self.failed)}"

    def table(self) -> Any:
        """The checks as a pandas DataFrame (check, family, status, value, threshold, message)."""
        import pandas as pd

        rows = [
            {
                "check": c.name,
                "family": c.family,
                "status": c.status,
                "value": _shown(c.value),
                "threshold": _shown(c.threshold),
                "message": c.message,
            }
            for c in self.checks
        ]
        return pd.DataFrame(rows).set_index("check")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: verdict, versions, the spec used, the evaluation batch and every check."""
        return {
            "model_name": self.model_name,
            "challenger": self.challenger,
            "champion": self.champion,
            "passed": self.passed,
            "verdict": self.verdict,
            "failed_checks": [check.name for check in self.failed],
            "spec": self.spec,
            "evaluation": self.evaluation,
            "checks": [check.to_dict() for check in self.checks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateDecision:
        """Rebuild a decision from ``to_dict()`` output (a decision file)."""
        checks = tuple(
            CheckResult(
                name=c["name"],
                family=c["family"],
                passed=bool(c["passed"]),
                value=c.get("value"),
                threshold=c.get("threshold"),
                message=c["message"],
                status=c.get("status", ""),
                details=dict(c.get("details") or {}),
            )
            for c in data["checks"]
        )
        return cls(
            model_name=data["model_name"],
            challenger=str(data["challenger"]),
            champion=None if data.get("champion") is None else str(data["champion"]),
            checks=checks,
            spec=dict(data.get("spec") or {}),
            evaluation=dict(data.get("evaluation") or {}),
        )

    def to_junit_xml(self) -> bytes:
        """The decision as a JUnit XML report: one testcase per check."""
        suites = ET.Element("testsuites", name="model-gate")
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"gate {self.model_name} version {self.challenger}",
            tests=str(len(self.checks)),
            failures=str(sum(c.status == FAIL for c in self.checks)),
            skipped=str(sum(c.status == SKIPPED for c in self.checks)),
            errors="0",
        )
        properties = ET.SubElement(suite, "properties")
        for key, value in (("challenger", self.challenger), ("champion", self.champion or "none")):
            ET.SubElement(properties, "property", name=key, value=str(value))
        for check in self.checks:
            case = ET.SubElement(suite, "testcase", classname=f"gate.{check.family}", name=check.name)
            text = f"value: {_shown(check.value)}; threshold: {_shown(check.threshold)}"
            if check.status == FAIL:
                ET.SubElement(case, "failure", message=check.message, type="GateCheckFailed").text = text
            elif check.status == SKIPPED:
                ET.SubElement(case, "skipped", message=check.message)
            ET.SubElement(case, "system-out").text = f"{check.message} ({text})"
        ET.indent(suites)
        return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"


def write_gate_decision(decision: GateDecision, folder: str | Path, stem: str) -> dict[str, Path]:
    """Write ``<stem>.json`` and the JUnit report ``<stem>.xml`` into ``folder`` (atomically)."""
    target = Path(folder)
    return {
        "json": atomic_write_json(target / f"{stem}.json", decision.to_dict()),
        "junit": atomic_write_bytes(target / f"{stem}.xml", decision.to_junit_xml()),
    }


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
