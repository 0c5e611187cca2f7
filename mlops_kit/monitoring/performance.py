"""Labels arrive late: join them to the prediction log by order id, then score each window.

``join_labels`` refuses an order id logged twice or labelled twice (the join would silently
duplicate rows) and says how many predictions have no label yet.
"""

from __future__ import annotations

import pandas as pd

from mlops_kit.domain import ID_COLUMN, LABEL_COLUMN

PREDICTION = "late_probability"


class JoinError(ValueError):
    """Log and labels cannot be joined one-to-one; the message names the order ids."""


def _duplicates(frame: pd.DataFrame, what: str) -> None:
    repeated = frame.loc[frame[ID_COLUMN].duplicated(keep=False), ID_COLUMN]
    if len(repeated):
        shown = ", ".join(sorted(set(map(str, repeated)))[:5])
        raise JoinError(f"{repeated.nunique()} order ids appear more than once in the {what} (e.g. {shown})")


def join_labels(log: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The log with each prediction's label (``is_late``, ``month``); unlabelled predictions keep NaN."""
    _duplicates(log, "prediction log")
    _duplicates(labels, "labels")
    joined = log.merge(labels[[ID_COLUMN, LABEL_COLUMN, "month"]], on=ID_COLUMN, how="left", validate="one_to_one")
    joined.attrs["unlabelled"] = int(joined[LABEL_COLUMN].isna().sum())
    return joined


def performance_by_window(joined: pd.DataFrame) -> pd.DataFrame:
    """Per month: predictions, labelled orders, late rate, mean P(late), ROC AUC (None with one class only)."""
    from sklearn.metrics import roc_auc_score  # function-level: keeps scikit-learn out of import time

    rows = []
    for month, group in joined.dropna(subset=["month"]).groupby("month", sort=True):
        labelled = group.dropna(subset=[LABEL_COLUMN])
        y = labelled[LABEL_COLUMN].astype(int)
        auc = float(roc_auc_score(y, labelled[PREDICTION])) if y.nunique() == 2 else None
        rows.append(
            {
                "month": month,
                "predictions": len(group),
                "labelled": len(labelled),
                "late_rate": float(y.mean()) if len(y) else None,
                "mean_probability": float(group[PREDICTION].mean()),
                "roc_auc": auc,
            }
        )
    return pd.DataFrame(rows).set_index("month")
