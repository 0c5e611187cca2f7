"""Feature and prediction parity: the same orders, joined by their key, offline against served.

``feature_parity`` joins the training-side and serving-side feature vectors by the order key,
the way TFDV's feature-skew detector does, and counts per feature ``match``, ``mismatch``,
``training_only`` (a value only training has: the row or the value is missing on the serving side)
and ``serving_only``, with a float tolerance declared per dtype and example rows for every
mismatch, plus the distribution skew of each feature (L∞ for categories, Jensen–Shannon for numbers). A key that appears twice on one side is an error (ParityError), never a silent merge.
``prediction_parity`` compares the late probabilities and the decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlops_kit.consistency.report import Check
from mlops_kit.consistency.tolerance import Tolerance, tolerances_for, values_match

Match = Callable[[pd.Series, pd.Series, str, Tolerance], Any]
"""``match(training, serving, dtype, tolerance) -> bool per row`` (both sides present)."""
OUTCOMES = ("match", "mismatch", "training_only", "serving_only")
PROBABILITY_TOLERANCE = 1e-6
"""Largest absolute difference of the late probability that still counts as the same prediction."""


class ParityError(ValueError):
    """The two sides cannot be joined (duplicate or missing keys, a missing column); the message says which."""


def _check_keys(frame: pd.DataFrame, key: str, side: str) -> None:
    if key not in frame.columns:
        raise ParityError(f"the {side} side has no {key!r} column to join on")
    keys = frame[key]
    if keys.isna().any():
        raise ParityError(f"the {side} side has {int(keys.isna().sum())} rows without a {key}")
    duplicated = keys[keys.duplicated(keep=False)]
    if len(duplicated):
        shown = ", ".join(map(str, sorted(set(duplicated))[:5]))
        raise ParityError(
            f"the {side} side has {duplicated.nunique()} duplicate {key} values ({shown}): "
            "a join would pair rows at random; deduplicate first"
        )


def _native(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def distribution_skew(training: pd.Series, serving: pd.Series, dtype: str, bins: int = 20) -> dict[str, float]:
    """TFDV's distribution skew of one feature: L∞ distance of value frequencies for categories and flags,
    Jensen–Shannon distance (base 2, on a shared histogram) for numbers; 0 when the two agree."""
    left, right = training.dropna(), serving.dropna()
    if not len(left) or not len(right):
        return {}
    if dtype in ("float", "int"):
        low = float(min(left.min(), right.min()))
        high = float(max(left.max(), right.max()))
        edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
        p = np.histogram(left.to_numpy(dtype=float), edges)[0] / len(left)
        q = np.histogram(right.to_numpy(dtype=float), edges)[0] / len(right)
        m = (p + q) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            kl_p = np.nansum(np.where(p > 0, p * np.log2(p / m), 0.0))
            kl_q = np.nansum(np.where(q > 0, q * np.log2(q / m), 0.0))
        return {"jensen_shannon": round(float(np.sqrt(max(0.0, (kl_p + kl_q) / 2))), 6)}
    p = left.astype(str).value_counts(normalize=True)
    q = right.astype(str).value_counts(normalize=True)
    values = p.index.union(q.index)
    return {
        "l_infinity": round(float((p.reindex(values, fill_value=0) - q.reindex(values, fill_value=0)).abs().max()), 6)
    }


def feature_parity(
    training: pd.DataFrame,
    serving: pd.DataFrame,
    key: str,
    dtypes: Mapping[str, str],
    tolerances: Mapping[str, Tolerance] | None = None,
    match: Match = values_match,
    max_examples: int = 5,
) -> Check:
    """Per feature of ``dtypes`` (name → dictionary dtype): match / mismatch / training_only / serving_only.

    The check passes when every feature matches on every joined row and no row is on one side only.
    ``details["features"][name]["examples"]`` holds up to ``max_examples`` mismatching rows
    (key, training value, serving value).
    """
    _check_keys(training, key, "training")
    _check_keys(serving, key, "serving")
    declared = tolerances_for(dtypes, tolerances)
    joined = training.merge(serving, on=key, how="outer", suffixes=("__training", "__serving"), indicator=True)
    only_training = int((joined["_merge"] == "left_only").sum())
    only_serving = int((joined["_merge"] == "right_only").sum())
    features: dict[str, dict[str, Any]] = {}
    for name, dtype in dtypes.items():
        in_training, in_serving = name in training.columns, name in serving.columns
        absent = pd.Series(np.nan, index=joined.index)
        both_sides = in_training and in_serving
        left = joined[f"{name}__training"] if both_sides else (joined[name] if in_training else absent)
        right = joined[f"{name}__serving"] if both_sides else (joined[name] if in_serving else absent)
        has_left, has_right = left.notna().to_numpy(), right.notna().to_numpy()
        both = has_left & has_right
        matched = np.zeros(len(joined), dtype=bool)
        if both.any():
            result = match(
                left[both].reset_index(drop=True), right[both].reset_index(drop=True), dtype, declared[dtype]
            )
            if result is None:
                raise ParityError("the match rule returned None: it must return one True/False per row")
            matched[both] = np.asarray(result, dtype=bool)
        neither = ~has_left & ~has_right
        mismatched = both & ~matched
        stats = {
            "dtype": dtype,
            "match": int(matched.sum() + neither.sum()),
            "mismatch": int(mismatched.sum()),
            "training_only": int((has_left & ~has_right).sum()),
            "serving_only": int((~has_left & has_right).sum()),
            "distribution": distribution_skew(left[both], right[both], dtype),
        }
        rows = np.flatnonzero(mismatched)[:max_examples]
        stats["examples"] = [
            {
                key: _native(joined[key].iloc[row]),
                "training": _native(left.iloc[row]),
                "serving": _native(right.iloc[row]),
            }
            for row in rows
        ]
        features[name] = stats
    failing = [name for name, stats in features.items() if any(stats[kind] for kind in OUTCOMES[1:])]
    details = {
        "key": key,
        "rows_training": len(training),
        "rows_serving": len(serving),
        "rows_joined": int((joined["_merge"] == "both").sum()),
        "rows_training_only": only_training,
        "rows_serving_only": only_serving,
        "tolerances": {dtype: tolerance.to_dict() for dtype, tolerance in declared.items()},
        "features": features,
        "failing": failing,
    }
    if failing:
        worst = max(failing, key=lambda name: features[name]["mismatch"])
        message = (
            f"{len(failing)} of {len(features)} features differ between training and serving: "
            + "; ".join(
                f"{name}: {features[name]['mismatch']} mismatching rows, e.g. {features[name]['examples'][:1]}"
                for name in failing
            )
            + f". Start with {worst!r}: compare how training and the service compute it."
        )
    else:
        message = f"all {len(features)} features agree on all {details['rows_joined']} joined orders"
    return Check("feature_parity", "features", not failing, message, details)


def prediction_parity(
    training: pd.DataFrame,
    serving: pd.DataFrame,
    key: str,
    probability: str,
    threshold: float,
    tolerance: float = PROBABILITY_TOLERANCE,
    max_examples: int = 5,
) -> Check:
    """Largest absolute difference of ``probability`` and the share of decisions that flip at ``threshold``."""
    _check_keys(training, key, "training")
    _check_keys(serving, key, "serving")
    joined = training[[key, probability]].merge(serving[[key, probability]], on=key, suffixes=("_training", "_serving"))
    offline = joined[f"{probability}_training"].to_numpy(dtype=float)
    online = joined[f"{probability}_serving"].to_numpy(dtype=float)
    diff = np.abs(offline - online)
    flipped = (offline >= threshold) != (online >= threshold)
    rows = len(joined)
    order = np.argsort(-diff, kind="stable")[:max_examples]
    examples = [
        {key: _native(joined[key].iloc[row]), "training": float(offline[row]), "serving": float(online[row])}
        for row in order
        if diff[row] > tolerance
    ]
    max_diff = float(diff.max()) if rows else 0.0
    details = {
        "rows": rows,
        "unjoined": len(training) + len(serving) - 2 * rows,
        "max_abs_diff": max_diff,
        "mean_abs_diff": float(diff.mean()) if rows else 0.0,
        "tolerance": tolerance,
        "threshold": threshold,
        "flipped": int(flipped.sum()),
        "flipped_share": float(flipped.mean()) if rows else 0.0,
        "examples": examples,
    }
    passed = rows > 0 and details["unjoined"] == 0 and max_diff <= tolerance and not flipped.any()
    if passed:
        message = f"the {rows} late probabilities agree within {tolerance:g}; no decision flips"
    elif rows == 0:
        message = "no order was answered by both sides: nothing to compare"
    else:
        message = (
            f"late probability differs by up to {max_diff:.4f}; {int(flipped.sum())} of {rows} decisions "
            f"({details['flipped_share']:.1%}) flip at threshold {threshold:g}"
        )
    return Check("prediction_parity", "predictions", passed, message, details)
