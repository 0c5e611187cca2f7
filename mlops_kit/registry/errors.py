"""Errors the registry raises: each one names the model, version or alias that is wrong."""

from __future__ import annotations

from typing import Any, Protocol


class Decision(Protocol):
    """What a refusal carries: ``mlops_kit.registry.policy.PromotionDecision`` (declared there, above this module)."""

    @property
    def approved(self) -> bool: ...

    @property
    def failures(self) -> list[str]: ...

    def to_dict(self) -> dict[str, Any]: ...


class RegistryError(ValueError):
    """A registry operation cannot be done as asked (bad input, missing model...)."""


class ModelNotFound(RegistryError):
    """No registered model has this name."""


class VersionNotFound(RegistryError):
    """The registered model has no such version."""


class AliasNotFound(RegistryError):
    """The registered model has no such alias."""


class UntrustedTypesError(RegistryError):
    """A model holds types outside the reviewed allow-list, so it is neither logged nor loaded."""


class PromotionRefused(RegistryError):
    """The promotion policy refused a version; ``decision`` says which checks failed."""

    def __init__(self, message: str, decision: Decision | None = None) -> None:
        super().__init__(message)
        self.decision = decision


class MissingLineageError(PromotionRefused):
    """A version without its lineage tags (data and feature-set version) cannot be promoted."""
