"""Every module's points depend on the graded variant (issue 12, item 8; issue 6, section 4).

- Answers hard-coded from the shipped data (variant 0) lose points on another variant, in every module
  (module 1's case is in test_grading_end_to_end.py; modules 2 and 3 are here).
- Artifacts of a correct run on one variant (the solved course as graded on ``GRADED_VARIANT``), with
  manifests rewritten to claim the graded variant (``CLAIMED_VARIANT``), score at most a quarter of a
  module's points.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from grading_support import GRADED_VARIANT, graded_solutions_group

from grading.checks import run_artifact_checks
from grading.forkserver import SOCKET_ENV, ForkServer
from grading.grade import grade_submission
from grading.paths import SOLUTIONS_DIR, course_notebooks
from grading.synthetic_cohort import edited_solution
from mlops_kit.course import module_id
from mlops_kit.data import SHIPPED_DATA_DIR, file_period, load_orders
from mlops_kit.datagen import ensure_variant
from mlops_kit.pipeline import time_split
from mlops_kit.validation import reference_rules, validate

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _warm_grading(fork_server: ForkServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """These gradings fork from the session's fork server, found as a cohort's jobs find theirs."""
    monkeypatch.setenv(SOCKET_ENV, str(fork_server.socket_path))


MODULES = [path.stem for path in course_notebooks(SOLUTIONS_DIR)]
MODULE2, MODULE3 = module_id(2), module_id(3)
OTHER_VARIANT = 7
CLAIMED_VARIANT = 3
"""The variant another variant's artifacts claim to be in the relabelling attack (not ``GRADED_VARIANT``)."""


def _lost(tmp: Path, module: str, edits: dict[str, str], upstream: Path | None = None) -> set[str]:
    submission = edited_solution(tmp / "submission", module, edits)
    card = grade_submission(submission, OTHER_VARIANT, tmp / "out", upstream_cache=upstream).card
    entry = card["modules"][module]  # the notebook may also stop (a hard-coded split leaks): points lost either way
    return {check["name"] for check in entry["checks"] if not check["passed"]}


def _shipped_clean():
    cutoff = file_period(SHIPPED_DATA_DIR, "reference")[1]
    return validate(load_orders(SHIPPED_DATA_DIR, "reference"), reference_rules(cutoff))


def test_module2_split_hard_coded_for_the_shipped_data_loses_points(tmp_path: Path) -> None:
    valid_rows = sorted(int(row) for row in time_split(_shipped_clean().clean, valid_months=2)["valid"].index)
    hard_coded = f"""
VALID_ROWS = set({valid_rows!r})


def split_orders(features, valid_months):
    in_valid = features.index.isin(VALID_ROWS)
    return {{"train": features[~in_valid], "valid": features[in_valid]}}
"""
    lost = _lost(tmp_path, MODULE2, {"m02-ex1": hard_coded})
    assert {"split_is_time_based", "split_keeps_every_clean_order_once"} <= lost, lost


def test_module3_lineage_and_bar_hard_coded_for_the_shipped_data_lose_points(
    tmp_path: Path, upstream_cache: Path
) -> None:
    result = _shipped_clean()
    shipped_version = result.data_version
    split = time_split(result.clean, valid_months=2)
    import numpy as np

    rate = float(split["train"]["is_late"].mean())
    late = split["valid"]["is_late"].astype(float)
    bar = float(-(late * np.log(rate) + (1 - late) * np.log(1 - rate)).mean())
    solution = nbformat.read(SOLUTIONS_DIR / f"{MODULE3}.ipynb", as_version=4)
    ex1 = next(cell for cell in solution.cells if cell.get("id") == "m03-ex1").source
    ex3 = next(cell for cell in solution.cells if cell.get("id") == "m03-ex3").source
    edits = {
        "m03-ex1": ex1.replace("str(fs.data_version)", repr(shipped_version)),
        "m03-ex3": ex3.replace("max_value=no_skill_log_loss(fs.train, fs.valid)", f"max_value={bar!r}"),
    }
    assert edits["m03-ex1"] != ex1 and edits["m03-ex3"] != ex3
    lost = _lost(tmp_path, MODULE3, edits, upstream_cache)
    assert {"versions_carry_lineage", "model_cards_state_lineage_and_metrics", "policy_as_declared"} <= lost, lost


@pytest.fixture
def solved_run(graded_solutions: Callable[[int], Any]) -> Path:
    """The reference solutions graded on ``GRADED_VARIANT``: full points, artifacts left in the sandboxes."""
    graded = graded_solutions(GRADED_VARIANT)
    for module, entry in graded.card["modules"].items():
        assert entry["points"] == entry["max_points"] > 0, (module, entry["checks"])
    return graded.sandbox


@pytest.fixture(scope="module")
def claimed_variant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_variant(CLAIMED_VARIANT, tmp_path_factory.mktemp("variants"))


def _claim_variant(artifacts: Path, variant: int) -> None:
    """Rewrite every module manifest under ``artifacts`` to claim ``variant`` (hashes stay valid)."""
    for manifest in artifacts.glob("*/manifest.json"):
        data: dict[str, Any] = json.loads(manifest.read_text())
        data["variant"] = variant
        manifest.write_text(json.dumps(data))


QUARTER_CASES = MODULES


@pytest.mark.xdist_group(graded_solutions_group(GRADED_VARIANT))
@pytest.mark.parametrize("module", QUARTER_CASES)
def test_artifacts_of_another_variant_score_at_most_a_quarter(
    module: str, solved_run: Path, claimed_variant: Path, tmp_path: Path, fork_server: ForkServer
) -> None:
    artifacts = tmp_path / "artifacts"
    shutil.copytree(solved_run / module / "artifacts", artifacts)
    _claim_variant(artifacts, CLAIMED_VARIANT)
    log = tmp_path / "checks.log"
    checks = run_artifact_checks(
        module, artifacts, claimed_variant / "data", claimed_variant, CLAIMED_VARIANT, log, server=fork_server
    )
    points = sum(check["points"] for check in checks)
    maximum = sum(check["max_points"] for check in checks)
    assert maximum > 0, checks
    assert points <= maximum / 4, [(check["name"], check["points"]) for check in checks if check["passed"]]
