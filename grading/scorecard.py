"""Scorecards: per-learner results as JSON (for tools) and Markdown (for people)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from mlops_kit.io import atomic_write_json, atomic_write_text

FULL_ISOLATION = "full"


def module_entry(
    checks: list[dict[str, Any]],
    execution: dict[str, Any],
    notes: list[str],
    isolation: dict[str, Any],
    flags: list[str] | None = None,
) -> dict[str, Any]:
    """A module's scorecard entry: points, checks, execution, isolation, and flags (reference solution used)."""
    return {
        "points": sum(check["points"] for check in checks),
        "max_points": sum(check["max_points"] for check in checks),
        "checks": checks,
        "execution": execution,
        "notes": notes,
        "flags": flags or [],
        "isolation": isolation,
    }


def isolation_level(modules: dict[str, dict[str, Any]]) -> str:
    """``full`` when every module ran in namespaces as its own user; otherwise what was missing."""
    missing = set()
    for entry in modules.values():
        isolation = entry.get("isolation") or {}
        if not isolation:
            continue  # not executed (unreadable notebook)
        if str(isolation.get("namespaces", "none")).startswith("none"):
            missing.add(f"no namespaces: {isolation.get('namespaces')}")
        if not str(isolation.get("user", "")).startswith("unprivileged"):
            missing.add("no separate user")
    return FULL_ISOLATION if not missing else "partial (" + "; ".join(sorted(missing)) + ")"


def explain_failures(checks: list[dict[str, Any]], execution_message: str) -> list[dict[str, Any]]:
    """Prefix failed checks with why the notebook did not finish, so the cause is not hidden."""
    return [
        check if check["passed"] else {**check, "message": f"{execution_message} — {check['message']}"}
        for check in checks
    ]


def scorecard(variant: int, submission: str, modules: dict[str, dict[str, Any]], secret_source: str) -> dict[str, Any]:
    """The whole scorecard document; ``secret_source`` names where the seed's secret came from, never its value."""
    return {
        "variant": variant,
        "secret": secret_source,
        "isolation": isolation_level(modules),
        "submission": submission,
        "points": sum(entry["points"] for entry in modules.values()),
        "max_points": sum(entry["max_points"] for entry in modules.values()),
        "modules": modules,
    }


def render_markdown(card: dict[str, Any]) -> str:
    """A readable scorecard: a table per module with one line per check."""
    lines = [
        f"# Scorecard — {card['submission']}",
        "",
        f"Data variant {card['variant']} (secret: {card['secret']}): **{card['points']} / {card['max_points']} points**",
        "",
        f"Isolation: {card['isolation']}",
        "",
    ]
    for module_id, entry in card["modules"].items():
        execution = entry["execution"]
        lines += [
            f"## {module_id}: {entry['points']} / {entry['max_points']}",
            "",
            f"Execution: {execution['status']} ({execution['message']}, {execution['seconds']} s)",
            "",
        ]
        lines += [f"- **Flag**: {flag}" for flag in entry.get("flags", [])]
        lines += [f"- Note: {note}" for note in entry.get("notes", [])]
        lines += ["", "| check | result | points | message |", "|---|---|---|---|"]
        for check in entry["checks"]:
            mark = "pass" if check["passed"] else "FAIL"
            message = str(check["message"]).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {check['name']} | {mark} | {check['points']}/{check['max_points']} | {message} |")
        lines.append("")
    return "\n".join(lines)


def render_html(card: dict[str, Any]) -> str:
    """The same scorecard as a self-contained HTML page (every learner-controlled text escaped)."""
    e = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'>",
        f"<title>Scorecard {e(str(card['submission']))}</title>",
        "<style>body{font-family:sans-serif;max-width:60em}td,th{border:1px solid #ccc;padding:.3em}"
        "table{border-collapse:collapse}.FAIL{color:#a00}.pass{color:#060}</style>",
        f"<h1>Scorecard: {card['points']} / {card['max_points']} points</h1>",
        f"<p>Data variant {card['variant']} (secret: {e(str(card['secret']))}); isolation: {e(str(card['isolation']))}</p>",
    ]
    for module_id, entry in card["modules"].items():
        execution = entry["execution"]
        parts += [
            f"<h2>{e(module_id)}: {entry['points']} / {entry['max_points']}</h2>",
            f"<p>Execution: {e(str(execution['status']))} ({e(str(execution['message']))}, {execution['seconds']} s)</p>",
            "<ul>",
            *[f"<li><b>Flag</b>: {e(flag)}</li>" for flag in entry.get("flags", [])],
            *[f"<li>Note: {e(note)}</li>" for note in entry.get("notes", [])],
            "</ul><table><tr><th>check</th><th>result</th><th>points</th><th>message</th></tr>",
        ]
        for check in entry["checks"]:
            mark = "pass" if check["passed"] else "FAIL"
            parts.append(
                f"<tr><td>{e(check['name'])}</td><td class='{mark}'>{mark}</td>"
                f"<td>{check['points']}/{check['max_points']}</td><td>{e(str(check['message']))}</td></tr>"
            )
        parts.append("</table>")
    return "\n".join(parts) + "\n"


def gradescope_results(card: dict[str, Any]) -> dict[str, Any]:
    """The scorecard in Gradescope's autograder format (``results.json``): one test per scored check.

    Notes and flags go into each module's first test output; nothing here holds more than the
    scorecard already tells the learner.
    """
    tests = []
    for module, entry in card["modules"].items():
        preface = "\n".join([*entry.get("notes", []), *(f"flag: {flag}" for flag in entry.get("flags", []))])
        execution = entry.get("execution") or {}
        for position, check in enumerate(entry["checks"]):
            output = str(check["message"])
            if position == 0:
                status = f"notebook: {execution.get('status', 'not run')}: {execution.get('message', '')}"
                output = "\n".join(part for part in (status, preface, output) if part)
            tests.append(
                {
                    "name": f"{module}: {check['name']}",
                    "score": check["points"],
                    "max_score": check["max_points"],
                    "status": "passed" if check["passed"] else "failed",
                    "output": output,
                    "visibility": "visible",
                }
            )
    return {
        "score": card["points"],
        "tests": tests,
        "output": f"{card['points']} / {card['max_points']} points on data variant {card.get('variant')}",
        "stdout_visibility": "hidden",
    }


def write_scorecard(card: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``scorecard.json``, ``.md``, ``.html`` and Gradescope's ``results.json`` atomically into ``out_dir``."""
    json_path = atomic_write_json(out_dir / "scorecard.json", card)
    markdown_path = atomic_write_text(out_dir / "scorecard.md", render_markdown(card))
    atomic_write_text(out_dir / "scorecard.html", render_html(card))
    atomic_write_json(out_dir / "results.json", gradescope_results(card))
    return json_path, markdown_path
