"""Module 5's artifact checks recompute every drift score with Evidently: one score off by 0.01 in the
solved course's artifacts (its manifest re-hashed, so only the score is wrong) costs the drift checks."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from grading_support import GRADED_VARIANT, graded_solutions_group

from grading.checks import run_artifact_checks
from grading.forkserver import ForkServer
from grading.secret import resolve_secret
from mlops_kit.course import module_id
from mlops_kit.datagen import ensure_variant

pytestmark = pytest.mark.slow
MODULE5 = module_id(5)


def _rehash(folder: Path, name: str) -> None:
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    data = (folder / name).read_bytes()
    manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest_path.write_text(json.dumps(manifest))


@pytest.mark.xdist_group(graded_solutions_group(GRADED_VARIANT))
def test_a_drift_score_evidently_does_not_give_fails_the_drift_checks(
    graded_solutions: Callable[[int], Any], tmp_path: Path, fork_server: ForkServer
) -> None:
    graded = graded_solutions(GRADED_VARIANT)
    variant_dir = ensure_variant(GRADED_VARIANT, tmp_path / "variants", resolve_secret().value)  # as graded
    artifacts = tmp_path / "artifacts"
    shutil.copytree(graded.sandbox / MODULE5 / "artifacts", artifacts)
    folder = artifacts / MODULE5

    def checks() -> dict[str, dict[str, Any]]:
        found = run_artifact_checks(
            MODULE5, artifacts, variant_dir / "data", variant_dir, GRADED_VARIANT, tmp_path / "log", fork_server
        )
        return {check["name"]: check for check in found}

    before = checks()
    assert all(check["passed"] for check in before.values()), {n: c["message"] for n, c in before.items()}
    name = sorted(path.relative_to(folder).as_posix() for path in folder.glob("drift/drift_*.json"))[0]
    summary = json.loads((folder / name).read_text())
    summary["columns"]["distance_km"]["score"] += 0.01
    (folder / name).write_text(json.dumps(summary))
    _rehash(folder, name)
    after = checks()
    failed = {check for check, entry in after.items() if not entry["passed"]}
    assert {
        "drift_alerts_stay_quiet_on_clean_months",
        "drift_alerts_fire_on_exactly_the_drifted_months_and_columns",
    } <= failed
    message = after["drift_alerts_stay_quiet_on_clean_months"]["message"]
    assert "distance_km scores" in message and "Evidently on the month's clean orders" in message, message
