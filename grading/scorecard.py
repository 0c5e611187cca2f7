"""Scorecards: per-learner results as JSON (for tools) and Markdown (for people)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_kit.io import atomic_write_json, atomic_write_text


def module_entry(checks: list[dict[str, Any]], execution: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """A module's scorecard entry: points, max points, checks, and how execution went."""
    return {
        "points": sum(check["points"] for check in checks),
        "max_points": sum(check["max_points"] for check in checks),
        "checks": checks,
        "execution": execution,
        "notes": notes,
    }


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
    ]
    for module_id, entry in card["modules"].items():
        execution = entry["execution"]
        lines += [
            f"## {module_id}: {entry['points']} / {entry['max_points']}",
            "",
            f"Execution: {execution['status']} ({execution['message']}, {execution['seconds']} s)",
            "",
        ]
        lines += [f"- Note: {note}" for note in entry.get("notes", [])]
        lines += ["", "| check | result | points | message |", "|---|---|---|---|"]
        for check in entry["checks"]:
            mark = "pass" if check["passed"] else "FAIL"
            message = str(check["message"]).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {check['name']} | {mark} | {check['points']}/{check['max_points']} | {message} |")
        lines.append("")
    return "\n".join(lines)


def write_scorecard(card: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``scorecard.json`` and ``scorecard.md`` atomically into ``out_dir``."""
    json_path = atomic_write_json(out_dir / "scorecard.json", card)
    markdown_path = atomic_write_text(out_dir / "scorecard.md", render_markdown(card))
    return json_path, markdown_path
