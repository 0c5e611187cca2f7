"""Command line: ``python -m grading {release,run,grade,gradebook,audit}``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grading.paths import NOTEBOOKS_DIR, SOLUTIONS_DIR
from mlops_kit.course import DEFAULT_CELL_TIMEOUT_S

EXIT_INPUT_ERROR = 2


def positive_seconds(text: str) -> float:
    """argparse type for a timeout: a number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="build notebooks/ from solutions/")
    release.add_argument("--check", action="store_true", help="only report whether notebooks/ is stale")

    run = commands.add_parser("run", help="execute notebooks in order with papermill")
    run.add_argument("folder", nargs="?", type=Path, default=SOLUTIONS_DIR)
    run.add_argument("--out", type=Path, default=Path("build/run"))
    run.add_argument("--variant", type=int, default=0, help="data variant (0 = shipped data)")
    run.add_argument(
        "--module", action="append", default=[], help="run only this module (id, number or file name); repeatable"
    )
    run.add_argument(
        "--timeout", type=positive_seconds, default=DEFAULT_CELL_TIMEOUT_S, help="per-cell timeout in seconds"
    )

    refresh = commands.add_parser("refresh-solutions", help="re-execute solutions/ in place (outputs nbval compares)")
    refresh.add_argument("names", nargs="*", help="only these notebooks (stem or file name); default all")
    refresh.add_argument(
        "--timeout", type=positive_seconds, default=DEFAULT_CELL_TIMEOUT_S, help="per-cell timeout in seconds"
    )

    grade = commands.add_parser("grade", help="grade one learner's submission folder")
    grade.add_argument("submission", type=Path)
    grade.add_argument("--variant", type=int, required=True)
    grade.add_argument("--out", type=Path, required=True)
    grade.add_argument(
        "--timeout", type=positive_seconds, default=DEFAULT_CELL_TIMEOUT_S, help="per-cell timeout in seconds"
    )
    _secret_option(grade)
    grade.add_argument("--hide", action="append", type=Path, default=[], help="a folder the notebook must not see")
    grade.add_argument(
        "--upstream-cache", type=Path, default=None, help="where the reference upstream is cached (default: in --out)"
    )
    grade.add_argument(
        "--graded-data",
        type=Path,
        default=None,
        help="the variant's data without its ledger, generated for this variant and secret (a cohort's "
        "gradebook makes it once for every learner); default: generated here",
    )
    grade.add_argument(
        "--module", action="append", default=[], help="grade only this module (id, number or file name); repeatable"
    )
    _cold_option(grade)

    gradebook = commands.add_parser("gradebook", help="grade every learner folder of a cohort")
    gradebook.add_argument("cohort", type=Path, help="folder with one sub-folder per learner")
    gradebook.add_argument("--variant", type=int, required=True)
    gradebook.add_argument("--out", type=Path, required=True)
    gradebook.add_argument("--timeout", type=positive_seconds, default=DEFAULT_CELL_TIMEOUT_S)
    gradebook.add_argument("--workers", type=int, default=2, help="learners graded at once (local)")
    gradebook.add_argument("--dask", metavar="SCHEDULER_ADDRESS", help="grade on this dask.distributed cluster")
    _secret_option(gradebook)
    _cold_option(gradebook)

    audit = commands.add_parser("audit", help="ML Test Score of a learner's artifacts folder (HTML, JSON, picture)")
    audit.add_argument("artifacts", type=Path, help="the artifacts folder the modules wrote (ARTIFACTS_DIR)")
    audit.add_argument("--out", type=Path, default=Path("build/audit"))
    return parser


def _secret_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--memory-mb",
        type=int,
        default=4096,
        help="address-space limit per process of a graded notebook, in MiB (default 4096)",
    )
    command.add_argument(
        "--secret-file",
        type=Path,
        default=None,
        help="file (outside the repository) holding the grading secret; default $COURSE_GRADING_SECRET, "
        "else the public self-grading secret",
    )


