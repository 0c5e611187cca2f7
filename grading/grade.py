"""``grade``: score one learner's submission on a data variant, from the artifacts it produces.

For each course notebook present in the submission: rebuild it on the released notebook
(locked cells restored), execute it in a fresh sandbox on variant N with papermill, then run
the module's artifact tests in a separate pytest process. The graded data come from a seed
that mixes the instructor's secret into the variant label (``grading.secret``); kernels get
the data only. The ledger with the expected values is generated after every kernel of the
submission has ended, so it exists nowhere while learner code runs.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grading.checks import run_artifact_checks
from grading.execute import ExecutionOutcome, read_outcome
from grading.forkserver import ForkServer, ForkServerError
from grading.notebook_io import NotebookError, read_notebook, write_notebook
from grading.paths import NOTEBOOKS_DIR, course_notebooks, module_id
from grading.sandbox import (
    DEFAULT_LIMITS,
    Limits,
    SandboxRun,
    WarmCommand,
    remove_unsafe_entries,
    run_sandboxed,
    sandbox_env,
)
from grading.scorecard import explain_failures, module_entry, scorecard, write_scorecard
from grading.secret import GradingSecret, resolve_secret
from grading.steps.clear_outputs import clear_outputs
from grading.steps.reference_use import ReferenceUse, exercise_number, find_reference_use, flagged_exercises
from grading.steps.restore_locked import restore_locked
from grading.upstream import FIRST_SEEDED_MODULE, module_number, reference_upstream, seed_sandbox
from mlops_kit.course import DEFAULT_CELL_TIMEOUT_S
from mlops_kit.datagen import DATA_FOLDER, ensure_variant, generate_variant, is_current_variant

DEFAULT_CELL_TIMEOUT = DEFAULT_CELL_TIMEOUT_S
START_SLACK_SECONDS = 120.0  # kernel start and papermill's own work, on top of the per-cell budget


class GradingInputError(ValueError):
    """The submission cannot be graded as given (missing folder, no course notebook...)."""


@dataclass(frozen=True)
class GradeResult:
    """A written scorecard and the notebooks that could not be read."""

    card: dict[str, Any]
    json_path: Path
    markdown_path: Path
    unreadable: list[str]


def select_modules(notebooks: dict[str, Path], only: Sequence[str]) -> dict[str, Path]:
    """The submitted modules named in ``only`` (module id, its number ``1``/``01`` or file name); all if empty."""
    if not only:
        return notebooks

    def matches(module: str, wanted: str) -> bool:
        wanted = wanted.removesuffix(".ipynb")
        return module == wanted or (wanted.isdigit() and module.split("_")[0] == f"{int(wanted):02d}")

    picked = {module: path for module, path in notebooks.items() if any(matches(module, w) for w in only)}
    if not picked:
        raise GradingInputError(
            f"--module {', '.join(only)} matches none of the submitted modules: {', '.join(notebooks)}"
        )
    return picked


def submitted_notebooks(submission: Path, released_dir: Path = NOTEBOOKS_DIR) -> dict[str, Path]:
    """Map module id → submitted notebook, for each released notebook the submission holds."""
    if not submission.is_dir():
        raise GradingInputError(f"submission folder not found: {submission}")
    released = {path.name for path in course_notebooks(released_dir)}
    present = {
        module_id(released_dir / name): submission / name for name in sorted(released) if (submission / name).exists()
    }
    if not present:
        expected = ", ".join(sorted(released)) or "(no released notebooks)"
        raise GradingInputError(f"{submission} holds none of the course notebooks; expected file names: {expected}")
    return present


@dataclass
class ModuleRun:
    """One module's execution: its sandbox, how the run ended, restore notes, unreadable input."""

    module: str
    sandbox: Path
    outcome: ExecutionOutcome
    notes: list[str]
    unreadable: str | None
    isolation: dict[str, Any] = field(default_factory=dict)
    reference_uses: list[ReferenceUse] = field(default_factory=list)
    tampered: bool = False
    broken: dict[int, str] = field(default_factory=dict)  # exercise number → why it broke the run


