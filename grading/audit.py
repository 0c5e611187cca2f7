"""``python -m grading audit ARTIFACTS_DIR``: the ML Test Score of what a learner's modules left behind.

The 28 tests of Breck et al.'s rubric (``grading/ml_test_score.json``) are each mapped to the module
artifact that demonstrates them, or marked "not covered by this course" with a sentence saying what a
team would do. The audit reads artifacts only: a module's folder (``NN_name`` with its manifest), each
evidence file checked against the manifest's sha256 and read (JSON keys, list lengths, JSON lines,
a query on the MLflow database). A test scores 1 when the course demonstrates it automatically, 0.5
when by hand, 0 when its module's evidence is missing. Section scores are sums; the final score is the
minimum over the four sections. Output: ``audit.json``, ``audit.html`` and ``audit.png``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import html
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlops_kit.course import MODULE_IDS
from mlops_kit.io import atomic_write_json, atomic_write_text

RUBRIC_FILE = Path(__file__).resolve().parent / "ml_test_score.json"
POINTS = {"automated": 1.0, "manual": 0.5}


class AuditError(ValueError):
    """The artifacts folder or the rubric cannot be read."""


@dataclass
class TestResult:
    """One rubric test: its score and why."""

    id: str
    section: str
    title: str
    points: float
    status: str  # demonstrated | module missing | evidence missing | not covered
    module: int | None = None
    module_id: str | None = None
    kind: str | None = None
    message: str = ""
    evidence: list[str] = field(default_factory=list)


def load_rubric(path: Path = RUBRIC_FILE) -> dict:
    """The rubric: 28 tests, 7 per section, each with a module and its evidence or a not-covered sentence."""
    rubric = json.loads(path.read_text(encoding="utf-8"))
    for test in rubric["tests"]:
        if test["section"] not in rubric["sections"]:
            raise AuditError(f"{path}: {test['id']}: unknown section {test['section']!r}")
        if ("module" in test) == ("not_covered" in test):
            raise AuditError(f"{path}: {test['id']}: give either a module with evidence or a not_covered sentence")
        if "module" in test and (test.get("kind") not in POINTS or not test.get("evidence")):
            raise AuditError(f"{path}: {test['id']}: a covered test needs kind automated|manual and evidence")
    return rubric


def module_folder(artifacts: Path, number: int) -> Path | None:
    """Module ``number``'s artifacts folder: its id from MODULE_IDS, else the one folder ``NN_*`` with a manifest."""
    if number <= len(MODULE_IDS):
        candidate = artifacts / MODULE_IDS[number - 1]
        return candidate if (candidate / "manifest.json").is_file() else None
    found = sorted(p for p in artifacts.glob(f"{number:02d}_*") if (p / "manifest.json").is_file())
    return found[0] if found else None


def _read_manifest(folder: Path) -> dict[str, str]:
    """File name → sha256 from a module's manifest; AuditError naming the file when unreadable."""
    path = folder / "manifest.json"
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        return {str(name): str(entry["sha256"]) for name, entry in files.items()}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AuditError(f"{path}: not a module manifest ({error})") from None


def _dig(value: object, dotted: str) -> bool:
    """True when ``value`` has the dotted path (dict keys, list indexes)."""
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False
    return True


def _has_item(data: object, wanted: dict) -> bool:
    """True when the list at ``wanted['list']`` holds an entry whose ``field`` equals ``value``."""
    entries = data.get(wanted["list"]) if isinstance(data, dict) else None
    return isinstance(entries, list) and any(
        isinstance(entry, dict) and entry.get(wanted["field"]) == wanted["value"] for entry in entries
    )


