"""``make site``: the self-study site of the solved course, built with MkDocs + mkdocs-jupyter.

The pages are generated, never written by hand: one page per module present (``MODULE_IDS`` with
a solution notebook in ``solutions/``, shown with its committed outputs and plots), a landing page
listing all seven modules from the README's module table, the datasheet, and the grading contract
for instructors (the README's "Grading (instructors)" section). A solution whose outputs are
stale (a code cell never executed) is executed into ``build/site-exec`` first. ``mkdocs.yml``
holds the theme and plugins; this module adds the navigation and builds ``build/site``.
Adding a module (its id in ``MODULE_IDS``, its solution notebook) adds its page: no code here names one.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grading.paths import REPO_ROOT, SOLUTIONS_DIR
from mlops_kit.course import MODULE_IDS

MKDOCS_YML = REPO_ROOT / "mkdocs.yml"
README = REPO_ROOT / "README.md"
DATASHEET = REPO_ROOT / "datasets" / "DATASHEET.md"
SITE_DIR = REPO_ROOT / "build" / "site"
SOURCE_DIR = REPO_ROOT / "build" / "site-src"
EXEC_DIR = REPO_ROOT / "build" / "site-exec"
GRADING_SECTION = "Grading (instructors)"

# Links that may leave the site: the upstream projects' own documentation (and the data's licence).
ALLOWED_EXTERNAL_HOSTS: frozenset[str] = frozenset(
    {
        "docs.astral.sh",  # uv
        "creativecommons.org",  # the datasheet's licence (CC0)
        "mlflow.org",
        "docs.evidentlyai.com",
        "pandera.readthedocs.io",
        "scikit-learn.org",
        "fastapi.tiangolo.com",
        "jupyter.org",
        "docs.pytest.org",
        "papermill.readthedocs.io",
    }
)


@dataclass(frozen=True)
class ModuleEntry:
    """One row of the course outline: its number, title, and the page when the module is present."""

    number: int
    title: str
    module_id: str | None
    page: str | None


class SiteError(RuntimeError):
    """The site cannot be built (missing input, a stale notebook that fails, MkDocs' own error)."""


def module_titles(readme: Path = README) -> dict[int, str]:
    """Module number → title, from the README's module table (rows ``| N | title | ...``)."""
    titles: dict[int, str] = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|", line)
        if match:
            titles.setdefault(int(match.group(1)), match.group(2))
    if not titles:
        raise SiteError(f"{readme}: no module table (rows '| N | title | ...') to build the landing page from")
    return titles


def present_modules(solutions: Path = SOLUTIONS_DIR) -> list[str]:
    """Module ids of the course whose solution notebook exists, in course order."""
    return [mid for mid in MODULE_IDS if (solutions / f"{mid}.ipynb").is_file()]


def course_outline(readme: Path = README, solutions: Path = SOLUTIONS_DIR) -> list[ModuleEntry]:
    """Every module of the README's table, linked to its page when its notebook is present."""
    present = set(present_modules(solutions))
    entries = []
    for number, title in sorted(module_titles(readme).items()):
        mid = MODULE_IDS[number - 1] if number <= len(MODULE_IDS) else None
        page = f"modules/{mid}.ipynb" if mid in present else None
        entries.append(ModuleEntry(number, title, mid if page else None, page))
    return entries


def is_stale(notebook: Path) -> bool:
    """True when a code cell of ``notebook`` was never executed (its outputs cannot be shown)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return any(cell["cell_type"] == "code" and cell.get("execution_count") is None for cell in cells)


def readme_section(title: str, readme: Path = README) -> str:
    """The README's ``## title`` section (with its sub-sections), without its heading."""
    text = readme.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    if not match:
        raise SiteError(f"{readme}: no section '## {title}'")
    return match.group(1).strip() + "\n"


def _repo_links_to_code(markdown: str) -> str:
    """Relative links into the repository become code spans: the site holds no repository files."""
    return re.sub(r"\[([^\]]+)\]\((?!https?://|#)([^)]+)\)", r"\1 (`\2`)", markdown)


def landing_page(outline: list[ModuleEntry]) -> str:
    """The landing page's Markdown: what the course teaches, the modules, how to start."""
    intro = README.read_text(encoding="utf-8").split("\n## ", 1)[0]
    intro = "\n".join(line for line in intro.splitlines()[1:] if not line.startswith("|")).strip()
    rows = []
    for entry in outline:
        title = f"[{entry.title}]({entry.page})" if entry.page else entry.title
        rows.append(f"| {entry.number} | {title} | {'solved, with outputs' if entry.page else 'coming later'} |")
    return "\n".join(
        [
            "# MLOps in Seven Projects",
            "",
            intro,
            "",
            "## The modules",
            "",
            "Each page is the module's **solved** notebook with the outputs and plots of a real run on the",
            "shipped data. Learners get the same notebooks with the solutions taken out.",
            "",
            "| # | module | page |",
            "|---|---|---|",
            *rows,
            "",
            "## How to start",
            "",
            "Read a module here first, then do it yourself: clone the course repository and run",
            "",
            "```bash",
            "make lab     # sets up the environment, creates workspace/ with your notebooks, opens JupyterLab",
            "make grade   # grades your workspace on a data variant you have not seen",
            "```",
            "",
            "Open `01_data_validation.ipynb` first. The data are described in the [datasheet](datasheet.md);",
            "instructors find how grading works in the [grading contract](grading.md).",
            "",
        ]
    )


def write_sources(source_dir: Path = SOURCE_DIR, exec_dir: Path = EXEC_DIR) -> list[ModuleEntry]:
    """Write the site's pages into ``source_dir`` (emptied first); stale notebooks are executed first."""
    outline = course_outline()
    if source_dir.exists():
        shutil.rmtree(source_dir)
    (source_dir / "modules").mkdir(parents=True)
    stale = [mid for mid in present_modules() if is_stale(SOLUTIONS_DIR / f"{mid}.ipynb")]
    if stale:
        from grading.run import run_course

        outcomes = run_course(SOLUTIONS_DIR, exec_dir, only=stale, progress_bar=False)
        failed = [name for name, outcome in outcomes.items() if not outcome.ok]
        if failed:
            raise SiteError(f"stale solution notebooks failed to execute: {', '.join(failed)} (see {exec_dir})")
    for entry in outline:
        if entry.module_id:
            source = (exec_dir if entry.module_id in stale else SOLUTIONS_DIR) / f"{entry.module_id}.ipynb"
            shutil.copyfile(source, source_dir / "modules" / f"{entry.module_id}.ipynb")
    (source_dir / "index.md").write_text(landing_page(outline), encoding="utf-8")
    (source_dir / "datasheet.md").write_text(_repo_links_to_code(DATASHEET.read_text(encoding="utf-8")), "utf-8")
    contract = readme_section(GRADING_SECTION)
    (source_dir / "grading.md").write_text(f"# Grading contract (instructors)\n\n{contract}", encoding="utf-8")
    return outline


def navigation(outline: list[ModuleEntry]) -> list[dict[str, object]]:
    """MkDocs ``nav``: home, the modules present, the datasheet, the grading contract."""
    modules = [{f"{entry.number}. {entry.title}": entry.page} for entry in outline if entry.page]
    return [
        {"Home": "index.md"},
        {"Modules": modules},
        {"Datasheet": "datasheet.md"},
        {"Grading contract": "grading.md"},
    ]


def build_site(site_dir: Path = SITE_DIR, source_dir: Path = SOURCE_DIR) -> float:
    """Build the site from nothing into ``site_dir``; returns the seconds it took."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    started = time.perf_counter()
    outline = write_sources(source_dir)
    if site_dir.exists():
        shutil.rmtree(site_dir)
    try:
        config = load_config(str(MKDOCS_YML), docs_dir=str(source_dir), site_dir=str(site_dir), nav=navigation(outline))
        build(config)
    except MkDocsException as error:
        raise SiteError(f"mkdocs: {error}") from error
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """``python -m grading.site [--out DIR]``: build the site and say where it is and how long it took."""
    parser = argparse.ArgumentParser(prog="python -m grading.site", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SITE_DIR)
    args = parser.parse_args(argv)
    try:
        seconds = build_site(args.out.resolve())
    except (SiteError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"site: {args.out}/index.html ({len(present_modules())} module pages) built in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