def grade_submission(
    submission: Path,
    variant: int,
    out_dir: Path,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    released_dir: Path = NOTEBOOKS_DIR,
    secret: GradingSecret | None = None,
    limits: Limits = DEFAULT_LIMITS,
    hidden: Sequence[Path] = (),
    only: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    upstream_cache: Path | None = None,
    warm: bool | ForkServer = True,
    graded_data: Path | None = None,
) -> GradeResult:
    """Grade every module present in ``submission`` (or ``only`` these) and write the scorecard into ``out_dir``.

    ``hidden`` folders (besides ``out_dir`` and the submission) look empty to the notebook:
    a cohort's output and submissions, say. ``progress`` gets one line per module as it goes.
    ``upstream_cache`` holds the reference upstream built for the graded data (``grading.upstream``;
    default: inside ``out_dir``); a cohort's graders share one.
    ``warm``: notebooks and artifact tests are forked from a fork server's warm process
    (``grading.forkserver``): the one given, the cohort's (named by ``GRADING_FORKSERVER``), or one
    started here when more than one module is graded (it imports for a few seconds, in the background).
    ``False``: every run starts a new Python.
    ``graded_data``: the variant's data without its ledger, generated for this variant and secret
    (``ensure_variant(..., ledger=False)``: a cohort's gradebook makes it once for every learner);
    default: generated here.
    """
    if variant < 0:
        raise GradingInputError(f"--variant must be 0 or more, got {variant}")
    secret = secret or resolve_secret()
    submission, out_dir = submission.resolve(), out_dir.resolve()  # the kernel runs in the sandbox
    notebooks = select_modules(submitted_notebooks(submission, released_dir), only)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda line: None)
    with (
        warm_server(warm, list(notebooks)) as server,
        tempfile.TemporaryDirectory(prefix="grading-variants-") as private,
    ):
        jail = Jail(cell_timeout, limits, (out_dir, submission, *hidden), server)
        if graded_data is None:
            data_only = generate_variant(variant, Path(private) / "data-only", secret.value, ledger=False)
        elif is_current_variant(graded_data, variant, ledger=False):
            data_only = graded_data
        else:
            raise GradingInputError(f"{graded_data} does not hold variant {variant}'s data (and no ledger)")
        upstream = None
        if any(module_number(module) >= FIRST_SEEDED_MODULE for module in notebooks):
            report("building the reference upstream (modules 2-3) for the graded data, once")
            upstream = reference_upstream(data_only / DATA_FOLDER, variant, upstream_cache or out_dir / "upstream")
        runs = []
        for position, (module, path) in enumerate(notebooks.items(), start=1):
            report(f"[{position}/{len(notebooks)}] {module}: running the notebook in its sandbox")
            runs.append(
                run_module(module, path, released_dir, data_only / DATA_FOLDER, variant, out_dir, jail, upstream)
            )
            report(f"[{position}/{len(notebooks)}] {module}: {runs[-1].outcome.status} ({runs[-1].outcome.seconds} s)")
        variant_dir = ensure_variant(variant, Path(private), secret.value)  # the ledger: only now
        modules = {}
        for run in runs:
            modules[run.module] = check_module(run, variant_dir, variant, server)
            report(f"{run.module}: {modules[run.module]['points']} / {modules[run.module]['max_points']} points")
    card = scorecard(variant, str(submission), modules, secret.source)
    json_path, markdown_path = write_scorecard(card, out_dir)
    return GradeResult(card, json_path, markdown_path, [run.unreadable for run in runs if run.unreadable])


@contextlib.contextmanager
def warm_server(warm: bool | ForkServer, modules: Sequence[str]) -> Iterator[ForkServer | None]:
    """The fork server this grading uses: the given one, the cohort's, one of its own (stopped at the end), or none."""
    if isinstance(warm, ForkServer) or not warm:
        yield warm or None
        return
    shared = ForkServer.from_environment()
    if shared is not None or len(modules) < 2:
        yield shared
        return
    with ForkServer.start(modules) as own:
        yield own


@dataclass(frozen=True)
class Jail:
    """How graded notebooks run: per-cell timeout, resource limits, folders they must not see, fork server."""

    cell_timeout: float
    limits: Limits
    hidden: tuple[Path, ...]
    server: ForkServer | None = None

    def execute(self, notebook: Path, sandbox: Path, parameters: dict[str, Any], code_cells: int) -> SandboxRun:
        """Execute ``notebook`` (in ``sandbox``) with papermill inside the sandbox; outcome in ``.outcome.json``.

        Forked from the fork server when there is one (its kernel too); started cold if it cannot answer.
        """
        (sandbox / "home").mkdir(exist_ok=True)
        request = {
            "input": str(notebook),
            "output": str(executed_path(notebook)),
            "parameters": parameters,
            "cwd": str(sandbox),
            "cell_timeout": self.cell_timeout,
            "outcome": str(sandbox / OUTCOME_FILE),
        }
        run = functools.partial(
            run_sandboxed,
            sandbox=sandbox,
            env=sandbox_env(sandbox / "home"),
            timeout=self.cell_timeout * max(1, code_cells) + START_SLACK_SECONDS,
            hidden=self.hidden,
            limits=self.limits,
        )
        if self.server is not None:
            warm_request = json.dumps({**request, "fork_kernel": True})
            warm = WarmCommand(self.server, "grading.execute", "main", ["grading.execute", warm_request])
            with contextlib.suppress(ForkServerError):
                return run([], warm=warm)
        return run([sys.executable, "-P", "-m", "grading.execute", json.dumps(request)])


