"""Where runs and models are recorded: MLflow on a SQLite file in the artifacts folder.

The embedded default is ``sqlite:///<ARTIFACTS_DIR>/mlflow.db`` with the run artifacts in
``<ARTIFACTS_DIR>/mlruns``, so everything a module leaves stays in its artifacts folder.
Setting ``MLFLOW_TRACKING_URI`` (a shared server with a PostgreSQL backend, say) overrides it;
the server then decides where artifacts go. mlflow is imported inside the functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_kit.registry.errors import RegistryError
from mlops_kit.registry.store_template import keep_as_template, seed_new_store

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
REGISTRY_URI_ENV = "MLFLOW_REGISTRY_URI"
DATABASE_NAME = "mlflow.db"
ARTIFACT_ROOT_NAME = "mlruns"
DEFAULT_EXPERIMENT = "late-delivery"
DEFAULT_MODEL_NAME = "late-delivery"


def default_tracking_uri(artifacts_dir: str | Path) -> str:
    """``sqlite:///`` URI of the course database at the root of ``artifacts_dir`` (absolute)."""
    return f"sqlite:///{(Path(artifacts_dir).resolve() / DATABASE_NAME).as_posix()}"


def tracking_uri(artifacts_dir: str | Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite database in ``artifacts_dir``."""
    return os.environ.get(TRACKING_URI_ENV) or default_tracking_uri(artifacts_dir)


@dataclass(frozen=True)
class Tracking:
    """An MLflow tracking/registry store and the experiment the course logs runs into."""

    uri: str
    experiment_id: str
    experiment_name: str

    def client(self) -> Any:
        """An ``MlflowClient`` bound to this store (tracking and registry)."""
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    @classmethod
    def reader(cls, uri: str) -> Tracking:
        """A store to read versions and models from, without creating or choosing an experiment."""
        return cls(uri=uri, experiment_id="", experiment_name="")

    def activate(self) -> None:
        """Point MLflow's fluent API (``start_run``, ``log_model``) at this store."""
        import mlflow

        # MLflow also exports both URIs as environment variables; the user's values are put back, or a
        # later connect() to another artifacts folder in this process would be sent to this store instead.
        exported = {name: os.environ.get(name) for name in (TRACKING_URI_ENV, REGISTRY_URI_ENV)}
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        for name, value in exported.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def connect(
    artifacts_dir: str | Path,
    experiment: str = DEFAULT_EXPERIMENT,
    uri: str | None = None,
) -> Tracking:
    """Open (creating if needed) the store and the experiment; return a :class:`Tracking`.

    With the embedded default, the experiment's artifact location is ``<artifacts_dir>/mlruns``:
    MLflow would otherwise put artifacts in ``./mlruns`` relative to the current directory.
    """
    _quiet_mlflow()
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = uri or tracking_uri(artifacts_dir)
    embedded = uri == default_tracking_uri(artifacts_dir)
    database = Path(artifacts_dir).resolve() / DATABASE_NAME
    built_from_nothing = False
    if embedded:
        Path(artifacts_dir).mkdir(parents=True, exist_ok=True)
        built_from_nothing = not database.exists() and not seed_new_store(database)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    if built_from_nothing:
        client.search_experiments(max_results=1)  # MLflow migrates the new store now
        keep_as_template(database)
    try:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            location = str(Path(artifacts_dir).resolve() / ARTIFACT_ROOT_NAME) if embedded else None
            experiment_id = client.create_experiment(experiment, artifact_location=location)
        elif found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
            experiment_id = found.experiment_id
        else:
            experiment_id = found.experiment_id
    except MlflowException as error:
        raise RegistryError(f"cannot open the MLflow store {uri}: {error.message}") from error
    tracking = Tracking(uri, experiment_id, experiment)
    tracking.activate()
    return tracking


def _quiet_mlflow() -> None:
    """Keep MLflow's chatter (migrations, download progress bars) out of notebook outputs.

    Called after mlflow is imported: importing it resets its logger to INFO. Set
    ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=true`` to see the progress bars again.
    """
    import logging
    import warnings

    with warnings.catch_warnings():
        # mlflow imports tqdm.auto, which warns inside Jupyter when ipywidgets is not installed.
        warnings.filterwarnings("ignore", message="IProgress not found")
        import mlflow  # noqa: F401  (configures its loggers; must happen before we adjust them)

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
