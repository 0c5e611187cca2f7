"""The served version, resolved by the parent at start and handed to the service process.

``ServiceProcess`` resolves the config's alias (or version) through MLflow's client, as the
service itself would, and passes the pinned version, its run id, tags and the local folder of
its artifacts in ``MLOPS_SERVICE_MODEL``. The service then loads that folder through the
registry's trust check without importing mlflow (about a quarter of its start-up). The registry
stays the source of truth: nothing is resolved but through MLflow, once, at start. When the
artifacts are not a local folder (a remote artifact store) or anything fails here, nothing is
handed over and the service resolves and downloads the model itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlops_kit.serving.config import ServiceConfig

RESOLVED_ENV = "MLOPS_SERVICE_MODEL"


@dataclass(frozen=True)
class ResolvedModel:
    """A registered version pinned for one service config, and where its artifacts lie."""

    tracking_uri: str
    model_name: str
    selector: str  # the config's alias or version, as given
    version: str
    run_id: str | None
    tags: dict[str, str]
    model_dir: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def selector(config: ServiceConfig) -> str:
    """``@alias`` or the version number the config asks for."""
    return f"@{config.alias}" if config.alias is not None else str(config.version)


def local_folder(uri: str) -> Path | None:
    """The local folder behind an artifact URI (a path or ``file://``), None for a remote store."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return None
    folder = Path(parsed.path if parsed.scheme == "file" else uri)
    return folder if (folder / "MLmodel").is_file() else None


def resolve_model(config: ServiceConfig) -> ResolvedModel | None:
    """The version ``config`` selects and its local artifact folder (None: let the service do it)."""
    from mlops_kit.registry import Tracking, get_version, version_by_alias

    tracking = Tracking.reader(config.tracking_uri)
    try:
        if config.version is not None:
            found = get_version(tracking, config.model_name, config.version)
        else:
            found = version_by_alias(tracking, config.model_name, str(config.alias))
        source = tracking.client().get_model_version_download_uri(config.model_name, found.version)
    except Exception:  # noqa: BLE001 - the service meets the same failure and reports it with its own message
        return None
    folder = local_folder(str(source))
    if folder is None:
        return None
    return ResolvedModel(
        tracking_uri=config.tracking_uri,
        model_name=config.model_name,
        selector=selector(config),
        version=str(found.version),
        run_id=found.run_id,
        tags=dict(found.tags),
        model_dir=str(folder),
    )


def handed_over(config: ServiceConfig, environ: Any = os.environ) -> ResolvedModel | None:
    """The resolution the parent handed to this process for ``config`` (None when there is none or it is for another)."""
    text = environ.get(RESOLVED_ENV)
    if not text:
        return None
    try:
        resolved = ResolvedModel(**json.loads(text))
    except (TypeError, ValueError):
        return None
    wanted = (config.tracking_uri, config.model_name, selector(config))
    return resolved if (resolved.tracking_uri, resolved.model_name, resolved.selector) == wanted else None