OUTCOME_FILE = ".outcome.json"


def executed_path(notebook: Path) -> Path:
    """Where the executed copy of a sandboxed notebook goes."""
    return notebook.with_name(f"executed_{notebook.name}")


def sandbox_outcome(run: SandboxRun, sandbox: Path, notebook: Path, wall_seconds: float) -> ExecutionOutcome:
    """How the run ended, from the outcome file if the runner wrote a valid one, else from the exit."""
    output = str(executed_path(notebook))
    if run.timed_out:
        return ExecutionOutcome(
            "timeout", f"the notebook ran longer than {wall_seconds:g} s in all", wall_seconds, output
        )
    outcome = read_outcome(sandbox / OUTCOME_FILE, executed_path(notebook))
    if outcome is not None:
        return outcome
    last = run.log_tail.strip().splitlines()[-1:] or [""]
    message = f"the notebook's run was killed or crashed (exit {run.returncode}; memory or process limit?) {last[0]}"
    return ExecutionOutcome("dead_kernel", message[:500].strip(), 0.0, output)


MAX_SUBMITTED_NOTEBOOK_BYTES = 50_000_000


def read_submitted(path: Path) -> Any:
    """A learner's notebook, refused if it is a link (it could point at the grader's files) or huge."""
    if path.is_symlink():
        raise NotebookError(f"{path}: a link, not a notebook file; submit the notebook itself")
    if path.is_file() and path.stat().st_size > MAX_SUBMITTED_NOTEBOOK_BYTES:
        raise NotebookError(f"{path}: larger than {MAX_SUBMITTED_NOTEBOOK_BYTES} bytes; clear its outputs")
    return read_notebook(path)


def run_module(
    module: str,
    notebook_path: Path,
    released_dir: Path,
    data_dir: Path,
    variant: int,
    out_dir: Path,
    jail: Jail,
    upstream: Path | None = None,
) -> ModuleRun:
    """Execute one module's notebook in a fresh sandbox holding a copy of the graded data.

    With ``upstream``, the sandbox's artifacts start with the reference artifacts of the modules before
    this one (``grading.upstream``), which the notebook would otherwise rebuild itself.

    When an exercise breaks the run, it is replaced by its released stub and the notebook runs
    again, so the broken exercise costs its own points only (``broken`` notes say which and why;
    the executed copy of the learner's own run is kept as ``executed_<notebook>`` in ``out_dir``).
    A submitted file that is not a readable notebook is not run; its error names it.
    """
    official = read_notebook(released_dir / notebook_path.name)
    sandbox = out_dir / "sandbox" / module
    try:
        submitted = read_submitted(notebook_path)
    except NotebookError as error:
        _fresh_sandbox(sandbox, data_dir, None, module)
        outcome = ExecutionOutcome("not_run", f"not graded: {error}", 0.0, "")
        return ModuleRun(module, sandbox, outcome, [], str(error))
    merged, restore_report = restore_locked(official, submitted)
    notes = restore_report.messages()
    uses = find_reference_use(module, merged)
    stubs = {cell.id: cell.source for cell in official.cells if exercise_number(cell) is not None}
    why: dict[int, str] = {}
    outcome, isolation, removed = _execute_once(
        merged, notebook_path.name, sandbox, data_dir, variant, jail, (upstream, module)
    )
    while not outcome.ok:
        candidates = exercises_to_blame(merged, outcome.cell_id, stubs)
        if not candidates:
            break
        own_run = Path(outcome.output_path)
        if not why and own_run.is_file() and not own_run.is_symlink():  # the learner's own run, as it went
            shutil.copy(own_run, out_dir / f"executed_{notebook_path.name}")
        stopped = _position(merged, outcome.cell_id)
        for culprit in candidates:  # nearest first; keep the first stub that gets the run past where it stopped
            trial = _with_stub(merged, culprit, stubs[culprit])
            attempt = _execute_once(trial, notebook_path.name, sandbox, data_dir, variant, jail, (upstream, module))
            if attempt[0].ok or _position(trial, attempt[0].cell_id) > stopped or culprit == candidates[-1]:
                break
        number = exercise_number(next(cell for cell in merged.cells if cell.get("id") == culprit)) or 0
        why[number] = f"Exercise {number} (cell {culprit}) broke the run: {outcome.message}"
        notes.append(
            f"{why[number]}. It was graded as not done (its stub), so it earns nothing and the other exercises "
            f"still count; your own run: executed_{notebook_path.name}"
        )
        merged, (outcome, isolation, removed) = trial, attempt
    tampered = restore_report.tampered
    return ModuleRun(module, sandbox, outcome, notes + removed, None, isolation, uses, tampered, why)