def _release(args: argparse.Namespace) -> int:
    from grading.release import release, stale_notebooks

    if args.check:
        stale = stale_notebooks()
        for name in stale:
            print(f"stale: notebooks/{name} (run `python -m grading release`)", file=sys.stderr)
        return 1 if stale else 0
    for path in release():
        print(f"released {path.relative_to(NOTEBOOKS_DIR.parent)}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from grading.run import run_course

    data_dir = None
    if args.variant:
        from mlops_kit.datagen import ensure_variant

        data_dir = ensure_variant(args.variant, args.out / "variants") / "data"
    outcomes = run_course(args.folder, args.out, data_dir, args.variant, args.timeout, only=tuple(args.module))
    failed = [name for name, outcome in outcomes.items() if not outcome.ok]
    print(f"executed {len(outcomes)} notebooks into {args.out}; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


def _refresh(args: argparse.Namespace) -> int:
    from grading.run import refresh_solution_outputs

    refresh_solution_outputs(SOLUTIONS_DIR, args.timeout, args.names or None)
    return 0


def _cold_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cold",
        action="store_true",
        help="start a new Python for every notebook and test run instead of forking them from a warm "
        "fork server (slower; the sandbox is the same)",
    )


def _grade(args: argparse.Namespace) -> int:
    from grading.grade import grade_submission
    from grading.sandbox import Limits
    from grading.scorecard import render_markdown
    from grading.secret import resolve_secret

    result = grade_submission(
        args.submission,
        args.variant,
        args.out,
        args.timeout,
        secret=resolve_secret(args.secret_file),
        limits=Limits(memory_mb=args.memory_mb),
        hidden=tuple(args.hide),
        only=tuple(args.module),
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        upstream_cache=args.upstream_cache,
        warm=not args.cold,
        graded_data=args.graded_data,
    )
    print(render_markdown(result.card))
    print(f"scorecard: {result.json_path} and {result.markdown_path}")
    for problem in result.unreadable:
        print(f"error: {problem}", file=sys.stderr)
    return EXIT_INPUT_ERROR if result.unreadable else 0


def _gradebook(args: argparse.Namespace) -> int:
    from grading.gradebook import grade_cohort
    from grading.secret import resolve_secret

    path = grade_cohort(
        args.cohort,
        args.variant,
        args.out,
        args.timeout,
        args.workers,
        resolve_secret(args.secret_file),
        dask_address=args.dask,
        warm=not args.cold,
    )
    print(f"gradebook: {path}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from grading.audit import AuditError, write_audit

    try:
        report = write_audit(args.artifacts, args.out)
    except AuditError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    scores = ", ".join(f"{name} {score:g}" for name, score in report["sections"].items())
    print(f"ML Test Score: {report['final_score']:g} (minimum over sections: {scores})")
    for module, ids in report["uncovered_by_missing_modules"].items():
        print(f"{module} is missing: it would cover {', '.join(ids)}")
    print(f"audit: {args.out / 'audit.html'}, {args.out / 'audit.json'}, {args.out / 'audit.png'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the command, turn input errors into a message and exit code 2."""
    from grading.grade import GradingInputError
    from grading.notebook_io import NotebookError
    from grading.secret import SecretError
    from grading.steps.strip_solutions import SolutionMarkerError
    from mlops_kit.manifest import ManifestError

    args = _parser().parse_args(argv)
    from grading.sandbox import DIE_WITH_PARENT_ENV
    from mlops_kit.processes import die_with_parent

    if os.environ.get(DIE_WITH_PARENT_ENV):  # set by the gradebook for its jobs
        die_with_parent()
    handlers = {
        "release": _release,
        "run": _run,
        "refresh-solutions": _refresh,
        "grade": _grade,
        "gradebook": _gradebook,
        "audit": _audit,
    }
    try:
        return handlers[args.command](args)
    except (
        GradingInputError,
        SecretError,
        NotebookError,
        SolutionMarkerError,
        ManifestError,
        FileNotFoundError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
