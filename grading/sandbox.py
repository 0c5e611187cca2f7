"""Run a command inside a grading sandbox and clean up after it (host side of ``grading.jail``).

The command sees the sandbox folder read-write and the system, Python and course read-only,
runs as an unprivileged user of its own (when the grader is root), without network beyond its
own loopback, under resource limits, and everything it started is gone when this returns.
What was really applied is returned (``SandboxRun.isolation``) so the scorecard can state it.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grading.paths import REPO_ROOT

if TYPE_CHECKING:
    from grading.forkserver import ForkServer

JAIL = Path(__file__).resolve().parent / "jail.py"
SETUP_FAILED = 125
LEARNER_UID_BASE = 200_000  # + the grader's pid: a user of its own per concurrent sandbox
SYSTEM_READ_ONLY = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
ALWAYS_HIDDEN = (REPO_ROOT / "build", REPO_ROOT / "artifacts")  # earlier runs and gradings of the course
LOG_TAIL_BYTES = 4000
MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Per-sandbox resource caps; memory applies per process (address space)."""

    memory_mb: int = 4096
    cpu_seconds: int = 1800
    file_mb: int = 512
    processes: int = 256
    open_files: int = 1024
    tmp_mb: int = 512

    def rlimits(self) -> dict[str, int]:
        """The ``resource.RLIMIT_*`` values the jail applies."""
        return {
            "RLIMIT_AS": self.memory_mb * MiB,
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_FSIZE": self.file_mb * MiB,
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class SandboxRun:
    """How a sandboxed command ended and which protections it ran under."""

    returncode: int
    timed_out: bool
    isolation: dict[str, Any]
    log_tail: str = field(repr=False)


DIE_WITH_PARENT_ENV = "GRADING_DIE_WITH_PARENT"
"""Set for a gradebook's jobs: each dies with its gradebook (a killed gradebook takes its jobs along)."""


def learner_uid() -> int | None:
    """A user id of its own for this grader process's sandboxes; None when not root."""
    return LEARNER_UID_BASE + os.getpid() if os.geteuid() == 0 else None


def python_read_only() -> list[str]:
    """The Python installation and the course, which the command needs to read."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent, REPO_ROOT}
    return sorted(str(path.resolve()) for path in paths)


def sandbox_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed command: nothing inherited from the grader."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / ".jupyter-runtime"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "DO_NOT_TRACK": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",  # offline; MLflow reads DO_NOT_TRACK only when it is "true"
        # an address-space limit needs one BLAS thread (numpy #18141); one per kernel suits grading anyway
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    return {**env, **(extra or {})}


def run_sandboxed(
    argv: list[str],
    sandbox: Path,
    env: Mapping[str, str],
    timeout: float,
    hidden: Iterable[Path] = (),
    limits: Limits = DEFAULT_LIMITS,
    namespaces: bool = True,
    warm: WarmCommand | None = None,
) -> SandboxRun:
    """Run ``argv`` in ``sandbox`` (its cwd); kill everything it started by ``timeout`` seconds at most.

    ``hidden`` folders (the grader's output, other submissions) appear empty inside. With ``warm``,
    the same command runs as a function forked from a fork server's warm process (``grading.forkserver``)
    instead of a new Python; the sandbox is the same.
    """
    sandbox = sandbox.resolve()
    uid = learner_uid()
    _hand_over(sandbox, uid)
    with tempfile.TemporaryDirectory(prefix="grading-jail-") as private:
        report = Path(private) / "isolation.json"
        log = Path(private) / "jail.log"
        root = Path(private) / "root"  # the jail mounts its new root here, in its own mount namespace
        root.mkdir()
        spec = {
            "argv": argv,
            "env": dict(env),
            "cwd": str(sandbox),
            "read_only": [*SYSTEM_READ_ONLY, *python_read_only()],
            "hidden": sorted({str(Path(path).resolve()) for path in [*ALWAYS_HIDDEN, *hidden]}),
            "writable": [str(sandbox)],
            "tmp_size": f"{limits.tmp_mb}m",
            "limits": limits.rlimits(),
            "uid": uid,
            "report": str(report),
            "root": str(root),
            "namespaces": namespaces,
        }
        jail = _run_jail if warm is None else warm.runner()

        def run_jail(spec: dict[str, Any]) -> tuple[int, bool]:
            try:
                return jail(spec, log, timeout)
            finally:
                if uid is not None:
                    kill_user_processes(uid)  # whatever escaped the group or the namespace

        returncode, timed_out = run_jail(spec)
        isolation = _read_json(report)
        if returncode == SETUP_FAILED and "setup_error" in isolation and namespaces:
            returncode, timed_out = run_jail({**spec, "namespaces": False})
            isolation = {**_read_json(report), "namespaces": f"none (setup failed: {isolation['setup_error']})"}
        tail = _tail(log)
    _take_back(sandbox, uid)
    return SandboxRun(returncode, timed_out, isolation, tail)


@dataclass(frozen=True)
class WarmCommand:
    """A command as a function of a module the fork server has imported: ``module.function(argv)``."""

    server: ForkServer
    module: str
    function: str
    argv: list[str]

    def runner(self) -> Callable[[dict[str, Any], Path, float], tuple[int, bool]]:
        """A ``_run_jail`` that asks the fork server to enter the jail and call the function there."""

        def run(spec: dict[str, Any], log: Path, timeout: float) -> tuple[int, bool]:
            warm_spec = {**spec, "call": [self.module, self.function], "argv": self.argv}
            reply = self.server.run("sandbox", {"spec": warm_spec}, log, timeout)
            return reply.returncode, reply.timed_out

        return run


def _run_jail(spec: dict[str, Any], log: Path, timeout: float) -> tuple[int, bool]:
    """Start the jail in a session of its own; on timeout or return, kill its group (the caller sweeps its user)."""
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-P", "-I", str(JAIL), json.dumps(spec)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            cwd="/",
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            start_new_session=True,
        )
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(process.pid)
            process.wait()
    return process.returncode, timed_out


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_user_processes(uid: int) -> list[int]:
    """SIGKILL every process of ``uid`` (a sandbox's own user): nothing outlives its turn."""
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return killed


def _hand_over(sandbox: Path, uid: int | None) -> None:
    """Let the sandbox's user write the sandbox folder and what is in it, except ``data`` (read-only)."""
    if uid is None:
        return
    os.lchown(sandbox, uid, uid)
    for path in sandbox.iterdir():
        if path.name != "data":
            _chown_tree(path, uid)


def _take_back(sandbox: Path, uid: int | None) -> None:
    """Everything the sandbox's user left becomes the grader's again."""
    if uid is not None:
        _chown_tree(sandbox, os.geteuid())


def _chown_tree(root: Path, uid: int) -> None:
    os.lchown(root, uid, uid)
    if root.is_symlink() or not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(folder, name), uid, uid)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def remove_unsafe_entries(sandbox: Path) -> list[str]:
    """Delete what the grader must not follow: links leaving the sandbox, FIFOs, sockets, devices.

    Returns one note per removed entry, for the scorecard.
    """
    notes = []
    root = sandbox.resolve()
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                target = Path(os.path.realpath(path))
                if target == root or target.is_relative_to(root):
                    continue
                why = f"a link to {os.readlink(path)} outside the sandbox"
            elif stat.S_ISREG(mode) or stat.S_ISDIR(mode):
                continue
            else:
                why = "not a regular file"
            path.unlink()
            notes.append(f"removed {path.relative_to(root)}: {why}; artifacts must be files inside the sandbox")
    return notes
