"""Writing a validation result to disk: clean data, quarantine, report (JSON and HTML)."""

from __future__ import annotations

from pathlib import Path

from mlops_kit.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from mlops_kit.validation.report import render_html
from mlops_kit.validation.result import ValidationResult
from mlops_kit.validation.version import canonical_csv_bytes, frame_csv_bytes

CLEAN_FILE = "clean.csv"
QUARANTINE_FILE = "quarantine.csv"
REPORT_JSON_FILE = "report.json"
REPORT_HTML_FILE = "report.html"


def write_validation_artifacts(result: ValidationResult, out_dir: str | Path) -> dict[str, Path]:
    """Write the four files atomically into ``out_dir``; return their paths by file name.

    ``clean.csv`` is exactly the canonical CSV, so its sha256 starts with the data version.
    """
    folder = Path(out_dir)
    return {
        CLEAN_FILE: atomic_write_bytes(folder / CLEAN_FILE, canonical_csv_bytes(result.clean)),
        QUARANTINE_FILE: atomic_write_bytes(folder / QUARANTINE_FILE, frame_csv_bytes(result.quarantine)),
        REPORT_JSON_FILE: atomic_write_json(folder / REPORT_JSON_FILE, result.report),
        REPORT_HTML_FILE: atomic_write_text(folder / REPORT_HTML_FILE, render_html(result.report)),
    }
