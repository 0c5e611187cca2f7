"""What a service process serves and how: one pydantic model, passed to the process as JSON.

The parent (``ServiceProcess``) writes the config into the ``MLOPS_SERVICE_CONFIG`` environment
variable; every uvicorn worker reads it back (``ServiceConfig.from_environment``), so one
declaration drives one or several workers.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlops_kit.serving.faults import Fault
from mlops_kit.serving.skew import SkewSpec

CONFIG_ENV = "MLOPS_SERVICE_CONFIG"
UNKNOWN_CATEGORY_POLICIES = ("flag", "reject")


class ServiceError(RuntimeError):
    """The service could not be configured, started or reached; the message says why."""


class ServiceConfig(BaseModel):
    """A model service: which registered model it serves and its request limits.

    Exactly one of ``alias`` and ``version``: an alias is resolved to a version once, at start,
    and the service stays pinned to that version. ``unknown_category``: ``flag`` predicts
    with the unseen value encoded as none of the known ones and lists the field in the
    answer; ``reject`` answers 422 naming the row, field and value. ``skew`` and
    ``debug_features`` are module 6's opt-in consistency exercise (``serving.skew``,
    ``serving.features_debug``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_uri: str = Field(min_length=1)
    model_name: str = Field(min_length=1)
    alias: str | None = None
    version: str | None = None
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    unknown_category: Literal["flag", "reject"] = "flag"
    max_body_bytes: int = Field(default=2_000_000, gt=0)
    max_rows: int = Field(default=10_000, gt=0)
    max_batch_rows: int = Field(default=1_024, gt=0)
    prediction_log_dir: str | None = None  # module 5: a folder for the prediction log (off when None)
    skew: SkewSpec | None = None  # module 6: a planted training/serving skew (off by default)
    debug_features: bool = False  # module 6: POST /features returns the computed feature vectors
    fault: Fault | None = None  # module 7: a planted fault (serving/faults.py); off unless given

    @model_validator(mode="after")
    def _one_selector(self) -> ServiceConfig:
        if (self.alias is None) == (self.version is None):
            raise ValueError("give exactly one of alias and version")
        if self.version is not None and not str(self.version).isdigit():
            raise ValueError(f"version must be a version number such as '3', got {self.version!r}")
        return self

    @classmethod
    def from_environment(cls) -> ServiceConfig:
        """The config the parent process put into ``MLOPS_SERVICE_CONFIG``."""
        text = os.environ.get(CONFIG_ENV)
        if not text:
            raise ServiceError(
                f"{CONFIG_ENV} is not set: start the service with ServiceProcess or python -m mlops_kit.serving"
            )
        return cls.model_validate_json(text)
