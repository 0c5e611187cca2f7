"""Errors of the pipeline engine and of the feature set, each naming what to fix."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of the pipeline's errors."""


class PipelineDefinitionError(PipelineError, ValueError):
    """The stages do not form a valid pipeline (unknown input, cycle, bad parameter...)."""


class StageFailed(PipelineError, RuntimeError):
    """A stage raised, or an output was asked of a stage that failed or was skipped."""


class SplitLeakageError(PipelineError, ValueError):
    """A train/valid split shares order ids or does not put every train order before every valid one."""


class FeatureSetError(PipelineError, ValueError):
    """Module 2's published feature set is missing, changed, for another variant or out of date."""
