"""The consistency report: one verdict per check, and for a failed one what a person can act on.

``Check`` is one verdict (name, family, passed, message, details: the feature, the number of
rows, example rows). ``ConsistencyReport`` collects them with what was compared (model version,
service, rows, tolerances) and is written as JSON and as a self-contained HTML page.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_kit.io import atomic_write_json, atomic_write_text

FAMILIES = ("features", "predictions", "schema", "environment", "split")


@dataclass(frozen=True)
class Check:
    """One check's verdict; ``details`` holds the evidence (JSON-ready)."""

    name: str
    family: str
    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "passed": bool(self.passed),
            "message": self.message,
            "details": self.details,
        }


@dataclass
class ConsistencyReport:
    """Every check of one consistency run and what it compared."""

    title: str
    checks: list[Check]
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def check(self, name: str) -> Check:
        """The check called ``name``; KeyError listing the names otherwise."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check {name!r} in the report; it has {[check.name for check in self.checks]}")

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        failed = ", ".join(check.name for check in self.failed)
        return f"{verdict}: {len(self.checks) - len(self.failed)}/{len(self.checks)} checks passed" + (
            f"; failed: {failed}" if failed else ""
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "passed": self.passed,
            "summary": self.summary(),
            **self.context,
            "checks": [check.to_dict() for check in self.checks],
        }

    def write(self, folder: str | Path, stem: str) -> dict[str, Path]:
        """``<stem>.json`` and ``<stem>.html`` in ``folder`` (atomic writes)."""
        folder = Path(folder)
        data = self.to_dict()
        return {
            "json": atomic_write_json(folder / f"{stem}.json", data),
            "html": atomic_write_text(folder / f"{stem}.html", report_html(data)),
        }


def _examples_table(examples: list[dict[str, Any]]) -> str:
    if not examples:
        return ""
    columns = list(examples[0])
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(name)))}</td>" for name in columns) + "</tr>"
        for row in examples
    )
    return f"<table class='examples'><tr>{head}</tr>{rows}</table>"


def _details_html(check: dict[str, Any]) -> str:
    details = check.get("details") or {}
    parts = []
    for feature in details.get("failing", []) if "features" in details else []:
        stats = details.get("features", {}).get(feature, {})
        counts = ", ".join(
            f"{kind} {stats.get(kind, 0)}" for kind in ("match", "mismatch", "training_only", "serving_only")
        )
        spread = ", ".join(f"{name} {value}" for name, value in (stats.get("distribution") or {}).items())
        parts.append(
            f"<p><b>{html.escape(feature)}</b>: {html.escape(counts)}; distribution skew: {html.escape(spread)}</p>"
        )
        parts.append(_examples_table(stats.get("examples", [])))
    if "examples" in details and isinstance(details["examples"], list):
        parts.append(_examples_table(details["examples"]))
    for key in ("problems", "differing"):
        if details.get(key):
            items = "".join(f"<li>{html.escape(str(item))}</li>" for item in details[key])
            parts.append(f"<ul>{items}</ul>")
    return "".join(parts)


def report_html(data: dict[str, Any]) -> str:
    """A self-contained HTML page of a report's dict (every value escaped)."""
    rows = []
    for check in data["checks"]:
        status = "pass" if check["passed"] else "fail"
        rows.append(
            f"<tr class='{status}'><td>{html.escape(check['name'])}</td><td>{html.escape(check['family'])}</td>"
            f"<td>{status.upper()}</td><td>{html.escape(check['message'])}{_details_html(check)}</td></tr>"
        )
    context = {key: value for key, value in data.items() if key not in ("checks", "title", "summary", "passed")}
    facts = "".join(
        f"<li>{html.escape(str(key))}: {html.escape(json.dumps(value, default=str))}</li>"
        for key, value in context.items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(data['title'])}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:4px 8px;vertical-align:top}tr.fail td:nth-child(3){color:#b00;font-weight:bold}"
        "tr.pass td:nth-child(3){color:#070}table.examples{margin:4px 0;font-size:90%}</style></head><body>"
        f"<h1>{html.escape(data['title'])}</h1><p><b>{html.escape(data['summary'])}</b></p><ul>{facts}</ul>"
        "<table><tr><th>check</th><th>family</th><th>verdict</th><th>evidence</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
