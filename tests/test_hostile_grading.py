"""Adversarial submissions: grading one must cost points where the attack is cheating, never
crash the grader, and leave everything outside the learner's sandbox as it was.

Each test grades a real notebook in a real sandbox (papermill kernel, namespaces when the
machine allows them). The attacks run in a cell the learner added to the solved notebook, so
the module still earns its points unless the attack is itself cheating.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grading.forkserver import SOCKET_ENV, ForkServer
from grading.grade import grade_submission
from grading.paths import ARTIFACT_TESTS_DIR, REPO_ROOT
from grading.sandbox import Limits
from grading.secret import GradingSecret
from grading.synthetic_cohort import REFERENCE_ANSWERS, edited_solution, processes_with
from mlops_kit.course import module_id

pytestmark = pytest.mark.slow
MODULE1 = module_id(1)
SECRET = GradingSecret("hostile-test-secret-5f1c", "test")


def _entry(card: dict[str, Any]) -> dict[str, Any]:
    return card["modules"][MODULE1]


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Path → (size, mtime_ns) of every file under ``folders``: what must not change."""
    state = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and ".venv" not in path.parts and "__pycache__" not in path.parts:
                stat = path.stat()
                state[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return state


ESCAPE_ATTACK = """
import glob, json, os, socket, subprocess, sys
found = {{}}
# 1. get the answers: a ledger anywhere, the secret, the grader's private folders
found["ledgers"] = []
for top in ("/tmp", "/root", "/home", "/work", "/var", "/srv", "/opt"):
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in (".venv", ".git", "node_modules")]
        found["ledgers"] += [os.path.join(folder, f) for f in files if f in ("defects.csv", "drift.csv")]
found["variant_dirs"] = glob.glob("/tmp/grading-variants-*")
found["secret_in_env"] = any("hostile-test-secret" in v for v in os.environ.values()) or "COURSE_GRADING_SECRET" in os.environ
found["secret_in_proc"] = []
for pid in os.listdir("/proc"):
    try:
        if b"hostile-test-secret" in open(f"/proc/{{pid}}/environ", "rb").read():
            found["secret_in_proc"].append(pid)
    except OSError:
        pass
# 2. write outside the sandbox
found["written"] = []
for target in {targets!r}:
    try:
        with open(target, "w") as handle:
            handle.write("pwned")
        found["written"].append(target)
    except OSError:
        pass
# 3. outlive the turn: a new session and a double-forked daemon
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{marker}"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "{marker}"])
    os._exit(0)
# 4. the network: the grader's loopback service, the outside world; our own loopback must work
found["reached"] = []
for address in [("127.0.0.1", {port}), ("1.1.1.1", 53)]:
    try:
        socket.create_connection(address, timeout=2).close()
        found["reached"].append(list(address))
    except OSError:
        pass
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
socket.create_connection(server.getsockname(), timeout=2).close()
found["own_loopback"] = True
# 5. make the grader run our code: modules its checks might import, links to its files
open("pandas.py", "w").write("open({import_marker!r}, 'w').write('imported')\\n")
os.makedirs(os.path.join(ARTIFACTS_DIR, {MODULE1!r}), exist_ok=True)
open(os.path.join(ARTIFACTS_DIR, "conftest.py"), "w").write("open({import_marker!r}, 'w').write('imported')\\n")
os.symlink("/etc/hostname", os.path.join(ARTIFACTS_DIR, "stolen_link"))
# 6. the grader's fork server (warm grading): ask it to run something outside the sandbox
found["fork_server"] = None
try:
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(5)
    client.connect({fork_server!r})
    client.sendall(json.dumps({{"kind": "checks", "argv": ["--version"], "cwd": "/", "env": {{}}, "log": {targets[0]!r}}}).encode() + b"\\n")
    found["fork_server"] = client.recv(100).decode() or "connected"
except OSError as error:
    pass
# 7. the secret anywhere in this kernel's own memory (a forked kernel shares the fork server's image)
found["secret_in_memory"] = 0
prefix, tail = b"hostile-test-secret", [ord(c) for c in "c1f5-"][::-1]
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
    for line in maps:
        span, perms = line.split()[:2]
        start, end = (int(x, 16) for x in span.split("-"))
        if perms[0] != "r" or end - start > 64 * 1024 * 1024 or "[v" in line:
            continue
        try:
            mem.seek(start)
            block = mem.read(end - start)
        except (OSError, ValueError, OverflowError):
            continue
        at = block.find(prefix)
        while at >= 0:
            following = block[at + len(prefix): at + len(prefix) + len(tail)]
            found["secret_in_memory"] += list(following) == tail
            at = block.find(prefix, at + 1)
json.dump(found, open("attack.json", "w"))
"""


@pytest.fixture(scope="module", params=["new-python", "fork-server"])
def escape(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Grade a solved notebook whose added cell tries every escape; return what it saw and what it left.

    Twice: each run a new Python, and forked from a fork server (``grading.forkserver``) whose socket
    the attack knows.
    """
    tmp = tmp_path_factory.mktemp("escape")
    server = request.getfixturevalue("fork_server") if request.param == "fork-server" else None
    other_learner = tmp / "other-learner"
    other_learner.mkdir()
    (other_learner / "work.txt").write_text("mine")
    marker = f"survivor-{os.getpid()}-{tmp.name}"
    import_marker = str(tmp / "grader-imported-learner-code")
    out = tmp / "out"
    token = f"pwned-{uuid.uuid4().hex[:12]}"  # unique per run: a file left by an earlier run cannot fail this one
    targets = [
        str(ARTIFACT_TESTS_DIR / f"{token}.py"),
        str(REPO_ROOT / "notebooks" / f"{token}.ipynb"),
        str(out / "scorecard.json"),
        str(other_learner / "work.txt"),
        str(Path.home() / token),
        str(tmp / token),
        f"/etc/{token}",
    ]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    connections: list[Any] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connections.append(listener.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    attack = ESCAPE_ATTACK.format(
        targets=targets,
        marker=marker,
        port=listener.getsockname()[1],
        import_marker=import_marker,
        MODULE1=MODULE1,
        fork_server=str(server.socket_path) if server else "/nonexistent",
    )
    submission = edited_solution(tmp / "submission", MODULE1, added=attack)
    course_before = _snapshot(REPO_ROOT / "grading", REPO_ROOT / "notebooks", REPO_ROOT / "mlops_kit")
    result = grade_submission(
        submission, 6, out, cell_timeout=120, secret=SECRET, hidden=(other_learner,), warm=server or False
    )
    stop.set()
    thread.join()
    listener.close()
    sandbox = out / "sandbox" / MODULE1
    attack_path = sandbox / "attack.json"
    return {
        "card": result.card,
        "seen": json.loads(attack_path.read_text()) if attack_path.is_file() else None,
        "targets": targets,
        "connections": connections,
        "survivors": processes_with(marker),
        "imported": Path(import_marker).exists(),
        "course_changed": course_before
        != _snapshot(REPO_ROOT / "grading", REPO_ROOT / "notebooks", REPO_ROOT / "mlops_kit"),
        "other_learner": (other_learner / "work.txt").read_text(),
        "out": out,
    }


def test_the_escape_attempts_ran_and_the_solved_work_still_scores(escape: dict[str, Any]) -> None:
    entry = _entry(escape["card"])
    assert escape["seen"] is not None, f"the attack cell did not run: {entry['execution']}"
    assert entry["execution"]["status"] == "ok", entry["execution"]
    assert entry["points"] == entry["max_points"] > 0, [c for c in entry["checks"] if not c["passed"]]


def _require_full_isolation(escape: dict[str, Any]) -> None:
    """Containment needs namespaces and root; elsewhere grading still works (tested) but cannot contain."""
    if escape["card"]["isolation"] != "full":
        pytest.skip(f"this machine gives partial isolation only: {escape['card']['isolation']}")


def test_no_answer_key_or_secret_is_reachable_while_the_notebook_runs(escape: dict[str, Any]) -> None:
    _require_full_isolation(escape)
    seen = escape["seen"]
    public = str(REPO_ROOT / "datasets" / "v0")  # the shipped variant 0's ledger is public, by design
    assert [path for path in seen["ledgers"] if not path.startswith(public)] == [], seen
    assert seen["variant_dirs"] == [], seen
    assert not seen["secret_in_env"] and seen["secret_in_proc"] == []
    assert seen["secret_in_memory"] == 0, "the secret is in the kernel's memory"
    assert seen["fork_server"] is None, f"the sandbox reached the grader's fork server: {seen['fork_server']}"
    scorecard = (escape["out"] / "scorecard.json").read_text() + (escape["out"] / "scorecard.md").read_text()
    assert SECRET.value not in scorecard and escape["card"]["secret"] == SECRET.source


def test_nothing_outside_the_sandbox_was_written(escape: dict[str, Any]) -> None:
    _require_full_isolation(escape)
    assert escape["seen"]["written"] == []
    created = [target for target in escape["targets"] if "scorecard" not in target and "work.txt" not in target]
    assert not any(Path(target).exists() for target in created)
    assert json.loads((escape["out"] / "scorecard.json").read_text())["modules"]  # the grader's, not "pwned"
    assert escape["other_learner"] == "mine" and not escape["course_changed"]


def test_nothing_outlives_the_notebook(escape: dict[str, Any]) -> None:
    _require_full_isolation(escape)
    assert escape["survivors"] == []


def test_only_the_sandbox_own_loopback_is_reachable(escape: dict[str, Any]) -> None:
    _require_full_isolation(escape)
    assert escape["seen"]["reached"] == [] and escape["seen"]["own_loopback"]
    assert escape["connections"] == []


def test_the_grader_never_imports_or_follows_what_the_notebook_left(escape: dict[str, Any]) -> None:
    assert not escape["imported"]
    notes = _entry(escape["card"])["notes"]
    assert any("stolen_link" in note and "outside the sandbox" in note for note in notes), notes
    assert not (escape["out"] / "sandbox" / MODULE1 / "artifacts" / "stolen_link").exists()


def test_the_scorecard_states_the_isolation(escape: dict[str, Any]) -> None:
    card = escape["card"]
    isolation = _entry(card)["isolation"]
    assert card["isolation"] == "full" if os.geteuid() == 0 else card["isolation"].startswith("partial")
    assert "limits" in isolation and "namespaces" in isolation


PRINT_FLOOD = """
for _ in range(100):                      # 100 MB of prints
    print("x" * 1_000_000)
"""

EXHAUST_ATTACK = """
import json, subprocess
try:
    hog = bytearray(6 * 1024 ** 3)        # far above the memory cap
    memory = "allocated"
except MemoryError:
    memory = "refused"
try:
    with open("big.bin", "wb") as handle:  # above the file-size cap
        handle.write(b"0" * (100 * 1024 ** 2))
    disk = "written"
except OSError:
    disk = "refused"
children = []
try:
    for _ in range(500):                  # a fork bomb, politely
        children.append(subprocess.Popen(["sleep", "30"]))
except OSError:
    pass
for child in children:
    child.kill()
json.dump({"memory": memory, "disk": disk, "children": len(children)}, open("exhaust.json", "w"))
"""


def test_a_flood_of_output_leaves_a_small_executed_copy(tmp_path: Path, fork_server: ForkServer) -> None:
    submission = edited_solution(tmp_path / "submission", MODULE1, added=PRINT_FLOOD)
    # pushing 100 MB through the kernel's messages takes a while on a busy machine: a generous cell timeout
    result = grade_submission(submission, 2, tmp_path / "out", cell_timeout=900, secret=SECRET, warm=fork_server)
    entry = _entry(result.card)
    assert entry["execution"]["status"] == "ok", entry["execution"]
    executed = Path(entry["execution"]["output_path"])
    assert 1_000_000 < executed.stat().st_size < 5_000_000, "100 MB of prints: the start of them, not all"
    text = executed.read_text()
    assert "output truncated" in text and "x" * 100_000 in text
    assert entry["points"] == entry["max_points"] > 0
    assert len(result.markdown_path.read_text()) < 50_000


def test_memory_disk_and_processes_are_capped(tmp_path: Path) -> None:
    limits = Limits(file_mb=64, processes=64)
    submission = edited_solution(tmp_path / "submission", MODULE1, added=EXHAUST_ATTACK)
    result = grade_submission(submission, 2, tmp_path / "out", cell_timeout=300, secret=SECRET, limits=limits)
    # the process cap is per user, so the kernel's own messaging can starve too and the run may end in an
    # error (the learner's loss, not the grader's): what matters is that every cap held and grading finished
    assert _entry(result.card)["execution"]["status"] in ("ok", "error")
    sandbox = tmp_path / "out" / "sandbox" / MODULE1
    exhaust = json.loads((sandbox / "exhaust.json").read_text())
    assert exhaust["memory"] == "refused" and exhaust["disk"] == "refused", exhaust
    assert exhaust["children"] < limits.processes, exhaust
    assert (sandbox / "big.bin").stat().st_size <= limits.file_mb * 1024**2


def test_reference_solution_imports_earn_nothing_and_are_flagged(
    tmp_path: Path, fork_server: ForkServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SOCKET_ENV, str(fork_server.socket_path))  # the cohort's jobs fork from the session's server
    cohort = tmp_path / "cohort"
    edited_solution(cohort / "copycat", MODULE1, REFERENCE_ANSWERS)
    from grading.gradebook import grade_cohort

    gradebook = grade_cohort(cohort, 3, tmp_path / "grades", cell_timeout=120, workers=1, secret=SECRET)
    card = json.loads((tmp_path / "grades" / "copycat" / "scorecard.json").read_text())
    entry = _entry(card)
    assert entry["points"] == 0 and entry["max_points"] > 0, [c for c in entry["checks"] if c["points"]]
    withheld = sum(check["max_points"] for check in entry["checks"] if check.get("withheld"))
    assert withheld >= 0.75 * entry["max_points"], "without the flag, imports alone would have scored (almost) all"
    assert len(entry["flags"]) == 4 and all("reference solution" in flag for flag in entry["flags"])
    assert "reference" in gradebook.read_text().splitlines()[1]


def test_a_tampered_locked_cell_of_a_solved_notebook_is_restored_and_flagged(
    tmp_path: Path, fork_server: ForkServer
) -> None:
    sabotage = "print('the artifacts are written elsewhere')"  # run as written, module 1 would leave nothing
    submission = edited_solution(tmp_path / "submission", MODULE1)
    notebook = nbformat.read(submission / f"{MODULE1}.ipynb", as_version=4)
    released = nbformat.read(REPO_ROOT / "notebooks" / f"{MODULE1}.ipynb", as_version=4)
    checksums = {cell.id: cell.metadata.get("course", {}) for cell in released.cells}
    for cell in notebook.cells:
        cell.metadata["course"] = checksums.get(cell.id, {})
        if cell.id == "m01-write":
            cell.source = sabotage
    nbformat.write(notebook, submission / f"{MODULE1}.ipynb")
    card = grade_submission(submission, 4, tmp_path / "out", secret=SECRET, warm=fork_server).card
    entry = _entry(card)
    assert entry["tampered"] and any("m01-write" in note for note in entry["notes"])
    assert entry["points"] == entry["max_points"] > 0
    executed = nbformat.read(Path(entry["execution"]["output_path"]), as_version=4)
    assert sabotage not in [cell.source for cell in executed.cells]


def test_a_grading_run_leaves_no_sandbox_user_and_no_mount_behind(tmp_path: Path, fork_server: ForkServer) -> None:
    submission = edited_solution(
        tmp_path / "submission", MODULE1, added="import os\nos.makedirs('deep/er', exist_ok=True)"
    )
    grade_submission(submission, 1, tmp_path / "out", secret=SECRET, warm=fork_server)
    sandbox = tmp_path / "out" / "sandbox" / MODULE1
    owners = {path.stat().st_uid for path in sandbox.rglob("*")}
    assert owners == {os.geteuid()}, "the sandbox's files go back to the grader"
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()
    shutil.rmtree(tmp_path / "out")  # and the grader can remove all of it


def test_a_submitted_link_or_huge_notebook_is_refused_before_reading(tmp_path: Path) -> None:
    from grading.grade import MAX_SUBMITTED_NOTEBOOK_BYTES, read_submitted
    from grading.notebook_io import NotebookError

    link = tmp_path / MODULE1 / f"{MODULE1}.ipynb"
    link.parent.mkdir()
    link.symlink_to("/etc/hostname")
    with pytest.raises(NotebookError, match="a link, not a notebook"):
        read_submitted(link)
    huge = tmp_path / f"{MODULE1}.ipynb"
    with open(huge, "wb") as handle:
        handle.truncate(MAX_SUBMITTED_NOTEBOOK_BYTES + 1)
    with pytest.raises(NotebookError, match="larger than"):
        read_submitted(huge)