def _fresh_sandbox(sandbox: Path, data_dir: Path, upstream: Path | None, module: str) -> None:
    shutil.rmtree(sandbox, ignore_errors=True)
    (sandbox / "artifacts").mkdir(parents=True)
    shutil.copytree(data_dir, sandbox / "data")
    if upstream is not None and module_number(module) >= FIRST_SEEDED_MODULE:
        seed_sandbox(upstream, sandbox / "artifacts", module_number(module))


def _execute_once(
    notebook: Any, name: str, sandbox: Path, data_dir: Path, variant: int, jail: Jail, seed: tuple[Path | None, str]
) -> tuple[ExecutionOutcome, dict[str, Any], list[str]]:
    """One run in a fresh sandbox (seeded with ``seed``: upstream, module): outcome, isolation, removal notes."""
    _fresh_sandbox(sandbox, data_dir, *seed)
    input_path = write_notebook(clear_outputs(notebook), sandbox / name)
    parameters = {"DATA_DIR": str(sandbox / "data"), "ARTIFACTS_DIR": str(sandbox / "artifacts"), "VARIANT": variant}
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    run = jail.execute(input_path, sandbox, parameters, code_cells)
    wall = jail.cell_timeout * max(1, code_cells) + START_SLACK_SECONDS
    outcome = sandbox_outcome(run, sandbox, input_path, wall)
    return outcome, run.isolation, remove_unsafe_entries(sandbox)


def exercises_to_blame(notebook: Any, cell_id: str | None, stubs: dict[str, str]) -> list[str]:
    """Exercises that may have broken a run stopped at ``cell_id``: that cell if it is an exercise, else
    the exercises above it that differ from their stub, nearest first."""
    ids = [cell.get("id") for cell in notebook.cells]
    if cell_id not in ids:
        return []
    above = reversed(notebook.cells[: ids.index(cell_id) + 1])
    return [cell.get("id") for cell in above if cell.get("id") in stubs and cell.source != stubs[cell.get("id")]]


def _position(notebook: Any, cell_id: str | None) -> int:
    ids = [cell.get("id") for cell in notebook.cells]
    return ids.index(cell_id) if cell_id in ids else len(ids)


def _with_stub(notebook: Any, cell_id: str, stub: str) -> Any:
    replaced = copy.deepcopy(notebook)
    for cell in replaced.cells:
        if cell.get("id") == cell_id:
            cell.source = stub
    return replaced


def check_module(run: ModuleRun, variant_dir: Path, variant: int, server: ForkServer | None = None) -> dict[str, Any]:
    """Run the module's artifact tests on what the notebook left; its scorecard entry.

    The tests read the grader's own copy of the data, never the sandbox's (which the notebook could edit).
    """
    log = run.sandbox.parent.parent / "logs" / f"{run.module}.checks.log"
    checks = run_artifact_checks(
        run.module, run.sandbox / "artifacts", variant_dir / DATA_FOLDER, variant_dir, variant, log, server
    )
    if not run.outcome.ok:
        checks = explain_failures(checks, f"notebook stopped: {run.outcome.message}")
    checks = [
        {**check, "message": f"{run.broken[check['exercise']]} — {check['message']}"}
        if not check["passed"] and check.get("exercise") in run.broken
        else check
        for check in checks
    ]
    checks = withhold_reference_points(checks, run.reference_uses)
    flags = [use.message() for use in run.reference_uses]
    entry = module_entry(checks, run.outcome.to_dict(), run.notes, run.isolation, flags)
    return {**entry, "tampered": run.tampered, "broken_exercises": sorted(run.broken)}


def withhold_reference_points(checks: list[dict[str, Any]], uses: list[ReferenceUse]) -> list[dict[str, Any]]:
    """Checks of an exercise answered with the reference solution earn nothing; so do whole-module checks."""
    if not uses:
        return checks
    exercises, everything = flagged_exercises(uses)
    withheld = []
    for check in checks:
        exercise = check.get("exercise")
        if everything or exercise is None or exercise in exercises:
            why = "exercise used the course's reference solution or an answer key: no points"
            if exercise is None:
                why = "an exercise used the course's reference solution or an answer key: no points for the whole"
            check = {
                **check,
                "passed": False,
                "points": 0,
                "withheld": check["passed"],
                "message": f"{why} — {check['message']}",
            }
        withheld.append(check)
    return withheld
