"""Split and leakage checks on module 2's time-based split.

- time order: no validation order is as old as (or older than) a training order;
- no order id in two splits;
- no feature computed from the label or from the future: no feature takes the label (or the
  prediction) as an input, and no single feature separates late from on-time orders almost
  perfectly (ROC AUC of the feature alone ≥ ``LEAK_AUC``), the footprint of a value known only
  after delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from mlops_kit.consistency.report import Check
from mlops_kit.features import FeatureDictionary

LEAK_AUC = 0.95
"""A single feature that ranks late against on-time orders this well was (almost surely) computed from the outcome."""
MAX_LISTED = 20

Violations = Callable[[pd.DataFrame, pd.DataFrame, str, str], Mapping[str, list[str]]]


def split_violations(train: pd.DataFrame, valid: pd.DataFrame, key: str, timestamp: str) -> dict[str, list[str]]:
    """``shared_ids``: keys in both splits; ``older_valid_ids``: valid keys not newer than the newest train order."""
    for name, frame in (("train", train), ("valid", valid)):
        missing = [column for column in (key, timestamp) if column not in frame.columns]
        if missing:
            raise ValueError(f"the {name} split lacks the columns {missing}")
    shared = sorted(set(train[key].astype(str)) & set(valid[key].astype(str)))
    newest_train = train[timestamp].max() if len(train) else None
    older = [] if newest_train is None else sorted(valid.loc[valid[timestamp] <= newest_train, key].astype(str))
    return {"shared_ids": shared, "older_valid_ids": older}


def single_feature_auc(values: pd.Series, label: pd.Series) -> float:
    """How well one feature alone ranks the label (0.5: not at all, 1.0: perfectly; either direction)."""
    from sklearn.metrics import roc_auc_score  # scikit-learn only when a leakage check runs

    frame = pd.DataFrame({"value": values.to_numpy(), "label": label.to_numpy()}).dropna()
    if frame["label"].nunique() < 2 or frame["value"].nunique() < 2:
        return 0.5
    if not pd.api.types.is_numeric_dtype(frame["value"]) or pd.api.types.is_bool_dtype(frame["value"]):
        frame["value"] = frame.groupby(frame["value"].astype(str))["label"].transform("mean")
    auc = float(roc_auc_score(frame["label"], frame["value"].astype(float)))
    return max(auc, 1.0 - auc)


def label_leaks(
    features: pd.DataFrame, label: pd.Series, dictionary: FeatureDictionary, threshold: float = LEAK_AUC
) -> dict[str, Any]:
    """Features fed by the label or the prediction, and features whose single-feature AUC ≥ ``threshold``."""
    outcome = {dictionary.label.name, dictionary.prediction.name}
    from_label = sorted(spec.name for spec in dictionary.features if outcome & set(spec.inputs))
    aucs = {name: round(single_feature_auc(features[name], label), 4) for name in features.columns}
    return {
        "from_label": from_label,
        "auc": aucs,
        "threshold": threshold,
        "too_predictive": sorted(name for name, auc in aucs.items() if auc >= threshold),
    }


def split_checks(
    train: pd.DataFrame, valid: pd.DataFrame, key: str, timestamp: str, violations: Violations = split_violations
) -> list[Check]:
    """The time-order and shared-id checks of one split (``violations`` finds the offending keys)."""
    found = violations(train, valid, key, timestamp)
    shared, older = list(found["shared_ids"]), list(found["older_valid_ids"])
    newest = str(train[timestamp].max()) if len(train) else None
    time_details = {
        "rows": len(older),
        "train_newest": newest,
        "valid_oldest": str(valid[timestamp].min()) if len(valid) else None,
        "examples": [{key: value} for value in older[:MAX_LISTED]],
    }
    id_details = {"rows": len(shared), "examples": [{key: value} for value in shared[:MAX_LISTED]]}
    return [
        Check(
            "split_time_order",
            "split",
            not older,
            f"every validation order is newer than the newest training order ({newest})"
            if not older
            else f"{len(older)} validation orders are not newer than the newest training order ({newest}), "
            f"e.g. {older[:3]}: the model trains on the future it is scored on; split by time",
            time_details,
        ),
        Check(
            "split_shared_ids",
            "split",
            not shared,
            f"no {key} is in both splits"
            if not shared
            else f"{len(shared)} {key} values are in train and valid, e.g. {shared[:3]}: drop them from one split",
            id_details,
        ),
    ]


def leakage_check(features: pd.DataFrame, label: pd.Series, dictionary: FeatureDictionary) -> Check:
    """No feature computed from the label (by declaration or by its footprint in the training split)."""
    found = label_leaks(features, label, dictionary)
    leaking = sorted(set(found["from_label"]) | set(found["too_predictive"]))
    if leaking:
        message = (
            f"features {leaking} look computed from the outcome: "
            + "; ".join(f"{name}: AUC alone {found['auc'].get(name)}" for name in leaking)
            + ". Use only what is known when the order is placed."
        )
    else:
        best = max(found["auc"], key=found["auc"].get) if found["auc"] else None
        message = f"no feature uses the label; the strongest alone ({best}) reaches AUC {found['auc'].get(best)} < {found['threshold']}"
    return Check("split_label_leakage", "split", not leaking, message, {**found, "failing": leaking})
