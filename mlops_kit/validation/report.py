"""The validation report: a JSON-ready dict, and a self-contained HTML page of the same facts."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlops_kit.domain import TIMESTAMP_FORMAT
from mlops_kit.validation.checks import SkippedCheck
from mlops_kit.validation.defects import Finding
from mlops_kit.validation.policy import Imputation

MAX_EXAMPLES = 5


def build_report(
    *,
    source: str,
    text: pd.DataFrame,
    missing: pd.DataFrame,
    findings: Sequence[Finding],
    imputations: Sequence[Imputation],
    skipped: Sequence[SkippedCheck],
    rows_clean: int,
    version: str,
) -> dict[str, Any]:
    """The report dict: counts, one entry per check with examples, imputations, skips, gaps."""
    return {
        "source": source,
        "rows_in": len(text),
        "rows_clean": rows_clean,
        "rows_quarantined": len(text) - rows_clean,
        "data_version": version,
        "checks": [_check_entry(finding, text) for finding in findings],
        "imputed": [
            {"column": item.column, "strategy": item.strategy, "value": to_native(item.value), "rows": item.rows}
            for item in imputations
        ],
        "skipped_checks": [
            {"name": item.name, "column": item.column, "defect": item.defect, "message": item.message}
            for item in skipped
        ],
        "columns": {name: {"missing": int(gaps.sum())} for name, gaps in missing.items()},
    }


def to_native(value: Any) -> Any:
    """A pandas/numpy scalar as a plain JSON value (timestamps as TIMESTAMP_FORMAT text)."""
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime(TIMESTAMP_FORMAT)
    if isinstance(value, np.generic):
        return value.item()
    return value


def render_html(report: dict[str, Any]) -> str:
    """A readable, self-contained HTML page of the report; every value is escaped."""
    failing = [check for check in report["checks"] if check["failures"]]
    sections = [
        f"<h1>Validation report: {_e(report['source'])}</h1>",
        _table(
            ["rows in", "clean", "quarantined", "data version"],
            [[report["rows_in"], report["rows_clean"], report["rows_quarantined"], report["data_version"]]],
        ),
        "<h2>Checks</h2>",
        f"<p>{len(failing)} of {len(report['checks'])} checks found rows; examples below.</p>",
        _table(
            ["defect", "column", "rows"],
            [[c["defect"], c["column"], c["failures"]] for c in report["checks"]],
            highlight=[bool(c["failures"]) for c in report["checks"]],
        ),
        *(_examples_section(check) for check in failing),
        "<h2>Imputations</h2>",
        _table(
            ["column", "strategy", "fill value", "rows filled"],
            [[i["column"], i["strategy"], i["value"], i["rows"]] for i in report["imputed"]],
        ),
        "<h2>Skipped checks</h2>",
        _table(
            ["check", "column", "defect", "why"],
            [[s["name"], s["column"], s["defect"], s["message"]] for s in report["skipped_checks"]],
        ),
        "<h2>Missing values per column</h2>",
        _table(["column", "missing"], [[name, facts["missing"]] for name, facts in report["columns"].items()]),
    ]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Validation report: {_e(report['source'])}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _check_entry(finding: Finding, text: pd.DataFrame) -> dict[str, Any]:
    """One check's report entry: its failure count and the first few failing raw values."""
    rows = finding.failed.index[finding.failed.to_numpy()][:MAX_EXAMPLES]
    examples = [{"source_row": to_native(row), "value": to_native(text.at[row, finding.column])} for row in rows]
    return {"defect": finding.defect, "column": finding.column, "failures": finding.count, "examples": examples}


def _examples_section(check: dict[str, Any]) -> str:
    """A heading and a table of example rows for one failing check."""
    heading = f"<h3>{_e(check['defect'])} in {_e(check['column'])}: {check['failures']} row(s)</h3>"
    rows = [[example["source_row"], _shown(example["value"])] for example in check["examples"]]
    return heading + _table(["source row", "raw value"], rows)


def _table(headers: list[str], rows: list[list[Any]], highlight: list[bool] | None = None) -> str:
    """An HTML table with escaped cells (``highlight`` marks rows), or a note when it is empty."""
    if not rows:
        return '<p class="none">none</p>'
    marks = highlight or [False] * len(rows)
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    body = "".join(
        ('<tr class="hit">' if mark else "<tr>") + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>"
        for row, mark in zip(rows, marks, strict=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _shown(value: Any) -> str:
    """A raw value as shown to a reader: quoted so trailing spaces are visible; missing marked."""
    return "(missing)" if value is None else repr(value)


def _e(value: Any) -> str:
    """HTML-escaped text of a value."""
    return html.escape(str(value))


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
    "th{background:#f3f3f3}td:nth-child(n+2){font-family:ui-monospace,monospace}"
    ".none{color:#777;font-style:italic}tr.hit td{background:#fff0ed;font-weight:600}"
)
