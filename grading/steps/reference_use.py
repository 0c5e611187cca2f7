"""Grading step: find learner cells that use the course's reference solution or an answer key.

A module must run when the one before it is unfinished, so reference solutions live in
``mlops_kit`` where any cell can reach them, and the self-checks (``grading.selfcheck``) can
compute answers. An exercise answered with them proves nothing, so it earns nothing.

The learner's cells (exercises and cells they added) are read, never run: imports, aliases,
assignments, ``importlib``/``__import__`` with a constant name, ``getattr`` with a constant
attribute and strings naming a banned object are all resolved to the object they reach; the
object is then compared by identity with the banned ones, so a re-export or a renamed import
changes nothing. Code the grader cannot read statically (``exec``, ``eval``, ``compile``,
``importlib`` or ``getattr`` with a computed name, ``sys.modules``, magics) is flagged too:
an exercise cell has no need for it. A use in a cell the learner added counts for every
exercise of the module. What this cannot see: the reference's code copied into the cell.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import nbformat

from grading.steps.cell_roles import is_locked
from mlops_kit.course import module_id

COURSE_PACKAGES = ("mlops_kit",)  # only names inside these are imported to be resolved
ANSWER_KEYS = ("grading", "mlops_kit.datagen")  # self-checks, artifact tests, the generator and its ledgers
# Per module: what its exercises must not use (objects by dotted name, or whole modules/packages).
REFERENCE_SOLUTIONS: dict[str, tuple[str, ...]] = {
    module_id(1): (
        "mlops_kit.validation.rules.reference_rules",
        "mlops_kit.validation.rules.REFERENCE_PREP_TIME_LIMIT_MIN",
        "mlops_kit.pipeline",
        "mlops_kit.registry",
    ),
    module_id(2): (
        "mlops_kit.pipeline.split.time_split",
        "mlops_kit.pipeline.split.valid_period_start",
        "mlops_kit.pipeline.orders",
        "mlops_kit.pipeline.feature_set.ensure_feature_set",
        "mlops_kit.pipeline.feature_set.build_feature_set",
        "mlops_kit.registry",
    ),
    module_id(3): ("mlops_kit.registry.reference",),
    module_id(4): ("mlops_kit.gates.reference",),
    module_id(5): (
        "mlops_kit.monitoring.performance.join_labels",
        "mlops_kit.monitoring.sinks.default_notification",
        "mlops_kit.monitoring.dashboard.drifted_windows",
        "mlops_kit.monitoring.reference",
    ),
    module_id(6): (
        "mlops_kit.consistency.tolerance.values_match",
        "mlops_kit.consistency.schema.compare_schemas",
        "mlops_kit.consistency.leakage.split_violations",
        "mlops_kit.consistency.reference",
    ),
    module_id(7): ("mlops_kit.rollout.reference",),
}
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__", "globals", "vars", "locals", "get_ipython"}
EXERCISE_ID = re.compile(r"-ex(\d+)$")


@dataclass(frozen=True)
class ReferenceUse:
    """One learner cell that uses a reference solution or an answer key (or code the grader cannot read)."""

    cell_id: str
    exercise: int | None  # None: a cell the learner added (it taints every exercise)
    what: str

    def message(self) -> str:
        """The scorecard's flag text."""
        where = f"exercise {self.exercise} (cell {self.cell_id})" if self.exercise else f"added cell {self.cell_id}"
        return f"{where} used the course's reference solution or an answer key ({self.what}); it earns nothing"


def exercise_number(cell: Any) -> int | None:
    """The exercise a cell answers, from its id (``m01-ex3`` → 3); None for other cells."""
    match = EXERCISE_ID.search(str(cell.get("id", "")))
    return int(match.group(1)) if match else None


def find_reference_use(module: str, notebook: nbformat.NotebookNode) -> list[ReferenceUse]:
    """Every learner cell of ``notebook`` (after restore) that uses what ``module`` bans."""
    banned = Banned.of(module)
    names: dict[str, str] = {}
    uses: list[ReferenceUse] = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tree = _parse(cell.source)
        if tree is None:
            continue
        scanner = _Scanner(names, banned)
        scanner.visit(tree)
        if is_locked(cell):
            continue  # instructor code: its imports name things, its uses are not the learner's
        if scanner.found:  # one flag per cell, naming the first few things it reached
            what = ", ".join(list(dict.fromkeys(scanner.found))[:3])
            uses.append(ReferenceUse(str(cell.get("id", "?")), exercise_number(cell), what))
    return uses


def _parse(source: str) -> ast.Module | None:
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, ImportError):
        return None


