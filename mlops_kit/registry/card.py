"""Model cards: what a model is for, what it was trained on, how good it is, where it fails.

A card is declared as a :class:`ModelCard` and rendered to markdown; the markdown is logged
with the training run (``model_card.md``), where the promotion policy and the grader read it.
``card_problems`` checks any markdown for the required, non-empty sections.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CARD_FILE = "model_card.md"
REQUIRED_SECTIONS: tuple[str, ...] = ("Intended use", "Data", "Metrics", "Limitations")
_HEADING = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)
_DECIMAL = re.compile(r"\d+\.\d+")


@dataclass(frozen=True)
class ModelCard:
    """The facts and judgements a model card holds; ``to_markdown()`` renders it."""

    model_name: str
    candidate: str
    intended_use: str
    data: Mapping[str, Any]
    metrics: Mapping[str, float]
    limitations: Sequence[str]
    out_of_scope: Sequence[str] = field(default=())
    owner: str = ""

    def __post_init__(self) -> None:
        """Store the lists as tuples and reject cards whose fields have the wrong shape."""
        for name in ("limitations", "out_of_scope"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = [value]
            object.__setattr__(self, name, tuple(str(item) for item in value))
        if not isinstance(self.data, Mapping) or not isinstance(self.metrics, Mapping):
            raise TypeError("ModelCard.data and ModelCard.metrics are mappings (name → value)")

    def to_markdown(self) -> str:
        """The card as markdown with the required sections, in a stable order."""
        lines = [f"# Model card: {self.model_name} ({self.candidate})", ""]
        if self.owner:
            lines += [f"Owner: {self.owner}", ""]
        lines += ["## Intended use", "", self.intended_use.strip(), ""]
        if self.out_of_scope:
            lines += ["## Out of scope", "", *(f"- {item}" for item in self.out_of_scope), ""]
        lines += ["## Data", "", *(f"- {key}: {value}" for key, value in self.data.items()), ""]
        lines += ["## Metrics", "", "Measured on the validation split.", "", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {_number(value)} |" for name, value in self.metrics.items()]
        lines += ["", "## Limitations", "", *(f"- {item}" for item in self.limitations), ""]
        return "\n".join(lines)


def card_sections(markdown: str) -> dict[str, str]:
    """Map each ``## heading`` of a markdown card, lower-cased, to the text under it (stripped)."""
    sections: dict[str, str] = {}
    matches = list(_HEADING.finditer(markdown))
    for position, match in enumerate(matches):
        end = matches[position + 1].start() if position + 1 < len(matches) else len(markdown)
        sections[match.group(1).strip().lower()] = markdown[match.end() : end].strip()
    return sections


def card_metric_values(markdown: str) -> list[float]:
    """The decimal numbers the card's ``## Metrics`` section shows (empty without that section)."""
    return [float(text) for text in _DECIMAL.findall(card_sections(markdown).get("metrics", ""))]


def card_problems(markdown: str | None, required: Sequence[str] = REQUIRED_SECTIONS) -> list[str]:
    """What is wrong with a card: missing or empty required sections. Empty list: fine."""
    if markdown is None or not markdown.strip():
        return ["no model card"]
    sections = card_sections(markdown)
    problems = []
    for title in required:
        text = sections.get(title.lower())
        if text is None:
            problems.append(f"section '## {title}' is missing")
        elif not text.strip("-|: \n"):
            problems.append(f"section '## {title}' is empty")
    return problems


def _number(value: Any) -> str:
    """A metric as text: floats with 4 decimals."""
    return f"{value:.4f}" if isinstance(value, float) else str(value)
