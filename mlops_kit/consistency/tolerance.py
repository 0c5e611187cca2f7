"""When a training value and a serving value count as the same: a tolerance declared per dtype.

Floats may differ by rounding (a JSON round trip, float32 somewhere, a sum in another order), so
they match within ``atol + rtol * |training|``; two missing values match, a missing and a present
one never do. Integers, flags and categories match only when equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Tolerance:
    """Absolute and relative tolerance of one dtype (0 and 0: exact)."""

    atol: float = 0.0
    rtol: float = 0.0

    def __post_init__(self) -> None:
        for name in ("atol", "rtol"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
                raise ValueError(f"tolerance {name} must be a number in [0, 1), got {value!r}")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "float": Tolerance(atol=1e-6, rtol=1e-6),
    "int": Tolerance(),
    "bool": Tolerance(),
    "category": Tolerance(),
    "str": Tolerance(),
}
"""The course's rule: floats within 1e-6 (absolute) + 1e-6 × |training value|, everything else exact."""


def values_match(training: pd.Series, serving: pd.Series, dtype: str, tolerance: Tolerance) -> np.ndarray:
    """Row by row, whether the serving value is the training value (within ``tolerance`` for floats)."""
    left_missing, right_missing = training.isna().to_numpy(), serving.isna().to_numpy()
    both_missing = left_missing & right_missing
    present = ~(left_missing | right_missing)
    if dtype == "float":
        left = pd.to_numeric(training, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        right = pd.to_numeric(serving, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            close = np.abs(left - right) <= tolerance.atol + tolerance.rtol * np.abs(left)
        return both_missing | (present & close)
    left_values = training.astype(object).to_numpy()
    right_values = serving.astype(object).to_numpy()
    if dtype in ("int", "bool"):
        equal = np.array([_same_number(a, b) for a, b in zip(left_values, right_values, strict=True)], dtype=bool)
    else:
        equal = np.array([str(a) == str(b) for a, b in zip(left_values, right_values, strict=True)], dtype=bool)
    return both_missing | (present & equal)


def _same_number(left: object, right: object) -> bool:
    try:
        return float(left) == float(right)  # True == 1, 3 == 3.0; a string that is no number differs
    except (TypeError, ValueError):
        return False


def tolerances_for(
    dtypes: Mapping[str, str], tolerances: Mapping[str, Tolerance] | None = None
) -> dict[str, Tolerance]:
    """The tolerance of each dtype in use; ValueError naming a dtype nobody declared one for."""
    declared = dict(DEFAULT_TOLERANCES if tolerances is None else tolerances)
    missing = sorted({dtype for dtype in dtypes.values() if dtype not in declared})
    if missing:
        raise ValueError(f"no tolerance declared for the dtypes {missing}; declare one per dtype")
    return {dtype: declared[dtype] for dtype in sorted(set(dtypes.values()))}
