"""``gradebook``: grade a cohort into one CSV: resumable, idempotent, local or on Dask.

A cohort folder holds one submission per learner: a folder, or a ``.zip`` of one (entries
that would land outside it are refused). Each learner is one *job*: ``python -m grading
grade`` in a subprocess of its own process group, with a timeout; its result is a row saved
as ``<out>/<learner>/row.json`` (atomically, after the scorecard). The CSV is rebuilt from
the saved rows after every job, atomically, so it is always a complete, valid file; killed at
any moment, a rerun grades only the learners whose row is missing or stale (another
submission, variant or secret) and gives the same bytes. Jobs run in local worker processes,
or with ``dask_address`` on an existing dask.distributed cluster (``client.map(...,
pure=False)``, infrastructure failures retried, a learner's failure is a row, not an error).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from grading.forkserver import SOCKET_ENV, ForkServer, ForkServerError
from grading.grade import GradingInputError
from grading.paths import NOTEBOOKS_DIR, course_notebooks, module_id
from grading.sandbox import DEFAULT_LIMITS, DIE_WITH_PARENT_ENV, Limits
from grading.secret import SECRET_ENV, GradingSecret, resolve_secret
from mlops_kit.course import DEFAULT_CELL_TIMEOUT_S
from mlops_kit.datagen import ensure_variant, secret_fingerprint
from mlops_kit.io import atomic_write_json, atomic_write_text

ROW_FILE = "row.json"
UPSTREAM_FOLDER = ".upstream"
"""In the gradebook's folder: the reference upstream of the graded data, shared by every learner's grader."""
GRADED_DATA_FOLDER = ".graded-data"
"""In the gradebook's folder: the graded variant's data (no ledger), generated once for every learner's grader."""
MAX_ZIP_BYTES = 200 * 1024 * 1024  # uncompressed, per submission
JOB_SLACK_SECONDS = 600.0
INFRA_RETRIES = 2