def _check_file(folder: Path, manifest: dict[str, str], item: dict) -> tuple[bool, str]:
    """One evidence file: listed in the manifest, unchanged since, and readable as the rubric expects."""
    patterns = item["file"] if isinstance(item["file"], list) else [item["file"]]
    names = sorted(name for name in manifest if any(fnmatch.fnmatch(name, pattern) for pattern in patterns))
    if not names:
        return False, f"no file matching {' or '.join(patterns)} in {folder.name}/manifest.json"
    name = names[0]
    path = folder / name
    if not path.is_file():
        return False, f"{folder.name}/{name} is listed in the manifest but missing"
    if hashlib.sha256(path.read_bytes()).hexdigest() != manifest[name]:
        return False, f"{folder.name}/{name} changed after its manifest was written"
    if name.endswith(".json") and ({"keys", "min_items", "item"} & set(item)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            return False, f"{folder.name}/{name}: not JSON ({error})"
        missing = [key for key in item.get("keys", []) if not _dig(data, key)]
        if missing:
            return False, f"{folder.name}/{name}: no {', '.join(missing)}"
        if "item" in item and not _has_item(data, item["item"]):
            wanted = item["item"]
            return (
                False,
                f"{folder.name}/{name}: no entry of {wanted['list']} with {wanted['field']} = {wanted['value']!r}",
            )
        if len(data) < item.get("min_items", 0):
            return False, f"{folder.name}/{name}: {len(data)} entries, needs at least {item['min_items']}"
    elif name.endswith(".jsonl"):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        try:
            [json.loads(line) for line in lines]
        except ValueError as error:
            return False, f"{folder.name}/{name}: a line is not JSON ({error})"
        if not lines:
            return False, f"{folder.name}/{name} is empty"
    elif path.stat().st_size == 0:
        return False, f"{folder.name}/{name} is empty"
    return True, f"{folder.name}/{name}"


def _check_database(artifacts: Path, item: dict) -> tuple[bool, str]:
    """A query on a database the modules share (MLflow's), opened read-only; passes when it counts rows."""
    path = artifacts / item["database"]
    if not path.is_file():
        return False, f"no {item['database']} in the artifacts folder"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            count = connection.execute(item["query"]).fetchone()[0]
    except sqlite3.Error as error:
        return False, f"{item['database']}: {error}"
    return (count > 0, f"{item['database']}: {count} rows for {item['query']!r}")


def audit_test(test: dict, artifacts: Path, titles: dict[int, str]) -> TestResult:
    """Score one rubric test from the artifacts."""
    result = TestResult(test["id"], test["section"], test["title"], 0.0, "not covered")
    if "not_covered" in test:
        result.message = f"not covered by this course. {test['not_covered']}"
        return result
    number = int(test["module"])
    result.module, result.kind = number, test["kind"]
    folder = module_folder(artifacts, number)
    label = f"module {number} ({titles.get(number, 'not in the course yet')})"
    if folder is None:
        result.status = "module missing"
        todo = "run it" if number <= len(MODULE_IDS) else "it is not in this release of the course yet"
        result.message = f"{label} left no artifacts in {artifacts}: {todo} ({test['shows']})"
        return result
    result.module_id = folder.name
    manifest = _read_manifest(folder)
    problems = []
    for item in test["evidence"]:
        ok, what = _check_database(artifacts, item) if "database" in item else _check_file(folder, manifest, item)
        (result.evidence if ok else problems).append(what)
    if problems:
        result.status, result.message = "evidence missing", f"{label}: {'; '.join(problems)}"
    else:
        result.status, result.points = "demonstrated", POINTS[test["kind"]]
        result.message = f"{test['kind']}: {test['shows']}"
    return result


def audit(artifacts: Path, rubric_path: Path = RUBRIC_FILE) -> dict:
    """The audit of an artifacts folder as a JSON-ready dict (tests, section scores, final score, gaps)."""
    from grading.site import module_titles

    if not artifacts.is_dir():
        raise AuditError(f"no artifacts folder {artifacts}")
    rubric = load_rubric(rubric_path)
    titles = module_titles()
    results = [audit_test(test, artifacts, titles) for test in rubric["tests"]]
    sections = {name: sum(r.points for r in results if r.section == name) for name in rubric["sections"]}
    gaps: dict[str, list[str]] = {}
    for r in results:
        if r.status == "module missing":
            gaps.setdefault(f"module {r.module}: {titles.get(r.module, '?')}", []).append(r.id)
    return {
        "rubric": rubric["source"],
        "scoring": rubric["scoring"],
        "artifacts": str(artifacts),
        "sections": sections,
        "section_titles": rubric["sections"],
        "final_score": min(sections.values()),
        "uncovered_by_missing_modules": gaps,
        "tests": [asdict(r) for r in results],
    }


def render_html(report: dict) -> str:
    """The audit as one self-contained HTML page (every value escaped)."""
    e = html.escape
    rows = "\n".join(
        f"<tr class='{e(t['status'].replace(' ', '-'))}'><td>{e(t['id'])}</td><td>{e(t['title'])}</td>"
        f"<td>{e(t['module_id'] or (str(t['module']) if t['module'] else '—'))}</td><td>{t['points']:g}</td>"
        f"<td>{e(t['status'])}</td><td>{e(t['message'])}<br><small>{e(', '.join(t['evidence']))}</small></td></tr>"
        for t in report["tests"]
    )
    sections = "".join(f"<li>{e(name)}: {score:g} / 7</li>" for name, score in report["sections"].items())
    gaps = "".join(
        f"<li>{e(module)} leaves uncovered: {e(', '.join(ids))}</li>"
        for module, ids in report["uncovered_by_missing_modules"].items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ML Test Score audit</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:4px 8px;vertical-align:top}}.demonstrated{{background:#e8f5e9}}.module-missing,.evidence-missing{{background:#fff3e0}}
.not-covered{{background:#eeeeee}}</style></head><body>
<h1>ML Test Score audit: {report["final_score"]:g}</h1>
<p>{e(report["rubric"])}. Scoring: {e(report["scoring"])}.</p>
<p>Artifacts: <code>{e(report["artifacts"])}</code></p>
<ul>{sections}</ul>
<h2>What missing modules leave uncovered</h2><ul>{gaps or "<li>none: every module of the course left its artifacts</li>"}</ul>
<p><img src="audit.png" alt="score per section"></p>
<table><tr><th>test</th><th>what it asks</th><th>module</th><th>points</th><th>status</th><th>evidence</th></tr>
{rows}</table></body></html>
"""


def plot_sections(report: dict, path: Path) -> None:
    """A bar per section (score out of 7) with the final score marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["sections"])
    scores = [report["sections"][name] for name in names]
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.bar(names, scores, color="#3f51b5")
    axes.axhline(report["final_score"], color="#d32f2f", linestyle="--", label=f"final = {report['final_score']:g}")
    axes.set_ylim(0, 7)
    axes.set_ylabel("points (of 7)")
    axes.set_title("ML Test Score per section")
    axes.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_audit(artifacts: Path, out: Path) -> dict:
    """Audit ``artifacts`` and write audit.json, audit.html and audit.png into ``out``."""
    report = audit(artifacts)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "audit.json", report)
    atomic_write_text(out / "audit.html", render_html(report))
    plot_sections(report, out / "audit.png")
    return report
