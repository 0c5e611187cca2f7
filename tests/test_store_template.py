"""New course databases are copies of an empty migrated store, and behave exactly like stores MLflow built."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from mlops_kit.registry import store_template
from mlops_kit.registry.tracking import DATABASE_NAME, connect


def _rows(database: Path, query: str) -> list[tuple]:
    connection = sqlite3.connect(database)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def test_the_first_store_becomes_the_template_and_later_ones_copy_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_template, "TEMPLATE_DIR", tmp_path / "templates")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    built = connect(tmp_path / "first")
    template = store_template.template_path()
    assert template.is_file(), "the first store built from nothing was not kept as the template"
    assert _rows(template, "SELECT experiment_id FROM experiments") == [], "the template must hold the schema only"

    seeded = connect(tmp_path / "second")
    first_db, second_db = (tmp_path / name / DATABASE_NAME for name in ("first", "second"))
    schema = "SELECT version_num FROM alembic_version"
    assert _rows(second_db, schema) == _rows(first_db, schema)
    default = "SELECT name, artifact_location FROM experiments WHERE experiment_id = 0"
    assert _rows(second_db, default) == _rows(first_db, default) == [("Default", str(tmp_path / "mlruns" / "0"))]
    assert seeded.experiment_name == built.experiment_name
    client = seeded.client()
    run = client.create_run(seeded.experiment_id)
    client.log_metric(run.info.run_id, "roc_auc", 0.7)
    assert client.get_run(run.info.run_id).data.metrics == {"roc_auc": 0.7}
    assert client.get_experiment(seeded.experiment_id).artifact_location == str(tmp_path / "second" / "mlruns")


def test_an_existing_store_is_never_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_template, "TEMPLATE_DIR", tmp_path / "templates")
    connect(tmp_path / "a")
    database = tmp_path / "a" / DATABASE_NAME
    before = database.read_bytes()
    assert not store_template.seed_new_store(database)
    assert database.read_bytes() == before


def test_without_a_writable_template_folder_mlflow_builds_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    monkeypatch.setattr(store_template, "TEMPLATE_DIR", blocked / "templates")
    tracking = connect(tmp_path / "store")
    assert tracking.experiment_id and not store_template.template_path().exists()


def test_connecting_to_a_second_folder_uses_its_own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow exports the activated URI as MLFLOW_TRACKING_URI; that must not redirect the next connect()."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    first, second = connect(tmp_path / "one"), connect(tmp_path / "two")
    assert first.uri != second.uri and second.uri.endswith("two/mlflow.db")
    assert (tmp_path / "two" / DATABASE_NAME).is_file()
    import mlflow

    assert mlflow.get_tracking_uri() == second.uri and "MLFLOW_TRACKING_URI" not in os.environ