class InfrastructureError(RuntimeError):
    """A job failed for a reason that is not the learner's (worker lost, grader crashed): retry it."""


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to grade one learner (plain data: it travels to Dask workers)."""

    learner: str
    submission: str
    out_dir: str
    variant: int
    cell_timeout: float
    memory_mb: int
    hidden: tuple[str, ...]
    key: str
    secret: str
    upstream_cache: str = ""  # shared by the cohort's graders: the reference upstream is built once
    fork_server: str = ""  # the cohort's fork server (its socket), if its machine is this one
    graded_data: str = ""  # the variant's data without its ledger, generated once for the cohort


def learner_submissions(cohort: Path) -> dict[str, Path]:
    """Learner name → submission (a folder or a zip file) in the cohort, in name order."""
    if not cohort.is_dir():
        raise GradingInputError(f"cohort folder not found: {cohort}")
    found: dict[str, Path] = {}
    for path in sorted(cohort.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir() or (path.is_file() and path.suffix == ".zip"):
            name = path.stem if path.suffix == ".zip" else path.name
            if name in found:
                raise GradingInputError(f"learner {name} is in the cohort twice: {found[name].name} and {path.name}")
            found[name] = path
    if not found:
        raise GradingInputError(f"{cohort} has no learner sub-folders or zip files")
    return found


def submitted_modules(submissions: Iterable[Path]) -> set[str]:
    """The course modules any of ``submissions`` (folders or zips) holds a notebook for (what the fork server imports)."""
    wanted = {path.name: module_id(path) for path in course_notebooks(NOTEBOOKS_DIR)}
    found: set[str] = set()
    for submission in submissions:
        try:
            names = zipfile.ZipFile(submission).namelist() if submission.suffix == ".zip" else os.listdir(submission)
        except (OSError, zipfile.BadZipFile):
            continue
        found.update(wanted[name] for name in (PurePosixPath(entry).name for entry in names) if name in wanted)
    return found


def learner_folders(cohort: Path) -> list[Path]:
    """The submissions of the cohort, in learner name order."""
    return list(learner_submissions(cohort).values())


def unpack_zip(archive: Path, target: Path) -> Path:
    """Extract a submission zip into ``target``; GradingInputError for an entry that escapes it.

    Absolute paths, ``..``, links and archives above ``MAX_ZIP_BYTES`` are refused; a single
    top-level folder is looked into, so ``alice.zip`` may hold ``alice/01_....ipynb``.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as bundle:
            entries = bundle.infolist()
            if sum(entry.file_size for entry in entries) > MAX_ZIP_BYTES:
                raise GradingInputError(f"{archive.name} unpacks to more than {MAX_ZIP_BYTES} bytes")
            for entry in entries:
                name = PurePosixPath(entry.filename.replace("\\", "/"))
                is_link = (entry.external_attr >> 16) & 0o170000 == 0o120000
                if name.is_absolute() or ".." in name.parts or is_link or ":" in entry.filename:
                    raise GradingInputError(f"{archive.name}: refused entry {entry.filename!r} (it would escape)")
            for entry in entries:
                destination = target.joinpath(*PurePosixPath(entry.filename.replace("\\", "/")).parts)
                if entry.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(entry) as source, open(destination, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    except zipfile.BadZipFile as error:
        raise GradingInputError(f"{archive.name} is not a valid zip file: {error}") from error
    children = [child for child in target.iterdir() if not child.name.startswith(("__MACOSX", "."))]
    if len(children) == 1 and children[0].is_dir() and not course_notebooks(target):
        return children[0]
    return target


def submission_key(submission: Path, variant: int, secret: GradingSecret) -> str:
    """What a row was graded from: the submission's bytes, the variant, the secret (by fingerprint)."""
    digest = hashlib.sha256(f"{variant}:{secret_fingerprint(secret.value)}".encode())
    files = [submission] if submission.is_file() else sorted(p for p in submission.rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(submission) if path != submission else path.name).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def grade_job(job: Job) -> dict[str, Any]:
    """Grade one learner in a subprocess of its own process group; return its row.

    A learner's failure (no course notebook, broken zip, invalid notebook) is a row; a failure of
    the grading itself (the subprocess crashed or left no scorecard) raises InfrastructureError.
    """
    out_dir = Path(job.out_dir)
    scorecard_path = out_dir / "scorecard.json"
    scorecard_path.unlink(missing_ok=True)
    submission = Path(job.submission)
    try:
        if submission.suffix == ".zip":
            submission = unpack_zip(submission, out_dir / "submission")
    except GradingInputError as error:
        return _row(job, f"error: {error}", {}, "not run")
    command = [
        sys.executable,
        "-m",
        "grading",
        "grade",
        str(submission),
        "--variant",
        str(job.variant),
        "--out",
        str(out_dir),
        "--timeout",
        str(job.cell_timeout),
        "--memory-mb",
        str(job.memory_mb),
        *[argument for folder in job.hidden for argument in ("--hide", folder)],
        *(["--upstream-cache", job.upstream_cache] if job.upstream_cache else []),
        *(["--graded-data", job.graded_data] if job.graded_data else []),
    ]
    # the secret never goes on the command line, where ps would show it
    env = {**os.environ, SECRET_ENV: job.secret, DIE_WITH_PARENT_ENV: "1"}
    if job.fork_server:
        env[SOCKET_ENV] = job.fork_server
    ended = _forked_job(job, command, env) if job.fork_server else None
    returncode, stderr = ended or _subprocess_job(job, command, env)
    if returncode == 2 and not scorecard_path.is_file():  # the submission cannot be graded
        return _row(job, "error: " + _last_line(stderr), {}, "not run")
    if returncode not in (0, 2) or not scorecard_path.is_file():
        raise InfrastructureError(f"grading {job.learner} failed (exit {returncode}): {_last_line(stderr)}")
    card = json.loads(scorecard_path.read_text(encoding="utf-8"))
    status = "ok" if returncode == 0 else "error: " + _last_line(stderr)
    return _row(job, status, card["modules"], card["isolation"])


def _subprocess_job(job: Job, command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``grading grade`` as a new Python in a process group of its own; (exit code, stderr)."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True, text=True
    )
    try:
        _, stderr = process.communicate(timeout=_job_timeout(job))
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        process.communicate()
        raise InfrastructureError(f"grading {job.learner} took longer than {_job_timeout(job):g} s") from None
    finally:
        _kill_group(process.pid)
    return process.returncode, stderr


def _forked_job(job: Job, command: list[str], env: dict[str, str]) -> tuple[int, str] | None:
    """Run ``grading grade`` forked from the cohort's fork server (its own session); None if it cannot answer."""
    log = Path(job.out_dir) / "grading.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    server = ForkServer.connect(job.fork_server)
    argv = command[command.index("grading") + 1 :]
    request = {"argv": argv, "cwd": str(log.parent), "env": env, "discard_stdout": True}  # stderr: the log
    try:
        reply = server.run("grade", request, log, _job_timeout(job))
    except ForkServerError:
        return None
    if reply.timed_out:
        raise InfrastructureError(f"grading {job.learner} took longer than {_job_timeout(job):g} s")
    return reply.returncode, log.read_text(encoding="utf-8", errors="replace")


def _job_timeout(job: Job) -> float:
    return job.cell_timeout * 200 + JOB_SLACK_SECONDS


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].removeprefix("error: ")[:300] if lines else "no message"


