"""Synthetic learner submissions (solved, partial, broken, hostile...) for the cohort benchmark and the tests.

One place builds them: ``edited_solution`` is a module's solution with cells replaced and one learner cell
added after the setup; ``zip_submission`` packs a submission the way learners upload it. ``build_cohort``
lays out a cohort with a fixed, realistic mix (``MIX``), one folder or zip file per learner.
"""

from __future__ import annotations

import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from grading.notebook_io import read_notebook, write_notebook
from grading.paths import NOTEBOOKS_DIR, SOLUTIONS_DIR
from grading.steps.reference_use import exercise_number
from mlops_kit.course import module_id

ADDED_CELL_ID = "learner-attack"

REFERENCE_ANSWERS = {  # module 1 answered by imports of the reference solution alone, each spelled differently
    "m01-ex1": "from mlops_kit.validation import reference_rules as r\n"
    "def future_timestamp_check(cutoff):\n"
    "    return r(cutoff).column_checks['created_at'][0]",
    "m01-ex2": "import importlib\n"
    "MISSING_POLICY = dict(importlib.import_module('mlops_kit.validation').reference_rules(period_end).missing_policy)",
    "m01-ex3": "import mlops_kit.validation.rules as v\n"
    "OUTLIER_RULES = list(getattr(v, 'reference_rules')(period_end).outlier_rules)",
    "m01-ex4": "ANSWERS = selfcheck._answers_from_report(report)",
}

HOSTILE_CELL = """
import glob, json, os, subprocess, sys
seen = {{"ledgers": glob.glob("/tmp/grading-variants-*/**/*.csv", recursive=True), "written": []}}
for target in {targets!r}:
    try:
        with open(target, "w") as handle:
            handle.write("pwned")
        seen["written"].append(target)
    except OSError:
        pass
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {marker!r}], start_new_session=True)
json.dump(seen, open("hostile.json", "w"))
"""
"""Reads for ledgers, writes outside its sandbox, leaves a sleeper behind; none of it is cheating that scores."""

BROKEN_LINE = 'raise RuntimeError("learner bug: this exercise is not finished")\n'

MIX = ("solved", "hostile", "partial", "broken", "solved", "copycat", "partial", "solved", "broken", "unsolved")
"""Learner kinds in cohort order (repeated): a class where most hand in work, some of it broken or hostile."""
ZIPPED_EVERY = 4
"""Every 4th learner uploads a zip file instead of a folder."""


def edited_solution(folder: Path, module: str, edits: dict[str, str] | None = None, added: str | None = None) -> Path:
    """Write ``module``'s solution into ``folder`` with cells (by id) replaced and ``added`` after the setup cell."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = read_notebook(SOLUTIONS_DIR / f"{module}.ipynb")
    for cell in notebook.cells:
        if cell.get("id") in (edits or {}):
            cell.source = (edits or {})[cell.id]
    if added is not None:
        setup = f"m{module[:2]}-setup"
        position = next(i for i, cell in enumerate(notebook.cells) if cell.get("id") == setup) + 1
        notebook.cells.insert(position, new_code_cell(added, id=ADDED_CELL_ID))
    nbformat.write(notebook, folder / f"{module}.ipynb")
    return folder


def zip_submission(path: Path, entries: dict[str, bytes]) -> Path:
    """A zip file at ``path`` holding ``entries`` (name → bytes), as a learner would upload it."""
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    return path


def exercise_stubs(module: str) -> dict[int, tuple[str, str]]:
    """Exercise number → (cell id, released stub) of ``module``'s released notebook."""
    released = read_notebook(NOTEBOOKS_DIR / f"{module}.ipynb")
    stubs = {}
    for cell in released.cells:
        number = exercise_number(cell)
        if number is not None:
            stubs[number] = (cell.id, cell.source)
    return stubs


def partial_edits(module: str) -> dict[str, str]:
    """Every even-numbered exercise of ``module`` left as its released stub (not done)."""
    return {cell_id: stub for number, (cell_id, stub) in exercise_stubs(module).items() if number % 2 == 0}


def broken_edits(module: str) -> dict[str, str]:
    """Exercise 1 of ``module`` raises before doing anything."""
    solution = {cell.get("id"): cell.source for cell in read_notebook(SOLUTIONS_DIR / f"{module}.ipynb").cells}
    cell_id = exercise_stubs(module)[1][0]
    return {cell_id: BROKEN_LINE + solution[cell_id]}


@dataclass(frozen=True)
class Learner:
    """One synthetic learner: their kind, their submission, and what a hostile one tried."""

    name: str
    kind: str
    submission: Path
    targets: tuple[str, ...] = ()
    marker: str = ""


def learner_notebooks(folder: Path, kind: str, modules: list[str], targets: list[str], marker: str) -> None:
    """Write one learner's notebooks of ``modules`` into ``folder``, as ``kind`` would hand them in."""
    folder.mkdir(parents=True, exist_ok=True)
    for module in modules:
        if kind == "unsolved":
            write_notebook(read_notebook(NOTEBOOKS_DIR / f"{module}.ipynb"), folder / f"{module}.ipynb")
        elif kind == "partial":
            edited_solution(folder, module, partial_edits(module))
        elif kind == "broken":
            edited_solution(folder, module, broken_edits(module))
        elif kind == "hostile":
            edited_solution(folder, module, added=HOSTILE_CELL.format(targets=targets, marker=marker))
        elif kind == "copycat" and module == module_id(1):
            edited_solution(folder, module, REFERENCE_ANSWERS)
        else:  # solved, and a copycat's other modules
            edited_solution(folder, module)


def build_cohort(root: Path, learners: int, modules: list[str]) -> list[Learner]:
    """A cohort folder ``root / "cohort"`` of ``learners`` learners, kinds from ``MIX`` in turn; some zipped.

    A hostile learner's targets lie outside every sandbox (``root / "outside"``, the home folder); its
    sleeper carries a marker unique to this cohort, so a survivor can be found afterwards.
    """
    cohort = root / "cohort"
    cohort.mkdir(parents=True, exist_ok=True)
    (root / "outside").mkdir(exist_ok=True)
    token = uuid.uuid4().hex[:12]
    built = []
    for index in range(learners):
        kind = MIX[index % len(MIX)]
        name = f"learner{index + 1:03d}-{kind}"
        targets = [str(root / "outside" / f"pwned-{name}"), str(Path.home() / f"pwned-{token}-{name}")]
        marker = f"cohort-sleeper-{token}" if kind == "hostile" else ""
        folder = cohort / name
        learner_notebooks(folder, kind, modules, targets, marker)
        submission: Path = folder
        if index % ZIPPED_EVERY == ZIPPED_EVERY - 1:
            entries = {f"{name}/{path.name}": path.read_bytes() for path in sorted(folder.iterdir())}
            submission = zip_submission(cohort / f"{name}.zip", entries)
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
        built.append(Learner(name, kind, submission, tuple(targets) if kind == "hostile" else (), marker))
    return built


def processes_with(marker: str) -> list[int]:
    """Pids whose command line holds ``marker`` (a hostile learner's sleeper that survived)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
