"""The deploy spec: what to deploy and how, declared in YAML and checked by pydantic.

    model_name: late-delivery
    version: "3"              # or alias: challenger (exactly one)
    host: 127.0.0.1           # loopback only
    port: 0                   # 0: a free port
    workers: 1
    health_timeout_s: 120
    smoke_size: 20
    gate: {metric: roc_auc, tolerance: 0.02, floor: 0.6, latency_p95_ms: 50}

An invalid spec raises DeploySpecError naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlops_kit.gates import GateSpec
from mlops_kit.gates.spec import load_declared

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class DeploySpecError(ValueError):
    """The deploy spec is invalid; the message names the file and the field."""


class DeploySpec(BaseModel):
    """A declared deploy of one registered version behind the ``promote_alias`` (``champion``).

    - ``model_name``; exactly one of ``version`` (a number) and ``alias`` (resolved once, at deploy);
    - ``host`` (loopback), ``port`` (0: free), ``workers``: where and how the service runs;
    - ``health_timeout_s``: how long the service may take to answer ``/ready``;
    - ``smoke_size``: orders from the held-out batch sent one per request, each answer checked;
    - ``threshold``, ``unknown_category``: the service's decision threshold and unseen-category policy;
    - ``debug_features``: ``POST /features`` shows the computed feature vectors (module 6; off in production);
    - ``gate``: the gate's thresholds (``mlops_kit.gates.GateSpec``), run before anything starts;
    - ``reason``: why, recorded in the audit trail with the promotion.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str = Field(min_length=1)
    version: str | None = None
    alias: str | None = None
    promote_alias: Literal["champion"] = "champion"
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=8)
    health_timeout_s: float = Field(120.0, gt=0, le=600)
    smoke_size: int = Field(20, ge=1, le=1000)
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    unknown_category: Literal["flag", "reject"] = "flag"
    debug_features: bool = False
    gate: GateSpec = Field(default_factory=GateSpec)
    reason: str = "gate passed, service ready and smoke-tested"

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"a version is a number such as 3, got {value!r}")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str) and not value.strip().isdigit():
            raise ValueError(f"a version is a number such as 3, got {value!r} (use alias: for a name)")
        return value

    @field_validator("host")
    @classmethod
    def _loopback(cls, value: str) -> str:
        if value not in LOOPBACK_HOSTS:
            raise ValueError(f"the course serves on loopback only ({', '.join(LOOPBACK_HOSTS)}), got {value!r}")
        return "127.0.0.1" if value == "localhost" else value

    @model_validator(mode="after")
    def _one_selector(self) -> DeploySpec:
        if (self.version is None) == (self.alias is None):
            raise ValueError("give exactly one of version and alias")
        if self.alias == self.promote_alias:
            raise ValueError(
                f"deploying {self.alias!r} to itself changes nothing: name the challenger's version or alias"
            )
        return self

    @property
    def target(self) -> str:
        """The version or alias to deploy, as written."""
        return str(self.version if self.version is not None else self.alias)


def load_deploy_spec(source: str | Path | dict[str, Any] | DeploySpec) -> DeploySpec:
    """A DeploySpec from a dict or a YAML file; DeploySpecError naming the file and field otherwise."""
    if isinstance(source, DeploySpec):
        return source
    return load_declared(DeploySpec, source, "deploy spec", DeploySpecError)


def write_deploy_spec(spec: DeploySpec, path: str | Path) -> Path:
    """The spec as YAML (what was deployed, kept with the deploy record)."""
    import yaml

    from mlops_kit.io import atomic_write_text

    return atomic_write_text(path, yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
