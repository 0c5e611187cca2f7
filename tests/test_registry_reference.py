"""Module 3's reference solution: it runs on its own (building module 2's feature set when it is
missing) and ``ensure_champion`` reuses a champion trained on the same data instead of retraining."""

from __future__ import annotations

import json

import pytest

from mlops_kit.artifacts import read_module_manifest
from mlops_kit.course import module_id
from mlops_kit.data import SHIPPED_DATA_DIR
from mlops_kit.registry import aliases, card_problems, connect, read_audit_log, read_model_card
from mlops_kit.registry.reference import MODEL_NAME, MODULE_ID, REFERENCE_POLICY, ensure_champion

pytestmark = [
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
]


def test_reference_runs_alone_and_ensure_champion_reuses_it(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    artifacts = tmp_path / "artifacts"
    champion = ensure_champion(artifacts, SHIPPED_DATA_DIR, 0)  # nothing there: modules 2 and 3 are built
    assert (artifacts / module_id(2)).is_dir() and (artifacts / "mlflow.db").is_file()
    tracking = connect(artifacts)
    assert aliases(tracking, MODEL_NAME) == {"challenger": champion.version, "champion": champion.version}
    assert champion.missing_lineage == [] and card_problems(read_model_card(tracking, champion.run_id)) == []
    manifest = read_module_manifest(artifacts, MODULE_ID)
    assert manifest["variant"] == 0 and manifest["data_version"] == champion.tags["data_version"]
    assert json.loads((artifacts / MODULE_ID / "policy.json").read_text()) == REFERENCE_POLICY.to_dict()
    assert [entry["decision"] for entry in read_audit_log(artifacts / MODULE_ID / "audit_log.jsonl")] == ["approved"]

    again = ensure_champion(artifacts, SHIPPED_DATA_DIR, 0)
    assert again.version == champion.version and again.run_id == champion.run_id  # reused, not retrained
