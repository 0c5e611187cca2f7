"""Quarantine: the bad rows with their original raw values and the reasons they failed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlops_kit.validation.defects import REASON_SEPARATOR, Finding

REASONS_COLUMN = "reasons"


def row_reasons(findings: Sequence[Finding], index: pd.Index) -> pd.Series:
    """Each row's reason codes (``defect:column``), ``;``-joined in finding order; "" if none."""
    codes = np.full(len(index), "", dtype=object)
    for finding in findings:
        if finding.quarantines:
            rows = finding.failed.to_numpy()
            codes[rows] = codes[rows] + (finding.code + REASON_SEPARATOR)
    return pd.Series(codes, index=index, dtype="str").str.removesuffix(REASON_SEPARATOR)


def quarantine_frame(text: pd.DataFrame, reasons: pd.Series) -> pd.DataFrame:
    """The rows with reasons: their raw text values plus a ``reasons`` column."""
    bad = reasons.ne("")
    return text.loc[bad].assign(**{REASONS_COLUMN: reasons.loc[bad]})
