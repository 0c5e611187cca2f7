"""Process plumbing that the services, their warm parent and the grader share (Linux).

``group_members``: the live members of a process group (a stopped service's workers, a fork
server's handlers), read from ``/proc``. ``die_with_parent``: ask the kernel for a signal when
the parent exits (``PR_SET_PDEATHSIG``; it fires when the parent *thread* that forked or started
this process ends). ``ForkedProcess``: the part of ``subprocess.Popen`` that callers use, for a child
this process forked itself (a forked kernel, a forked warm parent).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``, read from /proc (Linux)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # stat: pid (comm) state ppid pgrp ...; comm may hold spaces, so split after its ")"
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def die_with_parent(signum: int = signal.SIGKILL) -> None:
    """Have Linux send ``signum`` to this process when its parent exits."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)


class ForkedProcess:
    """A child this process forked, with ``subprocess.Popen``'s ``pid``, ``returncode``, ``poll``, ``wait``,
    ``send_signal``, ``kill`` and ``terminate``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code once it has ended (reaps it), else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for it to end (polling ``poll``); ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"process {self.pid}", timeout or 0)
            time.sleep(0.02)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        """Signal it (nothing if it has already ended)."""
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)