def _row(job: Job, status: str, modules: dict[str, Any], isolation: str) -> dict[str, Any]:
    """The saved form of a learner's result: only what the gradebook shows (no expected values)."""
    kept = ("points", "max_points", "flags", "tampered")
    slim = {name: {key: entry.get(key) for key in kept} for name, entry in modules.items()}
    return {"learner": job.learner, "key": job.key, "status": status, "modules": slim, "isolation": isolation}


def row_flags(row: dict[str, Any]) -> str:
    """What an instructor should look at: reference solution used, locked cells edited, weak isolation."""
    flags = []
    for module, entry in sorted(row["modules"].items()):
        if entry.get("flags"):
            flags.append(f"reference-solution:{module}")
        if entry.get("tampered"):
            flags.append(f"tampered:{module}")
    if row.get("isolation") not in ("full", "not run"):
        flags.append("isolation:partial")
    return " ".join(flags)


def gradebook_csv(rows: Iterable[dict[str, Any]], modules: list[str]) -> str:
    """Render gradebook rows: learner, points per module, total, max, status, flags."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["learner", *modules, "total", "max_points", "status", "flags"])
    for row in sorted(rows, key=lambda row: row["learner"]):
        points = [row["modules"].get(module, {}).get("points", 0) for module in modules]
        maximum = sum(entry.get("max_points", 0) for entry in row["modules"].values())
        writer.writerow([row["learner"], *points, sum(points), maximum, row["status"], row_flags(row)])
    return buffer.getvalue()


def saved_row(out_dir: Path, learner: str, key: str) -> dict[str, Any] | None:
    """The row saved for ``learner`` if it was graded from the same key; None otherwise."""
    try:
        row = json.loads((out_dir / learner / ROW_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return row if isinstance(row, dict) and row.get("key") == key else None


def grade_cohort(
    cohort: Path,
    variant: int,
    out_dir: Path,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT_S,
    workers: int = 2,
    secret: GradingSecret | None = None,
    limits: Limits = DEFAULT_LIMITS,
    dask_address: str | None = None,
    progress: Callable[[str], None] | None = None,
    warm: bool = True,
) -> Path:
    """Grade every learner of ``cohort`` still missing from ``out_dir``; (re)write ``gradebook.csv``.

    ``warm``: the jobs are forked from one fork server for the cohort (``grading.forkserver``), and so
    are their notebooks and artifact tests; a job that cannot reach it starts a new Python.
    """
    secret = secret or resolve_secret()
    cohort, out_dir = cohort.resolve(), out_dir.resolve()
    submissions = learner_submissions(cohort)
    modules = [module_id(path) for path in course_notebooks(NOTEBOOKS_DIR)]
    hidden = (str(cohort), str(out_dir))  # no learner sees the others' work or grades
    rows: dict[str, dict[str, Any]] = {}
    jobs = []
    for learner, submission in submissions.items():
        key = submission_key(submission, variant, secret)
        row = saved_row(out_dir, learner, key)
        if row is not None:
            rows[learner] = row
            continue
        folder = str(out_dir / learner)
        jobs.append(
            Job(
                learner,
                str(submission),
                folder,
                variant,
                cell_timeout,
                limits.memory_mb,
                hidden,
                key,
                secret.value,
                str(out_dir / UPSTREAM_FOLDER),
            )
        )
    csv_path = out_dir / "gradebook.csv"
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(csv_path, gradebook_csv(rows.values(), modules))
    report = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    done = len(rows)
    report(f"gradebook: {done}/{len(submissions)} learners already graded, {len(jobs)} to grade")
    with contextlib.ExitStack() as stack:
        server = (
            stack.enter_context(ForkServer.start(submitted_modules(submissions.values()))) if jobs and warm else None
        )
        if jobs:  # the cohort's data, once for every learner (while the fork server imports); ledgers stay per job
            data = ensure_variant(variant, out_dir / GRADED_DATA_FOLDER, secret.value, ledger=False)
            jobs = [dataclasses.replace(job, graded_data=str(data)) for job in jobs]
        if server is not None:
            try:
                server.wait_ready()  # a job that found no server yet would start cold
                jobs = [dataclasses.replace(job, fork_server=str(server.socket_path)) for job in jobs]
            except ForkServerError as error:
                report(f"gradebook: no fork server ({error}); every job starts a new Python")
        for row in _run_dask(jobs, dask_address) if dask_address else _run_local(jobs, workers):
            _save_row(out_dir, csv_path, rows, row, modules)
            done += 1
            total = sum(entry.get("points") or 0 for entry in row["modules"].values())
            report(f"[{done}/{len(submissions)}] {row['learner']}: {total} points ({row['status']})")
    return csv_path


def _save_row(
    out_dir: Path, csv_path: Path, rows: dict[str, dict[str, Any]], row: dict[str, Any], modules: list[str]
) -> None:
    """Keep a learner's row (its own file, then the whole gradebook, both atomically)."""
    atomic_write_json(out_dir / row["learner"] / ROW_FILE, row)
    rows[row["learner"]] = row
    atomic_write_text(csv_path, gradebook_csv(rows.values(), modules))


def _run_local(jobs: list[Job], workers: int) -> Iterable[dict[str, Any]]:
    """Rows as local workers finish them (each job is a subprocess; an infrastructure failure is retried)."""
    if not jobs:
        return
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(_with_retries, job): job for job in jobs}
        for future in as_completed(futures):
            yield future.result()


def _with_retries(job: Job) -> dict[str, Any]:
    failure: InfrastructureError | None = None
    for _ in range(INFRA_RETRIES + 1):
        try:
            return grade_job(job)
        except InfrastructureError as error:
            failure = error
    return _row(job, f"error: grading failed: {failure}", {}, "not run")


def _run_dask(jobs: list[Job], address: str) -> Iterable[dict[str, Any]]:
    """Rows from an existing dask.distributed cluster; only infrastructure failures are retried."""
    if not jobs:
        return
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(address, timeout="30s") as client:
        futures = client.map(grade_job, jobs, pure=False, retries=INFRA_RETRIES)
        by_key = dict(zip((future.key for future in futures), jobs, strict=True))
        for future in dask_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # retries exhausted, worker lost: the row says so, the cohort goes on
                yield _row(by_key[future.key], f"error: grading failed: {error}", {}, "not run")
