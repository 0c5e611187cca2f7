"""Dependencies inside mlops_kit point one way: a module imports only its own layer or lower ones.

Every import statement of every module is read with ``ast`` (module level, inside functions
and under ``TYPE_CHECKING`` alike), resolved to the mlops_kit module it loads, and checked
against ``LAYERS``. A new top-level part of mlops_kit must be added to ``LAYERS`` to pass.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import mlops_kit

ROOT = Path(mlops_kit.__file__).resolve().parent
PACKAGE = "mlops_kit"

LAYERS: tuple[tuple[str, ...], ...] = (
    # foundations: no dependency on any stage
    ("mlops_kit",),
    ("mlops_kit.course", "mlops_kit.io", "mlops_kit.hashing", "mlops_kit.processes"),
    ("mlops_kit.manifest", "mlops_kit.dictionary", "mlops_kit.scenarios"),
    ("mlops_kit.domain", "mlops_kit.artifacts"),
    ("mlops_kit.datagen", "mlops_kit.plots"),
    ("mlops_kit.data",),
    # module 1
    ("mlops_kit.validation",),
    # module 2
    ("mlops_kit.features",),
    ("mlops_kit.pipeline",),
    # module 3: plain data and pure rules below the MLflow client, the reference solution on top
    (
        "mlops_kit.registry.errors",
        "mlops_kit.registry.lineage",
        "mlops_kit.registry.metrics",
        "mlops_kit.registry.card",
        "mlops_kit.registry.audit",
        "mlops_kit.registry.environment",
    ),
    ("mlops_kit.registry.store_template",),
    ("mlops_kit.registry.policy", "mlops_kit.registry.candidates", "mlops_kit.registry.tracking"),
    ("mlops_kit.registry.trust",),
    ("mlops_kit.registry.versions",),
    ("mlops_kit.registry.runs", "mlops_kit.registry.promotion", "mlops_kit.registry.plots"),
    ("mlops_kit.registry.record",),
    ("mlops_kit.registry.reference",),
    ("mlops_kit.registry",),
    # modules 4-7
    ("mlops_kit.gates", "mlops_kit.serving", "mlops_kit.deploy"),
    ("mlops_kit.monitoring",),
    ("mlops_kit.consistency",),
    ("mlops_kit.rollout",),
)
"""Lowest first. A module's layer is that of the longest entry naming it or a package holding it."""

FORBIDDEN_TOP_LEVEL = ("grading", "tests", "datasets")
"""Names mlops_kit never imports: the course tooling, the test suite, a data folder (or Hugging Face's package)."""


@dataclass(frozen=True)
class Import:
    """One import statement: the module it is in, what it loads, and where."""

    module: str
    target: str
    line: int


def module_name(path: Path) -> str:
    """``mlops_kit/registry/policy.py`` → ``mlops_kit.registry.policy``; a package's ``__init__`` → the package."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def imports_of(name: str) -> list[Import]:
    """Every import in module ``name``, resolved: ``from a.b import c`` loads ``a.b.c`` when that is a module."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if is_package(name) else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append(Import(name, candidate if candidate in MODULES else base, node.lineno))
    return found


def layer_of(name: str) -> int:
    """Index in LAYERS of the longest entry equal to ``name`` or a package prefix of it."""
    best, best_length = -1, -1
    for index, entries in enumerate(LAYERS):
        for entry in entries:
            if (name == entry or name.startswith(entry + ".")) and len(entry) > best_length:
                best, best_length = index, len(entry)
    return best


def internal(target: str) -> bool:
    return target == PACKAGE or target.startswith(PACKAGE + ".")


def all_imports() -> list[Import]:
    return [found for name in MODULES for found in imports_of(name)]


def test_every_module_has_a_layer() -> None:
    """A module that only the root entry covers is a new part: it must be placed in LAYERS."""
    unplaced = [name for name in MODULES if name != PACKAGE and layer_of(name) == 0]
    assert not unplaced, f"add these modules to LAYERS in {__file__}: {', '.join(unplaced)}"


def test_no_module_imports_a_higher_layer() -> None:
    """Later stages may use earlier ones, never the reverse (function-level imports included)."""
    upward = sorted(
        {
            f"{MODULES[found.module].relative_to(ROOT.parent)}:{found.line} {found.module} (layer {layer_of(found.module)}) "
            f"imports {found.target} (layer {layer_of(found.target)})"
            for found in all_imports()
            if internal(found.target) and layer_of(found.target) > layer_of(found.module)
        }
    )
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_no_import_cycles() -> None:
    """Modules of one layer may use each other, but never in a circle."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for found in all_imports():
        if internal(found.target) and found.target in MODULES and found.target != found.module:
            graph[found.module].add(found.target)
    # a package's __init__ importing its own modules is how packages re-export: not a cycle to report
    for name in graph:
        graph[name] = {target for target in graph[name] if not (is_package(name) and target.startswith(name + "."))}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            pytest.fail("import cycle: " + " → ".join(cycle))


def test_no_module_imports_its_own_half_loaded_package() -> None:
    """Inside package P, import P's modules, never P itself: P's ``__init__`` is still loading."""
    wrong = [
        f"{found.module} imports {found.target} (line {found.line}); import the submodule instead"
        for found in all_imports()
        if is_package(found.target) and found.module.startswith(found.target + ".")
    ]
    assert not wrong, "\n".join(wrong)


def test_mlops_kit_never_imports_course_tooling() -> None:
    """``grading`` builds on mlops_kit; the reverse would make the library need the grader."""
    wrong = [
        f"{found.module}:{found.line} imports {found.target}"
        for found in all_imports()
        if found.target.split(".")[0] in FORBIDDEN_TOP_LEVEL
    ]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The resolver itself: function-level, TYPE_CHECKING and relative imports are all found."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from mlops_kit.registry.tracking import Tracking\n"
        "def f():\n    from . import versions\n    import mlops_kit.pipeline.split as s\n"
    )
    name = "mlops_kit.registry.probe"
    MODULES[name] = tmp_path / "probe.py"
    MODULES[name].write_text(source)
    try:
        targets = [found.target for found in imports_of(name)]
    finally:
        del MODULES[name]
    assert targets == [
        "typing",
        "mlops_kit.registry.tracking",
        "mlops_kit.registry.versions",
        "mlops_kit.pipeline.split",
    ]
    assert (
        layer_of("mlops_kit.registry.policy") < layer_of("mlops_kit.registry.versions") < layer_of("mlops_kit.registry")
    )
    assert layer_of("mlops_kit.registry.probe") == layer_of("mlops_kit.registry")
