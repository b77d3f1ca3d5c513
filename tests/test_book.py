"""The book: it builds with warnings as errors, its pages have their figures, every chapter has
its paired notebook, and the built site works in a real browser (tests/browser_check.py).
The chapters' outputs are checked with nbval in tests/test_chapters_nbval.py."""
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
sys.path.insert(0, str(Path(__file__).parent))  # tests/browser_check.py
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("ch*.md"))
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
pytestmark = pytest.mark.slow


def test_there_are_chapters():
    names = [chapter.stem for chapter in CHAPTERS]
    assert "ch01_recurrent_cell" in names and "ch02_bptt" in names


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_paired_notebook_matches_its_chapter(chapter):
    """The .ipynb next to each chapter (opened by Colab, Binder and the download button) holds
    the same cells as the MyST source; `make notebooks` regenerates it."""
    paired = chapter.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} is missing: run `make notebooks`"
    source = [(c.cell_type, c.source) for c in jupytext.read(chapter).cells]
    notebook = nbformat.read(paired, as_version=4)
    assert [(c.cell_type, c.source) for c in notebook.cells] == source, f"{paired.name} is stale: run `make notebooks`"
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    """Build the whole book once, as the README's build command does, into a temporary folder."""
    output = tmp_path_factory.mktemp("book")
    result = subprocess.run(
        [str(BIN / "jupyter-book"), "build", "--all", "-W", "-n", "--keep-going", ".", "--path-output", str(output)],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=1800)
    return result, output / "_build" / "html"


def test_book_builds_without_warnings(built_book):
    result, html = built_book
    log = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    warnings = [line for line in log.splitlines() if "WARNING" in line and "IPKernelApp" not in line]
    assert result.returncode == 0 and not warnings, "\n".join(warnings) or log[-5000:]
    assert (html / "index.html").exists()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_page_has_its_figures_and_no_errors(built_book, chapter):
    _, html = built_book
    page = (html / "book" / f"{chapter.stem}.html").read_text(encoding="utf8")
    assert "Traceback (most recent call last)" not in page
    levels = [int(level) for level in re.findall(r"<h([1-6])[ >]", page.split('<article', 1)[-1])]
    assert levels and levels[0] == 1 and levels.count(1) == 1, f"one title first: {levels}"
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), f"a heading level is skipped: {levels}"
    captions = re.findall(r'<figcaption>', page)
    assert len(captions) >= len([img for img in re.findall(r"<img [^>]*>", page) if "_images/" in img]), \
        "every figure has a caption"
    images = re.findall(r"<img [^>]*>", page)
    figures = [img for img in images if "_images/" in img]
    assert figures, f"{chapter.stem} shows no figure computed in the build"
    for img in figures:
        alt = re.search(r'alt="([^"]*)"', img)
        src = re.search(r'src="([^"]*)"', img).group(1)
        assert alt and alt.group(1).strip() and alt.group(1) not in src, f"figure without real alt text: {img}"
        assert (html / "book" / src).resolve().exists(), f"missing image file {src}"


def test_claims_ledger_links_resolve_and_evidence_is_pasted(built_book):
    """The claims-ledger appendix of the built book: every row of book/claims.yml has its box,
    every link of a box resolves to an id of its target page, glued evidence is pasted from its
    chapter and the summary's counts are the file's (tests/ledger_check.py)."""
    from ledger_check import ledger_page_problems
    from claims import load_claims  # book/_ext/claims.py, on the path through ledger_check

    _, html = built_book
    problems = ledger_page_problems(html, load_claims())
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


# ----------------------------------------------------------------------------
# The built book in a real browser
# ----------------------------------------------------------------------------

SCREENSHOTS = ROOT / "_build" / "browser-test"


@pytest.fixture(scope="module")
def browser_session(built_book):
    """A headless Chromium on the built book, served from 127.0.0.1; any request that would
    leave the machine is aborted and recorded."""
    from browser_check import CHROMIUM, CHROMIUM_ARGS, LocalServer, chromium_missing_reason

    reason = chromium_missing_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    _, html = built_book
    server = LocalServer(html)
    outside = []

    def only_local(route):
        url = route.request.url
        if url.startswith(server.origin) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", only_local)
        yield {"context": context, "origin": server.origin, "html": html, "outside": outside}
        browser.close()
    server.close()


def book_pages(html):
    """Every page of the book a reader can reach: the chapters and the generated index pages."""
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html")
                  if not str(p.relative_to(html)).startswith(("_", "search")))


def test_every_page_loads_cleanly_in_a_browser(browser_session):
    from browser_check import inspect_page

    failures = {}
    for relative in book_pages(browser_session["html"]):
        page = browser_session["context"].new_page()
        problems = inspect_page(page, f"{browser_session['origin']}/{relative}")
        page.close()
        bad = {k: v for k, v in problems.items() if k in ("console", "page_errors", "broken_images", "raw_math") and v}
        if bad:
            failures[relative] = bad
    assert not failures, failures
    assert browser_session["outside"] == [], f"requests that tried to leave the machine: {browser_session['outside']}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_math_is_rendered_and_images_load(browser_session, chapter):
    from browser_check import inspect_page

    page = browser_session["context"].new_page()
    problems = inspect_page(page, f"{browser_session['origin']}/book/{chapter.stem}.html")
    page.close()
    assert problems.get("mathjax_output", 0) > 0, "no math was typeset by MathJax"
    assert problems["raw_math"] == [] and problems["broken_images"] == []
    assert problems["images"] > 0


def test_search_finds_a_term_of_chapter_two(browser_session):
    page = browser_session["context"].new_page()
    page.goto(f"{browser_session['origin']}/search.html?q=truncation", wait_until="load")
    page.wait_for_selector("#search-results ul.search li", timeout=30000)
    links = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
    page.close()
    assert any("ch02_bptt" in link for link in links), links


def test_screenshots_of_the_landing_page_and_a_chapter(browser_session):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, relative in (("landing", "book/intro.html"), ("chapter1", "book/ch01_recurrent_cell.html")):
        page = browser_session["context"].new_page()
        page.goto(f"{browser_session['origin']}/{relative}", wait_until="networkidle")
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        page.close()
        assert path.stat().st_size > 10_000, f"{path} looks empty"
