"""Process plumbing that the services, their warm parent and the grader share (Linux).

``group_members``: the live members of a process group (a stopped service's workers, a fork
server's handlers), read from ``/proc``. ``die_with_parent``: ask the kernel for a signal when
the parent exits (``PR_SET_PDEATHSIG``; it fires when the parent *thread* that forked or started
this process ends).
"""

from __future__ import annotations

import ctypes
import signal
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
