"""The self-study site (``make site``) built once per session and read in a real browser (headless Chromium).

Every page opens with no failed request, each module page shows all of its notebook's plots,
every internal link answers, no link leaves the site except to upstream projects' docs, and the
search finds a module-1 term. Screenshots for a person go to ``build/site-shots/``.
"""

from __future__ import annotations

import json
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser_support import CHROMIUM_ENV, chromium, chromium_path, serve_directory

from grading.paths import NOTEBOOKS_DIR, REPO_ROOT, SOLUTIONS_DIR
from grading.site import ALLOWED_EXTERNAL_HOSTS, build_site, course_outline, is_stale, present_modules
from mlops_kit.course import MODULE_IDS, module_id

pytestmark = pytest.mark.xdist_group("site")  # one worker builds the site once and holds the browser
SHOTS_DIR = REPO_ROOT / "build" / "site-shots"
SEARCH_TERM = "quarantine"  # module 1's subject: rows it sets aside with their reasons


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None and tag in ("a", "link", "img", "script"):
                self.links.append(value)


ABORTED = "net::ERR_ABORTED"
"""Chromium's error for a request it cancelled itself (navigation away, a worker torn down)."""


def page_links(page: Path) -> list[str]:
    """Every href/src of a, link, img and script elements of an HTML file."""
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.links


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built from nothing once for this file (the build time is printed)."""
    root = tmp_path_factory.mktemp("site")
    seconds = build_site(root / "site", root / "src")
    print(f"site built in {seconds:.1f} s")
    return root / "site"


@pytest.fixture(scope="module")
def served(site: Path):
    with serve_directory(site) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def _pages(site: Path) -> list[str]:
    return sorted(str(path.relative_to(site)) for path in site.rglob("*.html"))


def test_the_site_has_a_page_per_module_present_and_the_course_pages(site: Path) -> None:
    pages = set(_pages(site))
    expected = {f"modules/{mid}.html" for mid in present_modules()}
    assert expected and expected <= pages, f"module pages missing: {sorted(expected - pages)}"
    assert {"index.html", "datasheet.html", "grading.html"} <= pages
    assert (site / "search" / "search_index.json").is_file(), "no search index"
    landing = (site / "index.html").read_text(encoding="utf-8")
    outline = course_outline()
    assert len(outline) == 7, "the landing page lists the seven modules of the README's table"
    for entry in outline:
        assert entry.title.replace("&", "&amp;") in landing, f"landing page does not list module {entry.number}"
        linked = f'href="modules/{entry.module_id}.html"' in landing if entry.module_id else False
        assert linked == (entry.module_id in present_modules()), f"module {entry.number}: linked={linked}"
    assert "Grading contract" in (site / "grading.html").read_text(encoding="utf-8")
    assert "isolation" in (site / "grading.html").read_text(encoding="utf-8").lower()


def test_no_link_leaves_the_site_except_to_upstream_docs_and_every_local_link_exists(site: Path) -> None:
    problems = []
    for name in _pages(site):
        for link in page_links(site / name):
            parsed = urllib.parse.urlsplit(link)
            if parsed.scheme in ("http", "https"):
                if parsed.hostname not in ALLOWED_EXTERNAL_HOSTS:
                    problems.append(f"{name}: external link {link}")
            elif parsed.scheme == "data" or not parsed.path:
                continue  # inline image, same-page anchor, or the notebook template's empty MathJax src
            elif parsed.scheme:
                problems.append(f"{name}: link with scheme {parsed.scheme}: {link}")
            else:
                path = urllib.parse.unquote(parsed.path)
                # 404.html links from the site's root (a server shows it at any depth)
                target = site / path.lstrip("/") if path.startswith("/") else (site / name).parent / path
                if target.is_dir():
                    target = target / "index.html"
                if not target.resolve().is_file():
                    problems.append(f"{name}: broken link {link}")
    assert not problems, "\n".join(problems[:20])


def _image_outputs(notebook: Path) -> int:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum(
        1 for cell in cells for out in cell.get("outputs", []) if {"image/png", "image/jpeg"} & set(out.get("data", {}))
    )


def test_every_page_opens_and_every_internal_link_answers(site: Path, served: str, browser) -> None:
    page = browser.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    # a request the browser itself cancels (the search worker's script when the test moves to the next page)
    # is not a broken link; a missing file answers 404, counted above
    page.on("requestfailed", lambda r: None if r.failure == ABORTED else failed.append(f"failed {r.url}: {r.failure}"))
    internal: set[str] = set()
    for name in _pages(site):
        if name == "404.html":
            continue
        response = page.goto(f"{served}/{name}", wait_until="load")
        assert response is not None and response.status == 200, f"{name}: {response and response.status}"
        assert page.title(), f"{name} has no title"
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        internal.update(h.split("#")[0] for h in hrefs if h.startswith(served))
    assert not failed, f"requests that failed while opening the pages: {failed[:10]}"
    assert len(internal) >= len(_pages(site)) - 1, f"the pages link to only {sorted(internal)}"
    broken = [url for url in sorted(internal) if page.request.get(url).status != 200]
    assert not broken, f"internal links that do not answer 200: {broken}"
    page.close()


@pytest.mark.parametrize("number", range(1, len(MODULE_IDS) + 1))
def test_module_page_shows_its_plots(number: int, served: str, browser) -> None:
    mid = module_id(number)
    notebook = SOLUTIONS_DIR / f"{mid}.ipynb"
    if not notebook.is_file():
        pytest.fail(f"module {mid} is in MODULE_IDS but has no solution notebook {notebook}")
    expected = _image_outputs(notebook)
    page = browser.new_page()
    page.goto(f"{served}/modules/{mid}.html", wait_until="load")
    sizes = page.eval_on_selector_all(
        ".jupyter-wrapper .jp-RenderedImage img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(sizes) == expected, f"{mid}: {len(sizes)} images on the page, the notebook has {expected} plots"
    assert all(done and width > 0 and height > 0 for done, width, height in sizes), f"{mid}: not rendered {sizes}"
    if number == 1:
        SHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.locator(
            ".jupyter-wrapper .jp-RenderedImage img"
        ).first.scroll_into_view_if_needed()  # the shot shows a plot
        # scrolling swaps the header's site title for the page title with a CSS transition: shoot after it
        page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
        page.screenshot(path=str(SHOTS_DIR / f"{mid}.png"))
    page.close()


def test_search_finds_a_module_one_term_and_the_landing_page_screenshot(served: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{served}/index.html", wait_until="load")
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS_DIR / "landing.png"), full_page=True)
    page.locator("input.md-search__input").click(timeout=10_000)
    page.keyboard.type(SEARCH_TERM)
    results = page.locator(".md-search-result__item a")
    results.first.wait_for(timeout=15_000)
    hrefs = results.evaluate_all("els => els.map(e => e.href)")
    assert any(f"modules/{module_id(1)}.html" in href for href in hrefs), f"search for {SEARCH_TERM!r}: {hrefs}"
    page.close()
    assert (SHOTS_DIR / "landing.png").stat().st_size > 10_000


def test_without_a_browser_the_browser_tests_fail_saying_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        chromium_path()
    monkeypatch.delenv(CHROMIUM_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="no Chromium for the browser tests"):
        chromium_path()


def test_the_outline_links_exactly_the_modules_whose_solution_is_present(tmp_path: Path) -> None:
    """A module gets its page by having a solution notebook: no code names a module."""
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    first = f"{module_id(1)}.ipynb"
    (solutions / first).write_bytes((SOLUTIONS_DIR / first).read_bytes())
    outline = course_outline(solutions=solutions)
    assert [entry.number for entry in outline if entry.page] == [1]
    assert [entry.number for entry in course_outline() if entry.page] == list(range(1, len(present_modules()) + 1))


def test_stale_notebooks_are_told_from_executed_ones() -> None:
    """make site executes a notebook whose code cells never ran (a released one) and shows the others as they are."""
    assert not any(is_stale(SOLUTIONS_DIR / f"{mid}.ipynb") for mid in present_modules())
    assert all(is_stale(NOTEBOOKS_DIR / f"{mid}.ipynb") for mid in present_modules())
