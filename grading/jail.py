"""Enter a grading sandbox and run one command in it: ``python -P -m grading.jail SPEC_JSON``.

Started by ``grading.sandbox`` as root. It uses only what Linux gives without a container
engine (``ctypes`` calls to ``unshare(2)`` and ``mount(2)``, ``chroot``, ``setrlimit``):

* new mount, PID, network, IPC and UTS namespaces; the network has only its own loopback;
* a fresh root on tmpfs with the system, the Python installation and the course read-only,
  the sandbox folder read-write, an empty ``/tmp``, and the grader's own folders hidden;
* an init (PID 1 of the namespace) that runs the command and, when it ends, ends: the kernel
  then kills every process left in the namespace, daemons included; it dies with its parent;
* the command itself under an unprivileged user of its own and resource limits.

When the namespaces cannot be created (not root, a locked-down container) it runs the command
with the limits and its own user only, and says so: the protections really applied are
written as JSON to the spec's ``report`` file. The new root is mounted on the spec's empty
``root`` folder, which the caller owns and removes. This file imports nothing from the course and
is run by path with ``-P``, so nothing in the sandbox folder can be imported here.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import stat
import struct
import sys
from pathlib import Path
from typing import Any

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000,
    0x04000000,
    0x08000000,
    0x20000000,
    0x40000000,
)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
DEVICES = ("null", "zero", "full", "random", "urandom")
SETUP_FAILED = 125

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    _check(_libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


def _inside(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _bind(root: str, path: str, writable: bool, device: bool = False) -> None:
    """Bind ``path`` to the same place under ``root``; read-only unless ``writable``; ``device`` keeps it usable."""
    target = _inside(root, path)
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    _mount(path, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (0 if device else MS_NODEV) | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags)


def _tmpfs(target: str, size: str, mode: str = "755") -> None:
    os.makedirs(target, exist_ok=True)
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}")


def _build_root(spec: dict[str, Any], root: str) -> None:
    """Mount at ``root`` a new root on tmpfs holding only what the command may see."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _tmpfs(root, "16m")
    # /tmp first: a course, a venv or a sandbox that lives under /tmp (a fresh clone there, say) is bound
    # inside this empty /tmp below, instead of being hidden by it.
    _tmpfs(_inside(root, "/tmp"), spec["tmp_size"], "1777")
    for path in sorted(p for p in spec["read_only"] if os.path.exists(p)):
        _bind(root, path, writable=False)
    hidden = [path for path in spec["hidden"] if os.path.isdir(_inside(root, path))]
    for path in hidden:  # empty, read-only: the grader's folders under a visible tree
        _tmpfs(_inside(root, path), "1m")
    _tmpfs(_inside(root, "/dev"), "1m")
    for name in DEVICES:
        _bind(root, f"/dev/{name}", writable=True, device=True)  # nodev would make opening /dev/null fail
    _tmpfs(_inside(root, "/dev/shm"), spec["tmp_size"], "1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1")):
        os.symlink(target, _inside(root, f"/dev/{name}"))
    os.symlink("/proc/self/fd/2", _inside(root, "/dev/stderr"))
    for path in spec["writable"]:
        _bind(root, path, writable=True)
    os.makedirs(_inside(root, "/proc"), exist_ok=True)
    _mount("proc", _inside(root, "/proc"), "proc", MS_NOSUID | MS_NODEV)
    for path in hidden:  # make the hiding tmpfs read-only once the sandbox is bound inside it
        _mount(None, _inside(root, path), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack("16sH14x", b"lo", 0))[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _become_learner(spec: dict[str, Any]) -> None:
    """Limits, then the unprivileged user (last: lowering limits needs no privilege, raising does)."""
    for name, value in spec["limits"].items():
        kind = getattr(resource, name)
        resource.setrlimit(kind, (value, value))
    uid = spec.get("uid")
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    os.umask(0o022)


def _exec_command(spec: dict[str, Any]) -> None:
    """In the child: become the learner and replace this process with the command.

    With ``call`` (``[module, function]``, only from ``grading.forkserver``'s warm process) the command
    is that function of a module this process has already imported, called with ``argv``: nothing is
    imported here, so nothing in the sandbox can be.
    """
    try:
        _become_learner(spec)
        os.chdir(spec["cwd"])
        if spec.get("call"):
            module, function = spec["call"]
            target = getattr(sys.modules[module], function)
            # as execve would: a process whose user changed is left non-dumpable (its /proc files root's)
            _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl dumpable")
            os.environ.clear()
            os.environ.update(spec["env"])
            code = 1
            try:
                code = int(target(spec["argv"]) or 0)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.execve(spec["argv"][0], spec["argv"], spec["env"])
    except BaseException as error:  # noqa: BLE001 - report anything, then die with the setup code
        print(f"sandbox: cannot start {spec.get('call') or spec['argv'][0]}: {error}", file=sys.stderr, flush=True)
    os._exit(SETUP_FAILED)


def _wait_status(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


def _init(spec: dict[str, Any], root: str, report_fd: int) -> None:
    """PID 1 of the namespace: set up the root, start the command, reap, end with it."""
    try:
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")
        _check(_libc.unshare(CLONE_NEWNS), "unshare mount namespace")  # the parent keeps the host's mounts
        _build_root(spec, root)
        os.chroot(root)
        os.chdir("/")
        _loopback_up()
        _check(_libc.sethostname(b"sandbox", 7), "sethostname")
    except BaseException as error:  # noqa: BLE001
        os.write(report_fd, json.dumps({"setup_error": str(error)}).encode())
        os._exit(SETUP_FAILED)
    os.write(report_fd, b"{}")
    os.close(report_fd)
    child = os.fork()
    if child == 0:
        _exec_command(spec)
    code = SETUP_FAILED
    while True:  # reap orphans too; leave when the command is gone
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid == child:
            code = _wait_status(status)
            break
    os._exit(code if code >= 0 else 128 - code)


def _namespaced(spec: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Run the command in the namespaces this process just entered; (exit code, protections)."""
    # an empty folder of the grader's private one (removed with it, even when this process is killed):
    # it stays empty here, since the new root is mounted on it in the child's own mount namespace
    root = spec["root"]
    read_end, write_end = os.pipe()
    pid = os.fork()  # the first child is PID 1 of the new PID namespace
    if pid == 0:
        os.close(read_end)
        _init(spec, root, write_end)
    os.close(write_end)
    report = json.loads(os.read(read_end, 65536) or b'{"setup_error": "the sandbox init died"}')
    os.close(read_end)
    if "setup_error" in report:  # the caller may retry without namespaces (this process is in them now)
        os.waitpid(pid, 0)
        Path(spec["report"]).write_text(json.dumps(report), encoding="utf-8")
        return SETUP_FAILED, report
    protections = {
        "namespaces": "mount, pid, network (own loopback only), ipc, uts",
        "filesystem": "new root: system, Python and course read-only; only the sandbox writable",
        "processes": "all killed when the run ends (own PID namespace)",
    }
    _report(spec, protections)
    _, status = os.waitpid(pid, 0)
    return _wait_status(status), protections


def _report(spec: dict[str, Any], protections: dict[str, Any]) -> None:
    limits = ", ".join(f"{name.removeprefix('RLIMIT_').lower()}={value}" for name, value in spec["limits"].items())
    user = spec.get("uid") if spec.get("uid") is not None and os.geteuid() == 0 else None
    protections = {
        **protections,
        "user": f"unprivileged uid {user}" if user is not None else "same user as the grader",
        "limits": limits,
    }
    Path(spec["report"]).write_text(json.dumps(protections), encoding="utf-8")


def _others_can_use(path: str) -> bool:
    """True if a user without privileges can reach ``path`` (every folder above it searchable)."""
    path = os.path.realpath(path)
    folders = [path] + [os.path.dirname(path)]
    while folders[-1] != "/":
        folders.append(os.path.dirname(folders[-1]))
    return all(os.stat(folder).st_mode & stat.S_IXOTH for folder in folders)


def _plain(spec: dict[str, Any]) -> int:
    """Run the command with limits (and its own user, if set) but no namespaces."""
    pid = os.fork()
    if pid == 0:
        _exec_command(spec)
    _, status = os.waitpid(pid, 0)
    return _wait_status(status)


def main(argv: list[str]) -> int:
    """Run the command of the spec; the exit code is the command's (125: the sandbox failed)."""
    return run(json.loads(argv[1]))


def run(spec: dict[str, Any]) -> int:
    """Run the command of ``spec`` in this process's new namespaces (or with limits only); its exit code.

    Call it in a process of its own: it enters namespaces for good and dies with its parent.
    """
    parent = os.getppid()
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")  # the grader dies, we die
    if os.getppid() != parent:
        return SETUP_FAILED
    reason = "switched off"
    if spec.get("namespaces", True):
        try:
            _check(_libc.unshare(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
        except OSError as error:
            reason = f"unavailable: {error}"
        else:
            code, _ = _namespaced(spec)
            return code if code >= 0 else 128 - code
    if not all(
        _others_can_use(path) for path in (sys.executable if spec.get("call") else spec["argv"][0], spec["cwd"])
    ):
        spec["uid"] = None  # e.g. Python installed under /root: only a private root lets another user run it
    _report(
        spec,
        {
            "namespaces": f"none ({reason})",
            "filesystem": "no private root: the command sees the machine as its user does",
            "processes": "own process group and user killed when the run ends",
        },
    )
    code = _plain(spec)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
