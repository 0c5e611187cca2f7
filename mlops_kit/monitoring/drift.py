"""Drift of one window against the reference period, with Evidently 0.7's real report.

Evidently picks a drift method by sample size unless told (KS p-values up to 1000 rows,
Wasserstein or Jensen-Shannon above), which would make windows of different sizes
incomparable: here the method and threshold are pinned per column type (``DRIFT_METHODS``),
and a ``DataDefinition`` says which columns are numerical and categorical (an integer column
with few values would be taken for a category otherwise). Each window leaves an HTML report
for people and a JSON summary for machines. Evidently is imported inside ``drift_report`` only
(it takes seconds to import, and nothing else needs it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_kit.features import FeatureDictionary, load_feature_dictionary
from mlops_kit.io import atomic_write_json

DRIFT_METHODS: dict[str, tuple[str, float]] = {"numerical": ("wasserstein", 0.1), "categorical": ("jensenshannon", 0.1)}
"""Column type -> (Evidently method, threshold): normed Wasserstein distance, Jensen-Shannon distance."""


def drift_columns(dictionary: FeatureDictionary | None = None) -> dict[str, list[str]]:
    """The raw inputs watched for drift, by column type (the order time is not a feature to compare)."""
    dictionary = dictionary or load_feature_dictionary()
    numerical = [spec.name for spec in dictionary.inputs if spec.dtype in ("float", "int")]
    categorical = [spec.name for spec in dictionary.inputs if spec.dtype in ("category", "str", "bool")]
    return {"numerical": numerical, "categorical": categorical}


def _typed(frame: pd.DataFrame, columns: dict[str, list[str]]) -> pd.DataFrame:
    missing = [name for names in columns.values() for name in names if name not in frame.columns]
    if missing:
        raise ValueError(f"drift needs the columns {missing}, which the data lacks")
    typed = pd.DataFrame(index=frame.index)
    for name in columns["numerical"]:
        typed[name] = pd.to_numeric(frame[name]).astype("float64")
    for name in columns["categorical"]:
        typed[name] = frame[name].astype(str)
    return typed


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    window: str,
    out_dir: str | Path,
    columns: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Run Evidently on ``current`` vs ``reference``; write ``drift_<window>.html`` / ``.json``; return the summary.

    ``columns``: numerical and categorical columns (default: the raw inputs, plus the model's
    ``late_probability`` as a numerical column when both frames have it: prediction drift).
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from evidently import DataDefinition, Dataset, Report  # function-level: evidently takes seconds to import
    from evidently.metrics import ValueDrift

    if columns is None:
        columns = drift_columns()
        prediction = load_feature_dictionary().prediction.name
        if prediction in reference.columns and prediction in current.columns:
            columns = {**columns, "numerical": [*columns["numerical"], prediction]}
    if current.empty:
        raise ValueError(f"window {window} has no rows to compare")
    definition = DataDefinition(numerical_columns=columns["numerical"], categorical_columns=columns["categorical"])
    # one ValueDrift per column with its type's pinned method: the scores DataDriftPreset gives, without the
    # preset's second pass over every column for its drifted-columns count (we count from these scores)
    report = Report(
        [
            ValueDrift(column=name, method=DRIFT_METHODS[kind][0], threshold=DRIFT_METHODS[kind][1])
            for kind in ("numerical", "categorical")
            for name in columns[kind]
        ]
    )
    snapshot = report.run(
        Dataset.from_pandas(_typed(current, columns), data_definition=definition),
        Dataset.from_pandas(_typed(reference, columns), data_definition=definition),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out / f"drift_{window}.html"))
    summary = summarise_snapshot(json.loads(snapshot.json()), window, columns, len(reference), len(current))
    atomic_write_json(out / f"drift_{window}.json", summary)
    return summary


def summarise_snapshot(
    snapshot: dict[str, Any], window: str, columns: dict[str, list[str]], reference_rows: int, current_rows: int
) -> dict[str, Any]:
    """The machine-readable summary of one window: per column its method, threshold, score, drifted."""
    kinds = {name: kind for kind, names in columns.items() for name in names}
    found: dict[str, dict[str, Any]] = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            name, score, threshold = config["column"], float(metric["value"]), float(config["threshold"])
            found[name] = {
                "type": kinds.get(name, "unknown"),
                "method": config["method"],
                "threshold": threshold,
                "score": score,
                "drifted": score >= threshold,
            }
    inputs = [name for name in found if name != load_feature_dictionary().prediction.name]
    drifted = [name for name in inputs if found[name]["drifted"]]
    return {
        "window": window,
        "reference_rows": reference_rows,
        "current_rows": current_rows,
        "columns": found,
        "drifted_columns": drifted,
        "drift_share": len(drifted) / len(inputs) if inputs else 0.0,
    }
