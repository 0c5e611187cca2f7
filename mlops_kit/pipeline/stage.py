"""``Stage``: one declared step of a pipeline, and ``Output``, a stage's result with facts.

A stage is a function, the names of the stages whose outputs it takes, and its parameters.
The engine calls ``func(**upstream_outputs, **params, **context)``: each upstream output
under its stage's name, then the parameters. ``context`` says *where* things are (folders),
not *what* they are: it is passed to the function but left out of the cache key, so moving
a folder does not invalidate the cache. Anything that changes the output belongs in params.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops_kit.hashing import UnhashableError, code_version, hash_value, to_canonical
from mlops_kit.pipeline.errors import PipelineDefinitionError

_STAGE_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Output:
    """What a stage may return instead of a bare value: the value plus facts for the run record.

    Facts are small JSON values (a data version, a count) recorded with the stage, also when
    a later run finds the output in the cache.
    """

    value: Any
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Stage:
    """One step: ``func`` applied to the outputs of ``inputs`` with ``params``.

    ``code`` lists extra modules, packages or functions the stage depends on; their source
    is part of the stage's code version (the function's own source always is).
    """

    name: str
    func: Callable[..., Any]
    inputs: Sequence[str] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    code: Sequence[Any] = ()
    description: str = ""

    def __post_init__(self) -> None:
        """Check the declaration and freeze its collections."""
        if not isinstance(self.name, str) or not _STAGE_NAME.fullmatch(self.name):
            raise PipelineDefinitionError(
                f"stage name {self.name!r} must be lower-case letters, digits and _, starting with a letter"
            )
        where = f"stage {self.name!r}"
        if not callable(self.func):
            raise PipelineDefinitionError(f"{where}: func must be a function, got {type(self.func).__name__}")
        inputs = (self.inputs,) if isinstance(self.inputs, str) else tuple(self.inputs)
        if not all(isinstance(name, str) for name in inputs):
            raise PipelineDefinitionError(f"{where}: inputs must be stage names, got {inputs!r}")
        if len(set(inputs)) != len(inputs) or self.name in inputs:
            raise PipelineDefinitionError(f"{where}: inputs {list(inputs)} repeat a name or name the stage itself")
        for label in ("params", "context"):
            value = getattr(self, label)
            if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
                raise PipelineDefinitionError(f"{where}: {label} must be a dict with string keys")
        names = (set(inputs), set(self.params), set(self.context))
        clash = (names[0] & names[1]) | (names[0] & names[2]) | (names[1] & names[2])
        if clash:
            raise PipelineDefinitionError(f"{where}: {sorted(clash)} used twice among inputs, params and context")
        try:
            to_canonical(dict(self.params), f"{where} params")
        except UnhashableError as error:
            raise PipelineDefinitionError(str(error)) from error
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "context", dict(self.context))
        object.__setattr__(self, "code", tuple(self.code))
        self._check_signature()

    def _check_signature(self) -> None:
        """PipelineDefinitionError now, rather than at run time, if func cannot take these arguments."""
        try:
            signature = inspect.signature(self.func)
        except (TypeError, ValueError):
            return
        arguments = {name: None for name in (*self.inputs, *self.params, *self.context)}
        try:
            signature.bind(**arguments)
        except TypeError as error:
            raise PipelineDefinitionError(
                f"stage {self.name!r}: {getattr(self.func, '__name__', 'func')}{signature} cannot be called with "
                f"inputs {list(self.inputs)} and params/context {sorted({**self.params, **self.context})}: {error}"
            ) from None

    def code_version(self) -> str:
        """Hash of the source of func and of everything listed in ``code``."""
        return code_version(self.func, *self.code)

    def params_hash(self) -> str:
        """Hash of the parameters."""
        return hash_value(self.params)

    def replace(self, **changes: Any) -> Stage:
        """A copy with some fields changed (``params`` replaces all parameters)."""
        return dataclasses.replace(self, **changes)

    def with_params(self, **params: Any) -> Stage:
        """A copy with some parameters changed or added."""
        return dataclasses.replace(self, params={**self.params, **params})

    def __repr__(self) -> str:
        inputs = f", inputs={list(self.inputs)}" if self.inputs else ""
        params = ", ".join(
            f"{key}={value!r}" if isinstance(value, (int, float, str)) else f"{key}=…"
            for key, value in self.params.items()
        )
        shown = f", params: {params}" if params else ""
        return f"Stage({self.name!r}, {getattr(self.func, '__name__', 'func')}{inputs}{shown})"
