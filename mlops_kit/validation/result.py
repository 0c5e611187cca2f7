"""ValidationResult: what ``validate`` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass
class ValidationResult:
    """Clean typed rows, quarantined raw rows with reasons, the report and the data version.

    Both frames keep the input's index (the 0-based source row, named ``source_row``); every
    input row is in exactly one of them.
    """

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    report: dict[str, Any]
    data_version: str

    def __repr__(self) -> str:
        """A one-line summary instead of two whole frames."""
        return (
            f"ValidationResult(source={self.report.get('source')!r}, rows_in={len(self.clean) + len(self.quarantine)}, "
            f"clean={len(self.clean)}, quarantined={len(self.quarantine)}, data_version={self.data_version!r})"
        )