@dataclass(frozen=True)
class Banned:
    """The banned objects of a module (by identity), module prefixes and the strings that name them."""

    objects: tuple[Any, ...]
    prefixes: tuple[str, ...]
    words: tuple[str, ...]

    @staticmethod
    @cache
    def of(module: str) -> Banned:
        """The bans of ``module``: its reference solution and every answer key."""
        objects, prefixes, words = [], list(ANSWER_KEYS), ["selfcheck", "datagen"]
        for name in REFERENCE_SOLUTIONS.get(module, ()):
            if _is_module(name):  # a module or package: everything defined in it (known without importing it)
                prefixes.append(name)
            else:
                target = _resolve(name)
                objects.append(target)
                words.append(name.rsplit(".", 1)[1])
        return Banned(tuple(objects), tuple(prefixes), tuple(words))

    def reaches(self, dotted: str) -> bool:
        """True if the dotted name ``dotted`` reaches something banned."""
        if any(dotted == prefix or dotted.startswith(prefix + ".") for prefix in self.prefixes):
            return True
        if not dotted.startswith(tuple(p + "." for p in COURSE_PACKAGES)) and dotted not in COURSE_PACKAGES:
            return False
        target = _resolve(dotted)
        if target is None:
            return False
        home = getattr(target, "__module__", None) or getattr(target, "__name__", "")
        in_banned_module = any(str(home) == p or str(home).startswith(p + ".") for p in self.prefixes)
        return in_banned_module or any(target is banned for banned in self.objects)


def _is_module(dotted: str) -> bool:
    """True if ``dotted`` names a module or package (its parents are imported, it is not)."""
    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError):  # a parent that is not a package: an attribute, not a module
        return False


@cache
def _resolve(dotted: str) -> Any:
    """The course object a dotted name reaches (importing course modules only), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            target: Any = importlib.import_module(module_name)
        except ImportError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute, None)
            if target is None:
                return None
        return target
    return None


class _Scanner(ast.NodeVisitor):
    """Walks one cell: records what names mean (``names``, shared across cells) and banned uses."""

    def __init__(self, names: dict[str, str], banned: Banned) -> None:
        self.names = names
        self.banned = banned
        self.found: list[str] = []

    def _use(self, dotted: str | None) -> None:
        if dotted and self.banned.reaches(dotted):
            self.found.append(dotted)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._use(alias.name)
            if alias.name.split(".")[0] == "importlib":
                self.found.append(f"import {alias.name}")
            self.names[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if base.split(".")[0] == "importlib":
            self.found.append(f"from {base} import ...")
        for alias in node.names:
            dotted = f"{base}.{alias.name}" if base else alias.name
            self._use(dotted)
            self.names[alias.asname or alias.name] = dotted

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        dotted = self.qualify(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if dotted:
                    self.names[target.id] = dotted
                else:
                    self.names.pop(target.id, None)

    def visit_Name(self, node: ast.Name) -> None:
        self._use(self.qualify(node))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = self.qualify(node)
        self._use(dotted)
        if dotted in ("sys.modules",) or node.attr in ("__dict__", "__builtins__", "__globals__"):
            self.found.append(f"dynamic lookup through {node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        self._use(self.qualify(node))  # getattr(module, "name"), importlib.import_module("name")
        name = self.qualify(node.func)
        if name in DYNAMIC_CALLS or (name or "").startswith("importlib."):
            constant = _constant_string(node.args[0]) if node.args else None
            if name in ("__import__", "importlib.import_module") and constant is not None:
                self._use(constant)
            else:
                self.found.append(f"{name}() (code the grader cannot read)")
        if name == "getattr" and len(node.args) >= 2 and _constant_string(node.args[1]) is None:
            self.found.append("getattr() with a computed name (code the grader cannot read)")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            for word in self.banned.words:
                if word in node.value:
                    self.found.append(f"the string {word!r}")
            for prefix in self.banned.prefixes:
                if prefix in node.value and "." in prefix:
                    self.found.append(f"the string {prefix!r}")

    def qualify(self, node: ast.AST) -> str | None:
        """The dotted name an expression reaches, as far as it can be told without running it."""
        if isinstance(node, ast.Name):
            return self.names.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualify(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            func = self.qualify(node.func)
            first = _constant_string(node.args[0]) if node.args else None
            if func in ("importlib.import_module", "__import__") and first:
                return first
            if func == "getattr" and len(node.args) >= 2:
                attribute = _constant_string(node.args[1])
                base = self.qualify(node.args[0])
                return f"{base}.{attribute}" if base and attribute else None
        return None


def _constant_string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def flagged_exercises(uses: Iterable[ReferenceUse]) -> tuple[set[int], bool]:
    """(exercises that earn nothing, whether an added cell taints them all)."""
    uses = list(uses)
    return {use.exercise for use in uses if use.exercise is not None}, any(use.exercise is None for use in uses)
