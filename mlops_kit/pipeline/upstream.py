"""Module 2 on the learner's own module 1 output: the validate stage reads ``clean.csv`` when it is usable.

``upstream_validate_stage`` looks at ``ARTIFACTS_DIR/01_data_validation``: when its manifest is
intact, for this data variant and this reference file, and ``clean.csv`` holds complete rows of
that file, the pipeline's validate stage takes those clean rows (module 1's work flows on).
Otherwise it falls back to the reference rules (``validate_stage``) and says why, so a learner
stuck in module 1 can go on, and grading never depends on module 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlops_kit.artifacts import read_module_manifest
from mlops_kit.data import data_file
from mlops_kit.manifest import ManifestError, sha256_file
from mlops_kit.pipeline.errors import PipelineError
from mlops_kit.pipeline.feature_set import MODULE1_ID
from mlops_kit.pipeline.orders import validate_stage
from mlops_kit.pipeline.stage import Output, Stage
from mlops_kit.validation import ValidationInputError
from mlops_kit.validation.version import data_version, read_clean

CLEAN_FILE = "clean.csv"


@dataclass(frozen=True)
class UpstreamChoice:
    """The validate stage module 2 runs, whose work it is, and a sentence saying so."""

    stage: Stage
    learners: bool
    message: str


def module1_clean_orders(ingest: pd.DataFrame, clean_csv: str, clean_sha256: str) -> Output:
    """Module 1's clean rows, checked against the ingested file: same file, known rows, same order ids."""
    path = Path(clean_csv)
    if sha256_file(path) != clean_sha256:
        raise PipelineError(f"{path} changed since the pipeline was declared; declare it again")
    clean = read_clean(path)
    unknown = clean.index.difference(ingest.index)
    if len(unknown):
        raise PipelineError(f"{path}: source rows {list(unknown[:5])} are not rows of the ingested file")
    differ = clean.index[clean["order_id"].astype(str).to_numpy() != ingest.loc[clean.index, "order_id"].to_numpy()]
    if len(differ):
        raise PipelineError(f"{path}: source rows {list(differ[:5])} hold other orders than the ingested file")
    return Output(clean, facts={"data_version": data_version(clean), "rows_quarantined": len(ingest) - len(clean)})


def _usable_clean(artifacts_dir: str | Path, variant: int, name: str) -> tuple[Path, pd.DataFrame] | str:
    """Module 1's clean.csv and its rows, or why they cannot be used."""
    try:
        manifest = read_module_manifest(artifacts_dir, MODULE1_ID)
    except ManifestError as error:
        return f"module 1's artifacts are missing or incomplete ({error})"
    if manifest.get("variant") != variant:
        return f"module 1's artifacts are for data variant {manifest.get('variant')}, not {variant}"
    if manifest.get("source") != data_file(name):
        return f"module 1 validated {manifest.get('source')!r}, not {data_file(name)!r}"
    path = Path(artifacts_dir) / MODULE1_ID / CLEAN_FILE
    try:
        clean = read_clean(path)
    except (ValidationInputError, OSError, ValueError) as error:
        return f"module 1's {CLEAN_FILE} cannot be read ({error})"
    gaps = clean.isna().sum()
    gaps = gaps[gaps > 0]
    if clean.empty or not gaps.empty:
        detail = "no rows" if clean.empty else f"missing values in {', '.join(gaps.index)}"
        return f"module 1's {CLEAN_FILE} is not complete ({detail})"
    return path, clean


def upstream_validate_stage(
    artifacts_dir: str | Path, data_dir: str | Path, variant: int, name: str = "reference"
) -> UpstreamChoice:
    """The validate stage on the learner's module 1 output when usable, else the reference rules (saying why)."""
    found = _usable_clean(artifacts_dir, variant, name)
    if isinstance(found, str):
        return UpstreamChoice(
            validate_stage(data_dir, name), False, f"{found}: validating with the reference solution's rules instead"
        )
    path, clean = found
    stage = Stage(
        "validate",
        module1_clean_orders,
        inputs=["ingest"],
        params={"clean_sha256": sha256_file(path)},
        context={"clean_csv": str(path)},
        description="module 1's clean rows (your validation), checked against the ingested file",
    )
    return UpstreamChoice(stage, True, f"using your module 1 output: {len(clean):,} clean orders from {CLEAN_FILE}")
