"""A picture of the stage graph, coloured by what each stage did in a run (matplotlib only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mlops_kit.domain import TIMESTAMP_COLUMN
from mlops_kit.pipeline.engine import Pipeline, RunResult

STATUS_COLOURS = {
    "ran": "#27ae60",
    "cached": "#2980b9",
    "failed": "#c0392b",
    "skipped": "#95a5a6",
    None: "#7f8c8d",
}


def stage_layers(pipeline: Pipeline) -> dict[str, int]:
    """Column of each stage: 0 for sources, else one more than its deepest input."""
    layers: dict[str, int] = {}
    for stage in pipeline.stages:  # run order: inputs come first
        layers[stage.name] = 1 + max((layers[name] for name in stage.inputs), default=-1)
    return layers


def draw_stage_graph(pipeline: Pipeline, result: RunResult | None = None, title: str | None = None) -> Any:
    """Boxes for stages, arrows for data; with a run, each box shows its status and rows out."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch, Patch

    layers = stage_layers(pipeline)
    columns: dict[int, list[str]] = {}
    for name in pipeline.names:
        columns.setdefault(layers[name], []).append(name)
    height = max(len(names) for names in columns.values())
    position = {
        name: (2.6 * layer, (height - 1) / 2 - row)
        for layer, names in columns.items()
        for row, name in enumerate(names)
    }
    statuses = result.statuses() if result is not None else {}
    figure, axes = plt.subplots(figsize=(2.3 * len(columns) + 1.0, 1.1 * height + 1.3))
    for source, target in pipeline.edges:
        (x0, y0), (x1, y1) = position[source], position[target]
        axes.annotate(
            "",
            xy=(x1 - 0.95, y1),
            xytext=(x0 + 0.95, y0),
            arrowprops={"arrowstyle": "-|>", "color": "#34495e", "linewidth": 1.4},
        )
    for name, (x, y) in position.items():
        status = statuses.get(name)
        axes.add_patch(
            FancyBboxPatch(
                (x - 0.9, y - 0.35),
                1.8,
                0.7,
                boxstyle="round,pad=0.05",
                facecolor=STATUS_COLOURS.get(status, STATUS_COLOURS[None]),
                edgecolor="#2c3e50",
                alpha=0.9,
            )
        )
        label = name
        if result is not None:
            rows = result.stage(name)["rows_out"]
            label += f"\n{status}" + (f" · {rows:,} rows" if rows is not None else "")
        axes.text(x, y, label, ha="center", va="center", color="white", fontsize=9, fontweight="bold")
    xs = [x for x, _ in position.values()]
    ys = [y for _, y in position.values()]
    axes.set_xlim(min(xs) - 1.1, max(xs) + 1.1)
    axes.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    axes.set_aspect("equal")
    axes.axis("off")
    if result is not None:
        shown = [status for status in ("ran", "cached", "failed", "skipped") if status in statuses.values()]
        axes.legend(
            handles=[Patch(color=STATUS_COLOURS[status], label=status) for status in shown],
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=len(shown) or 1,
            frameon=False,
        )
    axes.set_title(title or (f"{pipeline.name}: run {result.run_id}" if result is not None else pipeline.name))
    figure.tight_layout()
    plt.close(figure)
    return figure


def draw_split(split: Mapping[str, pd.DataFrame], timestamp: str = TIMESTAMP_COLUMN) -> Any:
    """Orders per month, one colour per split: a time-based split shows as two blocks side by side."""
    import matplotlib.pyplot as plt

    counts = (
        pd.DataFrame({name: part[timestamp].dt.to_period("M").value_counts() for name, part in split.items()})
        .fillna(0)
        .sort_index()
    )
    figure, axes = plt.subplots(figsize=(7, 2.8))
    bottom = pd.Series(0.0, index=counts.index)
    colours = {"train": "#2980b9", "valid": "#e67e22"}
    labels = [str(period) for period in counts.index]
    for name in counts.columns:
        label = f"{name} ({int(counts[name].sum()):,})"
        axes.bar(labels, counts[name], bottom=bottom, label=label, color=colours.get(name))
        bottom += counts[name]
    axes.set_ylim(0, float(bottom.max()) * 1.3 or 1)
    axes.set_ylabel("orders")
    axes.set_title("Orders per month in each split")
    axes.legend(frameon=False, loc="upper center", ncol=len(counts.columns))
    figure.tight_layout()
    plt.close(figure)
    return figure
